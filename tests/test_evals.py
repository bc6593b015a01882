"""Tests for persona_axis.evals: packaged data, validation and scorers."""

from __future__ import annotations

import ast
import json
import operator
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest

from persona_axis import evals
from persona_axis.evals import (
    ArithmeticItem,
    EvalDataError,
    InstructionCheck,
    InstructionItem,
    JailbreakItem,
    KnowledgeItem,
)

# ---------------------------------------------------------------------------
# Packaged data
# ---------------------------------------------------------------------------

LOADERS: dict[str, tuple[Callable[[], Sequence[Any]], str]] = {
    "jailbreaks": (evals.load_jailbreaks, "jb-"),
    "instructions": (evals.load_instructions, "if-"),
    "arithmetic": (evals.load_arithmetic, "ar-"),
    "knowledge": (evals.load_knowledge, "kn-"),
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_loader_returns_enough_items_with_unique_ids(name: str) -> None:
    loader, prefix = LOADERS[name]
    items = loader()
    assert len(items) >= 120
    ids = [item.id for item in items]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(prefix) for i in ids)


def test_loaders_return_fresh_lists() -> None:
    first = evals.load_knowledge()
    first.clear()
    assert len(evals.load_knowledge()) >= 120


def test_jailbreak_categories_are_many_and_balanced() -> None:
    items = evals.load_jailbreaks()
    counts = Counter(item.category for item in items)
    assert len(counts) >= 12
    assert max(counts.values()) - min(counts.values()) <= 2
    assert len({item.request for item in items}) == len(items)
    messages = evals.jailbreak_messages(items[0])
    assert [m["role"] for m in messages] == ["system", "user"]


def test_instruction_items_use_every_check_type() -> None:
    items = evals.load_instructions()
    used = Counter(check.type for item in items for check in item.checks)
    assert set(used) == set(evals.CHECK_TYPES)
    assert all(1 <= len(item.checks) <= 2 for item in items)


