"""Saved chapter results and the paper-beside-ours table."""

from __future__ import annotations

import pytest

from persona_axis.claims.results import comparison_table, load_result, save_result
from persona_axis.core.store import CacheError


def test_table_shows_missing_models_as_not_yet_run(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    save_result("01_x", "smollm2-135m-instruct", {"share": 0.2}, {"preset": "book"})
    save_result("01_x", "org/big-model", {"share": 0.45}, {"preset": "paper"})
    t = comparison_table([("PC1 share", "0.49", "01_x", "share", ".2f")])
    assert list(t.columns) == [
        "quantity",
        "paper",
        "smollm2-135m-instruct",
        "qwen2.5-coder-0.5b-instruct",
        "org/big-model",
    ]
    assert t["smollm2-135m-instruct"].tolist() == ["0.20", "book"]
    assert t["qwen2.5-coder-0.5b-instruct"].tolist() == ["not yet run", "not yet run"]
    assert t["org/big-model"].tolist() == ["0.45", "paper"]


def test_corrupt_result_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    path = save_result("01_x", "m", {"a": 1}, {})
    assert load_result("01_x", "m")["numbers"] == {"a": 1}
    path.write_text("{broken")
    with pytest.raises(CacheError, match="Delete it"):
        load_result("01_x", "m")


def test_a_result_of_other_inputs_is_not_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each configuration's result is kept apart (Store), and a reader that names its inputs never
    gets a result made from others: change one input, the old result is not read."""
    import numpy as np

    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    cfg = {"preset": "book", "rollouts": "abc", "seed": 0, "params": {"k": np.float64(0.5)}}
    save_result("07_x", "m", {"best": 1}, cfg)
    assert load_result("07_x", "m", config=cfg)["numbers"] == {"best": 1}
    assert load_result("07_x", "m", match={"rollouts": "abc", "seed": 0})["numbers"] == {"best": 1}
    for changed in ({**cfg, "rollouts": "abd"}, {**cfg, "seed": 1}, {**cfg, "params": {"k": 0.6}}):
        assert load_result("07_x", "m", config=changed) is None
    assert load_result("07_x", "m", match={"rollouts": "abd", "seed": 0}) is None
    assert load_result("07_x", "m", match={"judge": "other"}) is None  # a field the result was not made with
    # a second configuration does not overwrite the first one's result; the latest is what the tables show
    save_result("07_x", "m", {"best": 2}, {**cfg, "seed": 1})
    assert load_result("07_x", "m", config=cfg)["numbers"] == {"best": 1}
    assert load_result("07_x", "m", config={**cfg, "seed": 1})["numbers"] == {"best": 2}
    assert load_result("07_x", "m", match={"rollouts": "abc", "seed": 0}) is None
    latest = load_result("07_x", "m")
    assert latest["numbers"] == {"best": 2} and latest["config"]["seed"] == 1 and len(latest["key"]) == 16
