"""The claims registry: the five rules at their boundaries, cells read from saved results, chapter tables."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from persona_axis.claims.registry import CLAIMS, Claim, claim, evaluate, sentence, table
from persona_axis.claims.results import Results, save_result
from persona_axis.claims.rules import (
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_RATED,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
)
from persona_axis.core.stats import Interval

SMOL, QWEN, BASE = "smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "gemma3-270m-base"


@pytest.fixture
def art(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty artifacts folder used by save_result and the claims."""
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path / "art"))
    return tmp_path / "art"


def iv(lo: float, hi: float, est: float | None = None) -> Interval:
    return Interval((lo + hi) / 2 if est is None else est, lo, hi, 0.95, 2000, "roles", 40, 0)


def got(c: Claim, model: str) -> tuple[str, str]:
    _, rows = evaluate([c])
    cell = rows[0].cells[model]
    return cell.text, cell.status


# ---- the five rules at their boundaries ------------------------------------------------------

@pytest.mark.parametrize(("lo", "hi", "status"), [
    (0.7100001, 0.9, REPRODUCED),    # wholly above the paper's 0.71
    (0.71, 0.9, PARTLY),             # touches 0.71: not wholly above it; above 0 (no effect)
    (0.0000001, 0.5, PARTLY),
    (0.0, 0.5, NOT_REPRODUCED),      # touches no effect, wholly below 0.71
    (-0.3, 0.7099999, NOT_REPRODUCED),
    (-0.3, 0.71, INCONCLUSIVE),      # reaches the paper's value and no effect: too wide
    (-0.3, 0.95, INCONCLUSIVE),
    (math.nan, math.nan, INCONCLUSIVE),
])
def test_strict_above_rule(lo: float, hi: float, status: str) -> None:
    assert claim("cos_axis_pc1_middle").rate(iv(lo, hi)) == status


@pytest.mark.parametrize(("lo", "hi", "status"), [
    (4, 19, REPRODUCED), (19, 19, REPRODUCED), (10, 20, INCONCLUSIVE), (19.5, 30, NOT_REPRODUCED),
])
def test_at_most_rule_without_partly(lo: float, hi: float, status: str) -> None:
    """Components for 70%: at or below the paper's largest 19; no 'no effect' value, so no partly."""
    assert claim("n_for_70").rate(iv(lo, hi)) == status


@pytest.mark.parametrize(("lo", "hi", "status"), [
    (0.0, 0.10, REPRODUCED), (0.05, 0.11, PARTLY), (0.05, 0.2699, PARTLY), (0.05, 0.27, NOT_REPRODUCED), (0.03, 0.27, INCONCLUSIVE),
    (0.0301, 0.3, NOT_REPRODUCED), (0.03, 0.3, INCONCLUSIVE),
])
def test_below_rule_with_a_null(lo: float, hi: float, status: str) -> None:
    """Default's distance from PC1's end: at or below 0.10; partly if below 0.27 (PCs 2-10); paper 0.03."""
    assert claim("default_pc1_distance").rate(iv(lo, hi)) == status


@pytest.mark.parametrize(("lo", "hi", "status"), [
    (-0.5, -0.0001, REPRODUCED), (-0.5, 0.0, INCONCLUSIVE), (0.0, 0.2, INCONCLUSIVE), (0.0001, 0.2, NOT_REPRODUCED),
])
def test_direction_only_rule(lo: float, hi: float, status: str) -> None:
    """Emotional topics drift further: the gap must be below 0; the paper gives no size."""
    assert claim("domain_drift_gap").rate(iv(lo, hi)) == status


@pytest.mark.parametrize(("lo", "hi", "status"), [
    (0.5, 0.9, REPRODUCED), (0.4999, 0.9, PARTLY), (0.01, 0.59, PARTLY), (-0.1, 0.5999, NOT_REPRODUCED),
    (-0.1, 0.6, INCONCLUSIVE),
])
def test_harm_rule_uses_the_paper_value_above_its_threshold(lo: float, hi: float, status: str) -> None:
    assert claim("harm_reduction").rate(iv(lo, hi)) == status


