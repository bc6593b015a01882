"""Two versions of the registry rate the same saved results: ``claims.compare``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from persona_axis.claims import compare as cmp
from persona_axis.claims.results import save_result
from persona_axis.core.stats import Interval

SMOL = "smollm2-135m-instruct"
LIB = Path(__file__).resolve().parents[1] / "lib"


def _results(art: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(art))
    save_result(
        "02_assistant_axis",
        SMOL,
        {"cos_axis_pc1_middle": 0.45},
        {"preset": "book"},
        intervals={
            "cos_axis_pc1_middle": Interval(0.45, 0.31, 0.58, n_resamples=2000, unit="roles", n_units=40),
            "cos_axis_pc1_middle_null": Interval(0.2, 0.1, 0.3, n_resamples=200, unit="label permutations"),
        },
    )


def test_this_lib_rates_results_the_test_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a subprocess, on the results folder given: the interval wholly between the null's end 0.3
    and 0.71 is *weaker than the paper*; the same dump twice changes nothing."""
    _results(tmp_path / "art", monkeypatch)
    got = cmp.statuses(LIB, tmp_path / "art")
    cell = got["cells"]["cos_axis_pc1_middle"][SMOL]
    assert cell["id"] == "C4" and cell["status"] == "weaker than the paper" and cell["rated"]
    assert got["counts"]["weaker than the paper"] == 1
    same = cmp.compare(got, got)
    assert same.changed == [] and same.unchanged == sum(len(v) for v in got["cells"].values())


def test_compare_lists_changed_and_one_sided_cells() -> None:
    def cell(cid: str, status: str) -> cmp.CellDump:
        return {"id": cid, "status": status, "text": "0.39 [0.16, 0.59]", "rated": True}

    before: cmp.Dump = {
        "counts": {"partly": 2},
        "cells": {
            "c4": {"a": cell("C4", "partly"), "b": cell("C4", "partly")},
            "old": {"a": cell("C9", "x")},
        },
    }
    after: cmp.Dump = {
        "counts": {"not reproduced": 1, "weaker than the paper": 1},
        "cells": {
            "c4": {"a": cell("C4", "not reproduced"), "b": cell("C4", "partly")},
            "new": {"a": cell("C9", "y")},
        },
    }
    got = cmp.compare(before, after)
    assert got.unchanged == 1
    assert [(c.claim, c.model, c.before, c.after) for c in got.changed] == [
        ("C4 (c4)", "a", "partly", "not reproduced"),
        ("C9 (new)", "a", "", "y"),
        ("C9 (old)", "a", "x", ""),
    ]
    md = cmp.markdown(got, "old rule", "one rule")
    assert "| partly | 2 |  |" in md and "| C9 (old) | a | x | (no cell) |" in md
    assert md.endswith("3 cells changed, 1 kept their status.")


def test_a_commit_git_does_not_know_says_so(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(RuntimeError, match="no worktree of 'deadbeef'"):
        with cmp.worktree("deadbeef", tmp_path):
            pass


def test_a_registry_that_fails_says_where(tmp_path: Path) -> None:
    (tmp_path / "persona_axis").mkdir()
    (tmp_path / "persona_axis" / "__init__.py").write_text("raise ImportError('planted')\n")
    with pytest.raises(RuntimeError, match="could not rate"):
        cmp.statuses(tmp_path, tmp_path / "art")
