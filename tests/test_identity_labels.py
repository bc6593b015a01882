"""The hand-labelled identity answers used to check the identity judge."""

from persona_axis.judge import IDENTITY_CATEGORIES, CategoryJudge, load_identity_labels


def test_identity_labels_are_complete_and_valid():
    rows = load_identity_labels()
    assert len(rows) >= 120
    allowed = set(CategoryJudge(IDENTITY_CATEGORIES).labels)
    assert {r["label"] for r in rows} <= allowed
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))


def test_jailbreak_labels_are_complete_and_valid():
    from persona_axis.evals import JAILBREAK_OUTCOMES, load_jailbreaks
    from persona_axis.judge import load_jailbreak_labels

    rows = load_jailbreak_labels()
    assert len(rows) >= 120
    assert {r["label"] for r in rows} <= set(JAILBREAK_OUTCOMES)
    assert len({r["id"] for r in rows}) == len(rows)
    items = {it.id: it.request for it in load_jailbreaks()}
    assert all(items[r["item"]] == r["request"] for r in rows)