def test_an_interval_that_misses_its_estimate_is_inconclusive(art: Path) -> None:
    """A PCA of few role vectors: resamples with duplicates have lower rank, so PC1's share rises
    on every resample and the interval can miss the estimate; no verdict is drawn from it."""
    c = claim("pc1_share")
    assert c.rate(iv(0.41, 0.64, 0.41)) == REPRODUCED
    assert c.rate(iv(0.41, 0.64, 0.40)) == INCONCLUSIVE
    assert claim("n_for_70").rate(iv(2, 3, 4)) == INCONCLUSIVE
    save_result("01_persona_space", SMOL, {"pc1_share": 0.30}, {}, intervals={"pc1_share": iv(0.31, 0.64, 0.30)})
    _, rows = evaluate([c])
    assert rows[0].cells[SMOL].status == INCONCLUSIVE and "outside its interval" in rows[0].cells[SMOL].note


def test_capability_rule_in_points() -> None:
    c = claim("capability_change")
    assert c.rate(iv(-0.01, 0.02)) == REPRODUCED
    assert c.rate(iv(-0.0101, 0.02)) == INCONCLUSIVE
    assert c.rate(iv(-0.03, -0.0001)) == NOT_REPRODUCED
    assert c.fmt_interval(iv(-0.03, 0.01, -0.01)) == "−1.0 pts [−3.0 pts, +1.0 pts]"


def test_rule_text_is_written_from_the_same_numbers() -> None:
    assert claim("cos_axis_pc1_middle").rule == (
        "*reproduced* if the interval lies above 0.71 (the paper's lowest); *partly* if it lies above 0.00 "
        "(no effect) but not wholly above 0.71; *not reproduced here* if it lies wholly below 0.71 (the paper's "
        "value); else *inconclusive*")
    assert claim("domain_drift_gap").rule.endswith("*not reproduced here* if it lies wholly above 0.00; else *inconclusive*")
    for c in CLAIMS:
        assert c.rule and c.paper and c.chapter[:2].isdigit() and c.id.startswith("C"), c
        assert ("reproduced" in c.rule) or not c.rated, c
    assert len({c.id for c in CLAIMS}) == len({c.key for c in CLAIMS}) == len(CLAIMS)


def test_unknown_claim_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="cos_axis_pc1_middle"):
        claim("nope")


# ---- cells from saved results --------------------------------------------------------------

def test_cell_reads_the_saved_interval(art: Path) -> None:
    save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": 0.45}, {"preset": "tiny"},
                intervals={"cos_axis_pc1_middle": iv(0.31, 0.58, 0.45)})
    _, rows = evaluate([claim("cos_axis_pc1_middle")])
    cell = rows[0].cells[SMOL]
    assert (cell.text, cell.status) == ("0.45 [0.31, 0.58]", PARTLY)
    assert cell.note == "95% bootstrap interval, 2000 resamples of 40 roles"
    assert rows[0].cells[QWEN].status == NOT_RUN and rows[0].cells[BASE].status == NOT_APPLICABLE


def test_a_number_without_an_interval_is_inconclusive(art: Path) -> None:
    save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": 0.95}, {})
    _, rows = evaluate([claim("cos_axis_pc1_middle")])
    cell = rows[0].cells[SMOL]
    assert (cell.text, cell.status) == ("0.95", INCONCLUSIVE) and "no interval" in cell.note


def test_missing_key_nan_and_none(art: Path) -> None:
    save_result("06_drift", SMOL, {"r2_position": float("nan")}, {})
    assert got(claim("r2_position"), SMOL) == ("not computable", INCONCLUSIVE)
    assert got(claim("domain_drift_gap"), SMOL) == (NOT_RUN, NOT_RUN)   # saved by an older chapter
    save_result("07_capping", SMOL, {"harm_reduction": None, "best_layers": None}, {})
    assert got(claim("harm_reduction"), SMOL) == ("none in this run", INCONCLUSIVE)
    assert got(claim("best_layers"), SMOL) == ("none in this run", INCONCLUSIVE)


def test_per_model_values_of_chapter_3(art: Path) -> None:
    save_result("03_cross_model", "all", {"pc1_min_pair": {SMOL: 0.93, QWEN: 0.93}, "trait_pc1_min_pair": {SMOL: None}},
                {}, intervals={"pc1_min_pair": {SMOL: iv(0.921, 0.95, 0.93), QWEN: iv(0.5, 0.95, 0.93)}})
    c = claim("pc1_min_pair")
    assert got(c, SMOL) == ("0.93 [0.92, 0.95]", REPRODUCED)
    assert got(c, QWEN) == ("0.93 [0.50, 0.95]", PARTLY)
    assert got(c, BASE) == (NOT_APPLICABLE, NOT_APPLICABLE)
    assert got(claim("trait_pc1_min_pair"), SMOL) == ("none in this run", INCONCLUSIVE)
    assert got(claim("trait_pc1_min_pair"), QWEN) == ("none in this run", INCONCLUSIVE)