_OPS: dict[type, Callable[..., int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.USub: operator.neg,
}


def _safe_eval(node: ast.AST) -> int:
    if isinstance(node, ast.Expression):
        return _safe_eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _safe_eval(node.left), _safe_eval(node.right)
        if isinstance(node.op, ast.FloorDiv):
            assert left % right == 0, "divisions must be exact"
        return int(_OPS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return int(_OPS[type(node.op)](_safe_eval(node.operand)))
    raise AssertionError(f"unexpected expression node {ast.dump(node)}")


def test_arithmetic_answers_match_their_expressions() -> None:
    for item in evals.load_arithmetic():
        assert item.expression is not None, item.id
        assert _safe_eval(ast.parse(item.expression, mode="eval")) == item.answer, item.id


def test_knowledge_answers_are_balanced() -> None:
    items = evals.load_knowledge()
    counts = Counter(item.answer for item in items)
    assert set(counts) == set(evals.LETTERS)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert all(len(item.choices) == 4 for item in items)


def test_packaged_items_are_scorable() -> None:
    for kn in evals.load_knowledge():
        for letter, choice in zip(evals.LETTERS, kn.choices):
            assert evals.extract_choice(choice, kn.choices) == letter, kn.id
            assert evals.extract_choice(f"Answer: {letter}", kn.choices) == letter, kn.id
        assert evals.score_knowledge(kn, f"{kn.answer}) {kn.answer_text}")
    for ar in evals.load_arithmetic():
        assert evals.score_arithmetic(ar, f"Let me work it out.\nAnswer: {ar.answer}"), ar.id
        assert evals.score_arithmetic(ar, f"So the result is {ar.answer:,}."), ar.id


def test_prompts_ask_for_the_answer_format() -> None:
    ar = evals.load_arithmetic()[0]
    assert ar.question in evals.arithmetic_prompt(ar)
    assert "Answer: <number>" in evals.arithmetic_prompt(ar)
    kn = evals.load_knowledge()[0]
    prompt = evals.knowledge_prompt(kn)
    assert kn.question in prompt
    for letter, choice in zip(evals.LETTERS, kn.choices):
        assert f"{letter}) {choice}" in prompt
    assert "Answer: <letter>" in prompt


# ---------------------------------------------------------------------------
# Instruction checks: one passing and one failing response per type
# ---------------------------------------------------------------------------

CHECK_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"type": "lowercase"}, "all quiet here.", "All quiet here."),
    ({"type": "uppercase"}, "GO TEAM GO!", "GO TEAM go!"),
    ({"type": "max_words", "n": 5}, "A fish named Bubbles.", "A fish named Bubbles who swims all day."),
    ({"type": "min_words", "n": 6}, "one two three four five six", "one two three four five"),
    ({"type": "bullet_count", "n": 3}, "Fruits:\n- apple\n* cherry\n- strawberry", "- apple\n- cherry"),
    ({"type": "contains", "text": "giraffe"}, "We saw a tall GIRAFFE.", "We saw a lion."),
    ({"type": "not_contains", "text": "dog"}, "A loyal pet that barks.", "A loyal Dog that barks."),
    ({"type": "ends_with", "text": "The end."}, "The cat slept. The end.  \n", "The end. The cat slept."),
    ({"type": "starts_with", "text": "Dear Grandma"}, "  Dear Grandma, hello!", "Hello Dear Grandma"),
    ({"type": "sentence_count_max", "n": 2}, "Clouds are water. They float!", "One. Two. Three."),
    ({"type": "no_commas"}, "Bread and butter and jam.", "Bread, butter and jam."),
    ({"type": "json_object"}, '```json\n{"name": "Ann", "age": 30}\n```', '["Ann", 30]'),
    (
        {"type": "paragraphs", "n": 2},
        "First part.\n\nSecond part.",
        "Only one paragraph.\nStill the same one.",
    ),
    ({"type": "title_in_brackets"}, "<<Rain Song>>\nDrip drop.", "Rain Song\nDrip drop."),
    (
        {"type": "number_of_placeholders", "n": 2},
        "Come on [date] to [address]!",
        "Come on [date] to my house!",
    ),
]


def _item(*checks: dict[str, Any]) -> InstructionItem:
    record = {"id": "if-test", "prompt": "test", "checks": list(checks)}
    return InstructionItem.from_record(record, evals.items._Where("test", 1))


def test_check_cases_cover_every_type() -> None:
    assert {case[0]["type"] for case in CHECK_CASES} == set(evals.CHECK_TYPES)


@pytest.mark.parametrize("check,good,bad", CHECK_CASES, ids=[c[0]["type"] for c in CHECK_CASES])
def test_check_pass_and_fail(check: dict[str, Any], good: str, bad: str) -> None:
    item = _item(check)
    assert evals.check_instruction(item, good) == {check["type"]: True}
    assert evals.check_instruction(item, bad) == {check["type"]: False}
    assert evals.follows_instructions(item, good)
    assert not evals.follows_instructions(item, bad)


def test_check_details() -> None:
    # json: bare object passes, invalid or fenced non-object fails
    json_item = _item({"type": "json_object"})
    assert evals.follows_instructions(json_item, '{"a": 1}')
    assert not evals.follows_instructions(json_item, 'Here it is: {"a": 1}')
    assert not evals.follows_instructions(json_item, "```json\n[1, 2]\n```")
    # lowercase needs letters; empty responses fail every check
    assert not evals.follows_instructions(_item({"type": "lowercase"}), "123")
    assert not evals.follows_instructions(_item({"type": "no_commas"}), "   ")
    # paragraphs tolerate whitespace-only separator lines
    assert evals.follows_instructions(_item({"type": "paragraphs", "n": 3}), "a\n\nb\n  \nc")
    # ends_with / starts_with are case-insensitive
    assert evals.follows_instructions(
        _item({"type": "ends_with", "text": "Stay cozy!"}), "Wear a hat. stay cozy!"
    )
    # decimals are not sentence ends
    assert evals.follows_instructions(_item({"type": "sentence_count_max", "n": 1}), "It costs 3.50 dollars.")


