"""Saved chapter results and the paper-beside-ours table."""

from __future__ import annotations

import pytest

from persona_axis.results import comparison_table, load_result, save_result
from persona_axis.store import CacheError


def test_table_shows_missing_models_as_not_yet_run(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    save_result("01_x", "smollm2-135m-instruct", {"share": 0.2}, {"preset": "book"})
    save_result("01_x", "org/big-model", {"share": 0.45}, {"preset": "paper"})
    t = comparison_table([("PC1 share", "0.49", "01_x", "share", ".2f")])
    assert list(t.columns) == ["quantity", "paper", "smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "org/big-model"]
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
