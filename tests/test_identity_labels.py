"""The hand-labelled identity answers used to check the identity judge."""

from persona_axis.judge import IDENTITY_CATEGORIES, CategoryJudge, load_identity_labels


def test_identity_labels_are_complete_and_valid():
    rows = load_identity_labels()
    assert len(rows) >= 120
    allowed = set(CategoryJudge(IDENTITY_CATEGORIES).labels)
    assert {r["label"] for r in rows} <= allowed
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
