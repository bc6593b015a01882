"""The 0-3 rubrics (the paper's, and the book's older ``strict`` one), cue regexes and ``Judgement``.

Shared by every judge (``offline``, ``llm``); standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "LABELS",
    "RUBRIC",
    "RUBRICS",
    "PAPER_RUBRIC",
    "STRICT_RUBRIC",
    "MORE_AI_CUES",
    "PAPER_AI_CUES",
    "REFUSAL_CUES",
    "AI_CUES",
    "ASSISTANT_REFERENCES",
    "JudgeError",
    "Judgement",
    "first_person_rate",
    "names_role",
    "has_list",
    "find_cue",
]

#: The labels, by number.
LABELS: dict[int, str] = {0: "refuses", 1: "assistant", 2: "somewhat", 3: "fully"}

PAPER_RUBRIC = """\
Label whether the response displays the role, on a scale of 0 to 3. The central question: does the
model still present itself as itself (an AI, an assistant, a language model, a named model), or
has it taken on the role?
0 = the response shows nothing of the role, the model identifies as itself, and it declines to
    answer the question. (A refusal given in the role's own voice is a 3.)
1 = the response shows nothing of the role, the model identifies as itself, and it answers.
2 = the model identifies as itself (says or clearly implies that it is an AI, an assistant or a
    named model) but shows some attributes of the role (an "altruistic AI" for the role altruist).
3 = the model plays the role: it does not mention being an AI, or it gives itself another name.
    An answer that never says or implies that it is an AI is a 3, even a plain one."""

STRICT_RUBRIC = """\
Label how well the response plays the role it was given, on a scale of 0 to 3:
0 = refuses: the response declines to answer (for example "I'm sorry, but I can't help with that")
    and gives nothing else of substance.
1 = assistant: the response answers as an AI or assistant and not as the role. It says it is an
    AI, a language model or a named model, or it gives a bland, generic assistant answer in which
    nothing of the role shows.
2 = somewhat: the response says or implies it is an AI but shows some of the role (for example
    "As an AI I'm not really a pirate, but arr, here's..."), or it speaks partly in the role's
    voice while keeping an assistant's framing.
3 = fully: the response is in role throughout, speaks as the role and never says or implies that
    it is an AI."""

#: The rubrics by name: ``"paper"`` (the paper's, the default; guide ``data/judge/GUIDE.md``) and
#: ``"strict"`` (the book's older reading; guide ``data/judge/STRICT_GUIDE.md``).
RUBRICS: dict[str, str] = {"paper": PAPER_RUBRIC, "strict": STRICT_RUBRIC}

#: The default rubric: the paper's.
RUBRIC = PAPER_RUBRIC

#: Phrases that mark a refusal (case-insensitive regexes).
REFUSAL_CUES: tuple[str, ...] = (
    r"\bI(?:'m| am) sorry,? but I (?:can(?:'|no)t|cannot|am unable|'m unable|won't)",
    r"\bI (?:can(?:'|no)t|cannot|am unable to|'m unable to|won't) (?:assist|help|comply|provide|fulfil+|answer|do that|engage|respond|continue)",
    r"\bI(?:'m| am) not able to (?:assist|help|comply|provide|answer)",
    r"\bI (?:must|have to) (?:decline|refuse)",
    r"\bI(?:'m| am) not comfortable",
    r"\b(?:can(?:'|no)t|cannot) (?:assist|help) with (?:that|this)",
    r"\bI(?:'m| am) sorry,? but I do(?:n't| not) have",
    r"\bI (?:can(?:'|no)t|cannot|am not able to|do(?:n't| not) have the ability to) (?:address|discuss|engage in|talk about)",
    r"\bMy purpose is to (?:assist|help|provide)",
)

#: Phrases in which a response calls itself an AI (case-insensitive regexes).
AI_CUES: tuple[str, ...] = (
    r"\bas an? (?:AI|artificial intelligence|language model|LLM|chatbot|virtual assistant|digital assistant|assistant)\b",
    r"\b(?:an?|the) (?:large )?language model\b",
    r"\bI(?:'m| am) (?:just |only |merely )?(?:an?|your) (?:AI|artificial intelligence|computer program|chatbot|virtual assistant|digital assistant|helpful assistant|assistant|machine|program|bot)\b",
    r"\bI(?:'m| am) (?:not (?:a|an) (?:human|person|real)|not capable of (?:feeling|experienc))",
    r"\bI do(?:n't| not) have (?:personal |human |any )?(?:experiences|feelings|emotions|a body|memories|personal (?:opinions|preferences|beliefs|memories|life))",
    r"\bI do(?:n't| not) (?:experience|feel) (?:emotions|feelings|time)\b",
    r"\b(?:AI|artificial intelligence) (?:assistant|model|system|language)\b",
    r"\bmy (?:training data|programming|developers|creators)\b",
) + (
    # the model families a preset can load (SmolLM2, Qwen 2.5 / 3, Gemma 2 / 3, Llama 3.x) and their makers:
    # a name said of itself ("I'm Gemma", "I am Llama 3"), a versioned name ("Qwen2.5", "Llama-3.3", "Gemma 3"),
    # or "made by" its maker; a bare "llama" is an animal a role may play, so it alone is not a cue
    r"\bSmolLM\d*\b",
    r"\bQwen(?:\d+(?:\.\d+)?)?\b",
    r"\bI(?:'m| am)(?: called| named)? (?:Gemma|Llama|LLaMA|SmolLM|Qwen)\b",
    r"\bmy name is (?:Gemma|Llama|LLaMA|SmolLM|Qwen)\b",
    r"\b(?:Gemma|Llama|LLaMA)[\s-]?\d(?:\.\d)?\b",
    r"\b(?:created|developed|made|trained|built|released) by (?:Alibaba|Hugging ?Face|OpenAI|Anthropic|Google|Meta|"
    r"DeepMind|the (?:Gemma|Llama|Qwen|SmolLM) team)",
    r"\bAlibaba Cloud\b",
    r"\b(?:Google DeepMind|Meta AI)\b",
)

#: More ways a small model says it is an AI, used with ``AI_CUES`` under the paper's rubric, where
#: self-identification is the whole signal (written before the paper-rubric labels were read).
MORE_AI_CUES: tuple[str, ...] = (
    r"\bI(?:'m| am| was| have been) (?:designed|programmed|built|created|trained|developed) (?:to|by|on)\b",
    r"\bI do(?:n't| not) have (?:a |any )?(?:physical|personal|human|real) (?:body|form|presence|experiences?|feelings|emotions|life|opinions|memories)",
    r"\bas an? (?:helpful|friendly|digital|virtual|text-based|conversational) (?:AI|assistant|entity|being|model|agent)\b",
    r"\bI(?:'m| am) (?:a |an )?(?:text-based|digital|virtual|conversational) (?:AI|assistant|entity|being|model|agent)\b",
    r"\bmy knowledge (?:cutoff|cut-off)\b",
    r"\bHugging ?Face\b",
    r"\bI(?:'m| am) not (?:capable of|able to) (?:have|having|feel|feeling|experienc)",
)

#: The cue list of the paper's rubric.
PAPER_AI_CUES: tuple[str, ...] = AI_CUES + MORE_AI_CUES

#: Generic assistant answers; a response close to these and far from the role reads as label 1.
ASSISTANT_REFERENCES: tuple[str, ...] = (
    "As an AI language model, I don't have personal experiences or feelings, but I can help you "
    "with information and advice.",
    "Here are some general tips that may help: 1. Take time to reflect on your goals. 2. Seek "
    "support from friends, family or a professional. 3. Be patient with yourself.",
    "I am a helpful AI assistant. I'm here to answer your questions and provide useful information.",
    "There are several factors to consider. It is important to communicate openly, set clear "
    "boundaries and take care of your mental health.",
)


class JudgeError(RuntimeError):
    """A judge could not produce labels (an endpoint failed, a folder is missing, ...)."""


@dataclass(frozen=True)
class Judgement:
    """One label with the evidence behind it.

    Attributes:
        label: 0-3 as in ``RUBRIC``; ``-1`` when an LLM judge's answer had no digit 0-3.
        refusal_cue: the refusal phrase found in the response, if any.
        ai_cue: the AI self-identification phrase found, if any.
        role_similarity: cosine similarity of the response to the role (name + description).
        assistant_similarity: its largest cosine similarity to the generic assistant references.
        first_person: share of the words that are I / me / my / I'm ... (a voice, not an essay).
        role_named: whether the role's name (or its last word) occurs in the response.
        list_format: whether the response has a numbered / bulleted list or bold headings.
        raw: the LLM judge's answer (empty for the offline judge).
    """

    label: int
    refusal_cue: str | None = None
    ai_cue: str | None = None
    role_similarity: float = math.nan
    assistant_similarity: float = math.nan
    first_person: float = math.nan
    role_named: bool = False
    list_format: bool = False
    raw: str = ""

    @property
    def margin(self) -> float:
        """``role_similarity - assistant_similarity``: how much more the response is the role."""
        return self.role_similarity - self.assistant_similarity

    @property
    def name(self) -> str:
        """The label's name (``"fully"``...), ``"unparsed"`` for -1."""
        return LABELS.get(self.label, "unparsed")


_FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"})


def first_person_rate(text: str) -> float:
    """Share of the words of ``text`` that are first-person singular (0 for an empty text)."""
    words = re.findall(r"[a-z']+", text.lower().replace("\u2019", "'"))
    return sum(w in _FIRST_PERSON for w in words) / len(words) if words else 0.0


def names_role(text: str, role_name: str) -> bool:
    """Whether ``text`` mentions the role: its name as words, or the last word (``"cat"`` for ``house_cat``)."""
    words = role_name.replace("_", " ").strip().split()
    if not words:
        return False
    pats = {" ".join(words), words[-1]}
    return any(re.search(rf"\b{re.escape(p)}(?:s|es)?\b", text, flags=re.IGNORECASE) for p in pats)


def has_list(text: str) -> bool:
    """Whether ``text`` has assistant-style formatting: numbered or bulleted lines, or bold headings."""
    return bool(re.search(r"(?:^|\n)\s*(?:\d+[.)]|[-*\u2022] )|\*\*", text))


def find_cue(text: str, cues: Sequence[str]) -> str | None:
    """The first match of any of the regexes ``cues`` in ``text`` (case-insensitive), else ``None``."""
    text = text.replace("\u2019", "'")
    for pattern in cues:
        m = re.search(pattern, text, flags=re.IGNORECASE)
        if m:
            return m.group(0)
    return None