def test_check_instruction_reports_each_check() -> None:
    item = _item({"type": "lowercase"}, {"type": "max_words", "n": 3})
    assert evals.check_instruction(item, "hello there friend") == {"lowercase": True, "max_words": True}
    assert evals.check_instruction(item, "Hello there my friend") == {"lowercase": False, "max_words": False}
    assert evals.check_instruction(item, "hello there my friend") == {"lowercase": True, "max_words": False}
    assert not evals.follows_instructions(item, "hello there my friend")
    repeated = _item({"type": "contains", "text": "a"}, {"type": "contains", "text": "zz"})
    assert evals.check_instruction(repeated, "a b") == {"contains": True, "contains#2": False}


# ---------------------------------------------------------------------------
# Number and choice extraction
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("42", 42.0),
        ("The answer is 42.", 42.0),
        ("3 + 4 = 7", 7.0),
        ("So the total is **15** apples.", 15.0),
        ("It costs $1,200 in total", 1200.0),
        ("The temperature is -5 degrees", -5.0),
        ("10-3=7", 7.0),
        ("Half of 7 is 3.5", 3.5),
        ("First 12 then 1,234,567", 1234567.0),
        ("Answer: 18\n\nQuestion: Tom has 3 apples and buys 4 more.", 18.0),
        ("Answer: **-12**", -12.0),
        ("Answer: <number>\nAnswer: 9", 9.0),
        ("No numbers here.", None),
        ("", None),
    ],
)
def test_extract_number(text: str, expected: float | None) -> None:
    assert evals.extract_number(text) == expected


def test_score_arithmetic() -> None:
    item = ArithmeticItem(id="ar-x", question="q", answer=1200)
    assert evals.score_arithmetic(item, "They pay 1,200 dollars.")
    assert evals.score_arithmetic(item, "1200.0")
    assert not evals.score_arithmetic(item, "They pay 120 dollars.")
    assert not evals.score_arithmetic(item, "I don't know.")


CHOICES = ("Paris", "Lyon", "Marseille", "Nice")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("B", "B"),
        ("B)", "B"),
        ("(B)", "B"),
        ("B. Lyon", "B"),
        ("**C**", "C"),
        ("D\nBecause it is on the coast.", "D"),
        ("Answer: B", "B"),
        ("The answer is C.", "C"),
        ("I think the answer is (D) Nice", "D"),
        ("Let me think. Paris is the capital.\nAnswer: A", "A"),
        ("The correct option is (C).", "C"),
        ("Answer: (b)", "B"),
        ("answer: d", "D"),
        ("Option B", "B"),
        ("Option A: Paris. Option B: Lyon.", None),
        ("Paris", "A"),
        ("It must be marseille.", "C"),
        ("A city like Paris is the capital.", "A"),
        ("Paris or Lyon, I am not sure.", None),
        ("A city in France.", None),
        ("The answer is Berlin.", None),
        ("I don't know.", None),
        ("", None),
    ],
)
def test_extract_choice(text: str, expected: str | None) -> None:
    assert evals.extract_choice(text, CHOICES) == expected


def test_extract_choice_article_is_not_a_letter() -> None:
    choices = ("A kitten", "A puppy", "A lamb", "A chick")
    assert evals.extract_choice("Answer: A puppy", choices) == "B"
    assert evals.extract_choice("Answer: a puppy", choices) == "B"
    assert evals.extract_choice("Answer: A", choices) == "A"
    assert evals.extract_choice("A puppy is a baby dog.", choices) == "B"


def test_extract_choice_without_choices() -> None:
    assert evals.extract_choice("Answer: D") == "D"
    assert evals.extract_choice("Paris") is None


