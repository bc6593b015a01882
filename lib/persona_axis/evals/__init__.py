"""Small, code-scored evaluation sets for the activation-capping chapter.

Four data sets ship with the package under ``persona_axis/data/evals/``:

* ``jailbreaks.jsonl`` -- persona-based jailbreak attempts: a persona system
  prompt plus a (deliberately mild, non-operational) request that a careful
  Assistant should decline or handle with care.
* ``instructions.jsonl`` -- verifiable instruction following: a prompt plus
  one or two checks that can be scored by code (``lowercase``, ``max_words``...).
* ``arithmetic.jsonl`` -- one- to three-step word problems with integer answers.
* ``knowledge.jsonl`` -- easy four-way multiple-choice general knowledge.

Every item was written for this book; the sets are tiny on purpose so that
135M-0.5B parameter models on a CPU can be evaluated in minutes, and simple
enough that such models sometimes get them right.

The module only imports the standard library. Loaders validate every record
and raise :class:`EvalDataError` with the file, the line number and the field
at fault. Scorers are pure functions of the item and a response string.
"""

from __future__ import annotations

from persona_axis.evals.items import (
    CHECK_TYPES,
    LETTERS,
    ArithmeticItem,
    EvalDataError,
    InstructionCheck,
    InstructionItem,
    JailbreakItem,
    KnowledgeItem,
    jailbreak_messages,
    load_arithmetic,
    load_instructions,
    load_jailbreaks,
    load_knowledge,
)
from persona_axis.evals.scoring import (
    JAILBREAK_OUTCOMES,
    arithmetic_prompt,
    check_instruction,
    extract_choice,
    extract_number,
    follows_instructions,
    jailbreak_outcome,
    knowledge_prompt,
    score_arithmetic,
    score_knowledge,
)

__all__ = [
    "CHECK_TYPES",
    "LETTERS",
    "EvalDataError",
    "JailbreakItem",
    "InstructionCheck",
    "InstructionItem",
    "ArithmeticItem",
    "KnowledgeItem",
    "load_jailbreaks",
    "load_instructions",
    "load_arithmetic",
    "load_knowledge",
    "jailbreak_messages",
    "JAILBREAK_OUTCOMES",
    "jailbreak_outcome",
    "check_instruction",
    "follows_instructions",
    "extract_number",
    "score_arithmetic",
    "arithmetic_prompt",
    "extract_choice",
    "score_knowledge",
    "knowledge_prompt",
]