def test_chosen_settings_keep_their_point_rule(art: Path) -> None:
    save_result("07_capping", QWEN, {"best_layers": "17-20", "best_percentile": 25, "best_convention": "paper-text"}, {})
    save_result("07_capping", SMOL, {"best_layers": "3-5", "best_percentile": 25, "best_convention": "paper-code"}, {})
    assert got(claim("best_layers"), QWEN) == ("17-20 of 24 (centre at 77% depth)", REPRODUCED)
    assert got(claim("best_layers"), SMOL)[1] == NOT_REPRODUCED          # 4 / 30 = 13%
    assert got(claim("best_percentile"), SMOL) == ("25th (paper-code convention)", REPRODUCED)   # floor p75
    for p, conv, status in [(1, "paper-text", PARTLY), (1, "paper-code", NOT_REPRODUCED), (50, "paper-text", PARTLY),
                            (75, "paper-text", PARTLY), (75, "paper-code", PARTLY), (25, "paper-text", REPRODUCED)]:
        save_result("07_capping", SMOL, {"best_percentile": p, "best_convention": conv}, {})
        assert got(claim("best_percentile"), SMOL)[1] == status, (p, conv)
    big = "Qwen/Qwen3-32B"
    save_result("07_capping", big, {"best_layers": "46-53"}, {"preset": "paper"})
    assert got(claim("best_layers"), big)[1] == NOT_RUN
    save_result("02_assistant_axis", big, {"cos_axis_pc1": {str(i): 0.8 for i in range(64)}}, {"preset": "paper"})
    assert got(claim("best_layers"), big) == ("46-53 of 64 (centre at 77% depth)", REPRODUCED)


def test_the_base_vs_instruct_correlation_is_shown_but_not_rated(art: Path) -> None:
    save_result("04_base_vs_instruct", BASE, {"pc1_composition_corr": 0.9}, {}, intervals={"pc1_composition_corr": iv(0.85, 0.95, 0.9)})
    assert got(claim("pc1_composition_corr"), BASE) == ("0.90 [0.85, 0.95]", NOT_RATED)
    assert got(claim("pc1_composition_corr"), SMOL) == (NOT_APPLICABLE, NOT_APPLICABLE)


def test_chapter_table_and_sentence(art: Path) -> None:
    save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": 0.45, "cos_axis_pc1_min": 0.2}, {},
                intervals={"cos_axis_pc1_middle": iv(0.31, 0.58, 0.45), "cos_axis_pc1_min": iv(-0.1, 0.4, 0.2)})
    t = table("02_assistant_axis")
    assert list(t.columns) == ["claim", "paper", SMOL, QWEN]        # the base model does not apply
    assert t[SMOL].tolist() == ["0.45 [0.31, 0.58] · partly", "0.20 [−0.10, 0.40] · not reproduced here"]
    assert t[QWEN].tolist() == [NOT_RUN, NOT_RUN]
    s = sentence("cos_axis_pc1_middle", SMOL)
    assert s.startswith("cos(Assistant Axis, PC1) at the middle layer: smollm2-135m-instruct gives 0.45 [0.31, 0.58] "
                        "(95% bootstrap interval, 2000 resamples of 40 roles) against the paper's > 0.71 in all three models, "
                        "so **partly** by the dashboard's rule: reproduced if the interval lies above 0.71")
    assert sentence("cos_axis_pc1_middle", QWEN) == "cos(Assistant Axis, PC1) at the middle layer: not yet run for qwen2.5-coder-0.5b-instruct."
    with pytest.raises(KeyError, match="no claim is tested"):
        table("00_quickstart")


def test_reading_creates_no_folders(art: Path) -> None:
    models, rows = evaluate(results=Results.load(["02_assistant_axis"]))
    assert models == [SMOL, QWEN, BASE]
    assert not (art / "results").exists()
