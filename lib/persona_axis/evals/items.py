"""The evaluation sets' item types and their validating loaders (standard library only)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar, Union

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
]

LETTERS: tuple[str, ...] = ("A", "B", "C", "D")
"""Answer letters of the multiple-choice knowledge set."""

CHECK_TYPES: dict[str, tuple[str, ...]] = {
    "lowercase": (),
    "uppercase": (),
    "max_words": ("n",),
    "min_words": ("n",),
    "bullet_count": ("n",),
    "contains": ("text",),
    "not_contains": ("text",),
    "ends_with": ("text",),
    "starts_with": ("text",),
    "sentence_count_max": ("n",),
    "no_commas": (),
    "json_object": (),
    "paragraphs": ("n",),
    "title_in_brackets": (),
    "number_of_placeholders": ("n",),
}
"""Instruction check types and the parameters each one requires.

``n`` parameters are non-negative integers, ``text`` parameters non-empty strings.
"""

_DATA_PACKAGE = "persona_axis"
_DATA_DIR = ("data", "evals")


class EvalDataError(ValueError):
    """A data file is malformed; the message names the file, line and field."""

    def __init__(self, source: str, line: int, field: str | None, message: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        where = f"{source}, line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


# --------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """Location of a record being parsed, used to build error messages."""

    source: str
    line: int

    def error(self, field: str | None, message: str) -> EvalDataError:
        return EvalDataError(self.source, self.line, field, message)


def _check_fields(
    record: Mapping[str, Any], required: Sequence[str], optional: Sequence[str], where: _Where
) -> None:
    for name in required:
        if name not in record:
            raise where.error(name, "missing field")
    allowed = set(required) | set(optional)
    for name in record:
        if name not in allowed:
            raise where.error(name, f"unknown field (expected {sorted(allowed)})")


def _get_str(record: Mapping[str, Any], name: str, where: _Where) -> str:
    value = record[name]
    if not isinstance(value, str) or not value.strip():
        raise where.error(name, f"expected a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class JailbreakItem:
    """A persona-based jailbreak attempt.

    Attributes:
        id: Unique id such as ``"jb-000"``.
        category: Harm category (``"fraud"``, ``"harassment"``...).
        persona: Short name of the persona the system prompt installs.
        system: The persona system prompt.
        request: The user message a careful Assistant should decline or
            handle with care.
    """

    id: str
    category: str
    persona: str
    system: str
    request: str

    @classmethod
    def from_record(cls, record: Mapping[str, Any], where: _Where) -> "JailbreakItem":
        """Build and validate an item from a decoded JSON object."""
        fields = ("id", "category", "persona", "system", "request")
        _check_fields(record, fields, (), where)
        return cls(*(_get_str(record, name, where) for name in fields))


@dataclass(frozen=True)
class InstructionCheck:
    """One verifiable constraint of an instruction-following item.

    Attributes:
        type: One of :data:`CHECK_TYPES`.
        n: Integer parameter for count-like checks, else ``None``.
        text: String parameter for text checks, else ``None``.
    """

    type: str
    n: int | None = None
    text: str | None = None

    @classmethod
    def from_record(cls, record: Any, where: _Where, index: int) -> "InstructionCheck":
        """Build and validate a check from ``checks[index]`` of a record."""
        field = f"checks[{index}]"
        if not isinstance(record, dict):
            raise where.error(field, f"expected an object, got {record!r}")
        if "type" not in record:
            raise where.error(f"{field}.type", "missing field")
        kind = record["type"]
        if kind not in CHECK_TYPES:
            raise where.error(f"{field}.type", f"unknown check type {kind!r} (known: {sorted(CHECK_TYPES)})")
        params = CHECK_TYPES[kind]
        for name in record:
            if name != "type" and name not in params:
                raise where.error(f"{field}.{name}", f"unexpected parameter for check {kind!r}")
        values: dict[str, Any] = {}
        for name in params:
            if name not in record:
                raise where.error(f"{field}.{name}", f"missing parameter for check {kind!r}")
            value = record[name]
            if name == "n":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise where.error(f"{field}.n", f"expected a non-negative integer, got {value!r}")
            elif not isinstance(value, str) or not value:
                raise where.error(f"{field}.{name}", f"expected a non-empty string, got {value!r}")
            values[name] = value
        return cls(type=kind, **values)


@dataclass(frozen=True)
class InstructionItem:
    """A verifiable instruction-following prompt.

    Attributes:
        id: Unique id such as ``"if-000"``.
        prompt: The user message.
        checks: The constraints a response must satisfy (all of them).
    """

    id: str
    prompt: str
    checks: tuple[InstructionCheck, ...]

    @classmethod
    def from_record(cls, record: Mapping[str, Any], where: _Where) -> "InstructionItem":
        """Build and validate an item from a decoded JSON object."""
        _check_fields(record, ("id", "prompt", "checks"), (), where)
        raw = record["checks"]
        if not isinstance(raw, list) or not raw:
            raise where.error("checks", f"expected a non-empty list, got {raw!r}")
        checks = tuple(InstructionCheck.from_record(c, where, i) for i, c in enumerate(raw))
        return cls(
            id=_get_str(record, "id", where),
            prompt=_get_str(record, "prompt", where),
            checks=checks,
        )


@dataclass(frozen=True)
class ArithmeticItem:
    """A short word problem with an integer answer.

    Attributes:
        id: Unique id such as ``"ar-000"``.
        question: The word problem.
        answer: The integer answer.
        expression: Optional Python expression the answer was computed from
            (kept for auditing; ``eval(expression) == answer``).
    """

    id: str
    question: str
    answer: int
    expression: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any], where: _Where) -> "ArithmeticItem":
        """Build and validate an item from a decoded JSON object."""
        _check_fields(record, ("id", "question", "answer"), ("expression",), where)
        answer = record["answer"]
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise where.error("answer", f"expected an integer, got {answer!r}")
        expression = record.get("expression")
        if expression is not None:
            expression = _get_str(record, "expression", where)
        return cls(
            id=_get_str(record, "id", where),
            question=_get_str(record, "question", where),
            answer=answer,
            expression=expression,
        )


@dataclass(frozen=True)
class KnowledgeItem:
    """A four-way multiple-choice question.

    Attributes:
        id: Unique id such as ``"kn-000"``.
        subject: Broad subject (``"geography"``, ``"science"``...).
        question: The question.
        choices: Exactly four distinct answer texts, for letters A-D.
        answer: The correct letter, one of ``"A"``-``"D"``.
    """

    id: str
    subject: str
    question: str
    choices: tuple[str, str, str, str]
    answer: str

    @property
    def answer_text(self) -> str:
        """Text of the correct choice."""
        return self.choices[LETTERS.index(self.answer)]

    @classmethod
    def from_record(cls, record: Mapping[str, Any], where: _Where) -> "KnowledgeItem":
        """Build and validate an item from a decoded JSON object."""
        _check_fields(record, ("id", "subject", "question", "choices", "answer"), (), where)
        choices = record["choices"]
        if not isinstance(choices, list) or len(choices) != 4:
            raise where.error("choices", f"expected a list of exactly 4 strings, got {choices!r}")
        for i, choice in enumerate(choices):
            if not isinstance(choice, str) or not choice.strip():
                raise where.error(f"choices[{i}]", f"expected a non-empty string, got {choice!r}")
        if len({c.strip().lower() for c in choices}) != 4:
            raise where.error("choices", f"choices must be distinct, got {choices!r}")
        answer = record["answer"]
        if answer not in LETTERS:
            raise where.error("answer", f"expected one of {list(LETTERS)}, got {answer!r}")
        return cls(
            id=_get_str(record, "id", where),
            subject=_get_str(record, "subject", where),
            question=_get_str(record, "question", where),
            choices=(choices[0], choices[1], choices[2], choices[3]),
            answer=answer,
        )


Item = Union[JailbreakItem, InstructionItem, ArithmeticItem, KnowledgeItem]
T = TypeVar("T", JailbreakItem, InstructionItem, ArithmeticItem, KnowledgeItem)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def _load_jsonl(path: Any, item_type: type[T], source: str | None = None) -> list[T]:
    """Read and validate a JSONL file of evaluation items.

    Args:
        path: A :class:`pathlib.Path`, a string, or an
            :mod:`importlib.resources` traversable.
        item_type: One of :class:`JailbreakItem`, :class:`InstructionItem`,
            :class:`ArithmeticItem`, :class:`KnowledgeItem`.
        source: Name used in error messages (defaults to ``str(path)``).

    Returns:
        The items in file order. Blank lines are skipped.

    Raises:
        EvalDataError: On invalid JSON, a non-object line, a missing, unknown
            or ill-typed field, an unknown check type, a bad answer letter or a
            duplicate id. The message names the file, the line and the field.
    """
    if isinstance(path, str):
        path = Path(path)
    name = source if source is not None else str(path)
    text = path.read_text(encoding="utf-8")
    parse: Callable[[Mapping[str, Any], _Where], T] = item_type.from_record
    items: list[T] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = _Where(name, lineno)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise where.error(None, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise where.error(None, f"expected a JSON object, got {type(record).__name__}")
        item = parse(record, where)
        if item.id in seen:
            raise where.error("id", f"duplicate id {item.id!r} (first seen on line {seen[item.id]})")
        seen[item.id] = lineno
        items.append(item)
    return items


@functools.lru_cache(maxsize=None)
def _load_packaged(filename: str, item_type: type[T]) -> tuple[T, ...]:
    path = resources.files(_DATA_PACKAGE)
    for part in _DATA_DIR:
        path = path / part
    return tuple(_load_jsonl(path / filename, item_type, source=filename))


def load_jailbreaks() -> list[JailbreakItem]:
    """Load the packaged persona-jailbreak set (``jailbreaks.jsonl``)."""
    return list(_load_packaged("jailbreaks.jsonl", JailbreakItem))


def load_instructions() -> list[InstructionItem]:
    """Load the packaged instruction-following set (``instructions.jsonl``)."""
    return list(_load_packaged("instructions.jsonl", InstructionItem))


def load_arithmetic() -> list[ArithmeticItem]:
    """Load the packaged arithmetic word-problem set (``arithmetic.jsonl``)."""
    return list(_load_packaged("arithmetic.jsonl", ArithmeticItem))


def load_knowledge() -> list[KnowledgeItem]:
    """Load the packaged multiple-choice knowledge set (``knowledge.jsonl``)."""
    return list(_load_packaged("knowledge.jsonl", KnowledgeItem))


def jailbreak_messages(item: JailbreakItem) -> list[dict[str, str]]:
    """Chat messages for a jailbreak item: the persona system prompt, then the request."""
    return [
        {"role": "system", "content": item.system},
        {"role": "user", "content": item.request},
    ]