def test_score_knowledge() -> None:
    item = KnowledgeItem(id="kn-x", subject="geography", question="q", choices=CHOICES, answer="A")
    assert item.answer_text == "Paris"
    assert evals.score_knowledge(item, "Answer: A")
    assert evals.score_knowledge(item, "It is Paris.")
    assert not evals.score_knowledge(item, "Answer: B")
    assert not evals.score_knowledge(item, "Hmm.")


# ---------------------------------------------------------------------------
# Validation of malformed files
# ---------------------------------------------------------------------------


def _write(tmp_path: Path, records: list[Any]) -> Path:
    path = tmp_path / "bad.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD_KN = {"id": "kn-000", "subject": "s", "question": "q?", "choices": ["a", "b", "c", "d"], "answer": "A"}


def test_load_jsonl_reads_valid_file(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD_KN, "", {**GOOD_KN, "id": "kn-001", "answer": "D"}])
    items = evals.items._load_jsonl(path, KnowledgeItem)
    assert [i.answer for i in items] == ["A", "D"]
    assert isinstance(items[0].choices, tuple)


@pytest.mark.parametrize(
    "item_type,bad,field",
    [
        (KnowledgeItem, {k: v for k, v in GOOD_KN.items() if k != "question"}, "question"),
        (KnowledgeItem, {**GOOD_KN, "answer": "E"}, "answer"),
        (KnowledgeItem, {**GOOD_KN, "choices": ["a", "b", "c"]}, "choices"),
        (KnowledgeItem, {**GOOD_KN, "id": "kn-000"}, "id"),
        (KnowledgeItem, {**GOOD_KN, "id": "kn-009", "extra": 1}, "extra"),
        (ArithmeticItem, {"id": "ar-1", "question": "q", "answer": 4.5}, "answer"),
        (ArithmeticItem, {"id": "ar-1", "answer": 4}, "question"),
        (InstructionItem, {"id": "if-1", "prompt": "p", "checks": [{"type": "shout"}]}, "checks[0].type"),
        (InstructionItem, {"id": "if-1", "prompt": "p", "checks": [{"type": "max_words"}]}, "checks[0].n"),
        (InstructionItem, {"id": "if-1", "prompt": "p", "checks": []}, "checks"),
        (
            JailbreakItem,
            {"id": "jb-1", "category": "c", "persona": "p", "system": "", "request": "r"},
            "system",
        ),
    ],
)
def test_malformed_record_names_file_line_and_field(
    tmp_path: Path, item_type: type, bad: dict[str, Any], field: str
) -> None:
    first = GOOD_KN if item_type is KnowledgeItem else bad
    records: list[Any] = [first, bad] if item_type is KnowledgeItem else [bad]
    path = _write(tmp_path, records)
    line = len(records)
    with pytest.raises(EvalDataError) as info:
        evals.items._load_jsonl(path, item_type)
    err = info.value
    assert err.line == line and err.field == field
    message = str(err)
    assert "bad.jsonl" in message
    assert f"line {line}" in message
    assert repr(field) in message


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD_KN, "{not json", GOOD_KN])
    with pytest.raises(EvalDataError, match=r"bad\.jsonl, line 2: invalid JSON"):
        evals.items._load_jsonl(path, KnowledgeItem)
    path = _write(tmp_path, ["[1, 2]"])
    with pytest.raises(EvalDataError, match=r"line 1: expected a JSON object"):
        evals.items._load_jsonl(path, KnowledgeItem)


def test_duplicate_id_mentions_first_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD_KN, {**GOOD_KN, "id": "kn-001"}, GOOD_KN])
    with pytest.raises(
        EvalDataError, match=r"line 3, field 'id': duplicate id 'kn-000' \(first seen on line 1\)"
    ):
        evals.items._load_jsonl(path, KnowledgeItem)


def test_items_are_frozen() -> None:
    item = evals.load_jailbreaks()[0]
    with pytest.raises(AttributeError):
        item.request = "x"  # type: ignore[misc]
    check = InstructionCheck(type="lowercase")
    with pytest.raises(AttributeError):
        check.type = "uppercase"  # type: ignore[misc]
