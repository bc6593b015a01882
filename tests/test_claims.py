"""The claims registry: the one rule at every boundary and as a partition, cells read from saved results, tables."""

from __future__ import annotations

from dataclasses import replace

import math
from pathlib import Path

import numpy as np
import pytest

from persona_axis.claims.registry import CLAIMS, Claim, claim, evaluate, gaps, sentence, table
from persona_axis.claims.results import Results, save_result
from persona_axis.claims.rules import (
    DECIDED,
    INCONCLUSIVE,
    NOT_APPLICABLE,
    NOT_RATED,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    WEAKER,
    decide,
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


# ---- the one rule: every boundary --------------------------------------------------------------


def null(lo: float, hi: float) -> Interval:
    """A chance-level null: its centre and 95% spread over 200 label permutations."""
    return Interval((lo + hi) / 2, lo, hi, 0.95, 200, "label permutations", 40, 0)


@pytest.mark.parametrize(
    ("lo", "hi", "status"),
    [
        (0.7100001, 0.9, REPRODUCED),  # wholly above the paper's 0.71
        (0.71, 0.9, INCONCLUSIVE),  # 0.71 itself is not above 0.71: it holds a point on each side
        (0.5, 0.7099999, WEAKER),  # wholly below 0.71, wholly above chance's 0.30
        (0.5, 0.71, WEAKER),  # "> 0.71": every point of [0.5, 0.71] is short of it
        (0.3000001, 0.5, WEAKER),
        (0.3, 0.5, NOT_REPRODUCED),  # reaches chance's end: no effect beyond chance
        (-0.3, 0.2, NOT_REPRODUCED),  # the opposite effect
        (-0.3, 0.95, INCONCLUSIVE),  # contains 0.71 (and chance): too wide to decide
        (math.nan, math.nan, INCONCLUSIVE),
    ],
)
def test_strict_above_rule(lo: float, hi: float, status: str) -> None:
    assert claim("cos_axis_pc1_middle").rate(iv(lo, hi), null(0.1, 0.3)) == status


@pytest.mark.parametrize(
    ("lo", "hi", "status"),
    [
        (4, 19, REPRODUCED),
        (19, 19, REPRODUCED),  # "at most 19": 19 itself is on the paper's side
        (10, 20, INCONCLUSIVE),
        (19, 20, INCONCLUSIVE),
        (19.5, 24, WEAKER),  # fewer components than chance's 25, more than 19
        (20, 25, NOT_REPRODUCED),
        (26, 30, NOT_REPRODUCED),
    ],
)
def test_at_most_rule_mirrors_with_the_null_below(lo: float, hi: float, status: str) -> None:
    """Components for 70%: at or below the paper's largest 19; chance (labels permuted) 25-31, so
    the null's end on the paper's side is its low end, 25."""
    assert claim("n_for_70").rate(iv(lo, hi), null(25, 31)) == status


def test_a_null_past_the_threshold_cannot_be_rated() -> None:
    """Components for 70% from 8 role vectors: chance gives 5-6, already under 19, so no interval
    could tell the paper's result from chance."""
    c = claim("n_for_70")
    assert {c.rate(iv(lo, hi), null(5, 6)) for lo, hi in [(4, 5), (10, 30), (20, 30)]} == {NOT_RATED}
    assert c.rate(iv(4, 5), null(19, 25)) == NOT_RATED  # chance's end exactly at "at most 19"
    # 0.71 is not "> 0.71"
    assert claim("cos_axis_pc1_middle").rate(iv(0.8, 0.9), null(0.2, 0.71)) == REPRODUCED
    assert claim("cos_axis_pc1_middle").rate(iv(0.8, 0.9), null(0.2, 0.72)) == NOT_RATED


@pytest.mark.parametrize(
    ("lo", "hi", "status"),
    [
        (-0.5, -0.0001, REPRODUCED),
        (-0.5, 0.0, INCONCLUSIVE),
        (0.0, 0.2, NOT_REPRODUCED),
        (0.0001, 0.2, NOT_REPRODUCED),
    ],
)
def test_direction_only_rule(lo: float, hi: float, status: str) -> None:
    """Emotional topics drift further: the gap must be below 0, itself no effect (no weaker status)."""
    assert claim("domain_drift_gap").rate(iv(lo, hi)) == status


@pytest.mark.parametrize(
    ("lo", "hi", "status"),
    [
        (0.5, 0.9, REPRODUCED),
        (0.4999, 0.9, INCONCLUSIVE),
        (0.01, 0.49, NOT_REPRODUCED),
        (-0.1, 0.4999, NOT_REPRODUCED),
        (-0.1, 0.55, INCONCLUSIVE),  # contains 0.5: never decided, whatever the paper's stricter 60%
        (0.05, 0.30, NOT_REPRODUCED),
    ],
)
def test_harm_rule_uses_only_its_threshold(lo: float, hi: float, status: str) -> None:
    """The paper's 60% no longer decides anything: [-0.10, 0.55] contains the threshold 0.5."""
    assert claim("harm_reduction").rate(iv(lo, hi)) == status


# ---- the one rule: partition, undecided at T, monotone ---------------------------------------

SIDES = (">", ">=", "<", "<=")
GRID = np.round(np.arange(-2.0, 2.0001, 0.125), 6)  # holds T = 0.5 and every null below exactly


def _past(x: float, t: float, side: str) -> bool:
    return {">": x > t, ">=": x >= t, "<": x < t, "<=": x <= t}[side]


def _expected(lo: float, hi: float, t: float, side: str, n: float | None) -> str:
    """The status from the definitions, on points of the interval (not from ``decide``'s code)."""
    pts = np.append(np.linspace(lo, hi, 41), [t] if lo <= t <= hi else [])
    past_t = [_past(x, t, side) for x in pts]
    up = side in (">", ">=")
    beyond = n is not None and all((x > n) if up else (x < n) for x in pts)
    if all(past_t):
        return REPRODUCED
    if any(past_t):
        return INCONCLUSIVE
    return WEAKER if beyond else NOT_REPRODUCED


def _intervals() -> list[tuple[float, float]]:
    """Every pair of grid points, then 4,000 seeded random intervals of every width (0 to 4)."""
    rng = np.random.default_rng(29)
    pairs = [(float(a), float(b)) for i, a in enumerate(GRID) for b in GRID[i:]]
    centre, width = rng.uniform(-2, 2, 4000), rng.exponential(0.5, 4000) * rng.integers(0, 2, 4000)
    return pairs + [(float(c - w / 2), float(c + w / 2)) for c, w in zip(centre, width)]


@pytest.mark.parametrize("side", SIDES)
def test_the_rule_is_a_partition(side: str) -> None:
    """Every interval, of any width (zero included), gets exactly the one status its definition
    gives; a null on the paper's side of T gives every interval *not rated*."""
    t = 0.5
    nulls = [None, -0.5, 0.0, 0.375] if side in (">", ">=") else [None, 1.5, 1.0, 0.625]
    for n in nulls:
        for lo, hi in _intervals():
            got = decide(lo, hi, threshold=t, side=side, null=n)  # type: ignore[arg-type]
            assert got == _expected(lo, hi, t, side, n), (side, n, lo, hi, got)
    far = 1.0 if side in (">", ">=") else 0.0
    assert {decide(lo, hi, threshold=t, side=side, null=far) for lo, hi in _intervals()} == {NOT_RATED}  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="low end"):
        decide(1.0, 0.0, threshold=t, side=">")


@pytest.mark.parametrize("side", SIDES)
def test_an_interval_containing_the_threshold_is_never_decided(side: str) -> None:
    t = 0.5
    for n in (None, -0.5, 1.5):
        if n is not None and _past(n, t, side):
            continue
        for lo, hi in _intervals():
            if lo < t < hi:
                assert decide(lo, hi, threshold=t, side=side, null=n) == INCONCLUSIVE  # type: ignore[arg-type]


@pytest.mark.parametrize("side", SIDES)
def test_moving_toward_the_paper_never_gives_a_worse_decided_status(side: str) -> None:
    """Shift every interval toward the paper's side in steps of the grid: once decided, its status
    never falls down ``DECIDED`` (not reproduced < weaker than the paper < reproduced)."""
    t, n = 0.5, (-0.5 if side in (">", ">=") else 1.5)
    toward = 1.0 if side in (">", ">=") else -1.0
    rank = {s: i for i, s in enumerate(DECIDED)}
    for lo, hi in _intervals()[::7]:
        best = -1
        for k in range(40):
            d = toward * 0.125 * k
            got = decide(lo + d, hi + d, threshold=t, side=side, null=n)  # type: ignore[arg-type]
            if got in rank:
                assert rank[got] >= best, (side, lo, hi, k, got)
                best = rank[got]


def test_the_grid_reaches_every_status() -> None:
    """The property tests are not vacuous: the grid gives every status on each side."""
    for side in SIDES:
        n = -0.5 if side in (">", ">=") else 1.5
        got = {decide(lo, hi, threshold=0.5, side=side, null=n) for lo, hi in _intervals()}  # type: ignore[arg-type]
        assert got == {REPRODUCED, WEAKER, NOT_REPRODUCED, INCONCLUSIVE}, side


def test_an_interval_that_misses_its_estimate_is_inconclusive(art: Path) -> None:
    """A PCA of few role vectors: resamples with duplicates have lower rank, so PC1's share rises
    on every resample and the interval can miss the estimate; no verdict is drawn from it."""
    c = claim("default_pc1_distance")
    assert c.rate(iv(0.01, 0.05, 0.01)) == REPRODUCED
    assert c.rate(iv(0.01, 0.05, 0.0)) == INCONCLUSIVE
    assert claim("n_for_70").rate(iv(2, 3, 4)) == INCONCLUSIVE
    save_result(
        "01_persona_space",
        SMOL,
        {"default_pc1_distance": 0.30},
        {},
        intervals={"default_pc1_distance": iv(0.31, 0.64, 0.30)},
    )
    _, rows = evaluate([c])
    assert rows[0].cells[SMOL].status == INCONCLUSIVE and "outside its interval" in rows[0].cells[SMOL].note


def test_capability_rule_in_points() -> None:
    """C16 is a non-inferiority test: no loss larger than the declared margin of 10 points."""
    c = claim("capability_change")
    assert c.rate(iv(-0.05, 0.02)) == REPRODUCED
    assert c.rate(iv(-0.0999, 0.02)) == REPRODUCED
    assert c.rate(iv(-0.10, 0.02)) == INCONCLUSIVE  # T itself is short of "> -10 points"
    assert c.rate(iv(-0.30, -0.0001)) == INCONCLUSIVE  # contains the margin: undecided
    assert c.rate(iv(-0.30, -0.101)) == NOT_REPRODUCED
    assert c.fmt_interval(iv(-0.03, 0.01, -0.01)) == "−1.0 pts [−3.0 pts, +1.0 pts]"


def test_rule_text_is_written_from_the_same_numbers() -> None:
    assert claim("cos_axis_pc1_middle").rule == (
        "*reproduced* if the interval lies wholly above 0.71 (the paper's lowest); *weaker than the paper* if it lies "
        "wholly between the chance-level null (role labels permuted across rollouts before the role vectors are "
        "averaged, at the same sizes; the end of its 95% spread on the paper's side) and 0.71; *not reproduced* if "
        "it lies wholly at or below 0.71 and reaches the null; *not rated* if the null itself lies above 0.71; "
        "*inconclusive* if it contains 0.71"
    )
    assert claim("domain_drift_gap").rule == (
        "*reproduced* if the interval lies wholly below 0.00 (the paper gives a direction, not a size); *not "
        "reproduced* if it lies wholly at or above 0.00 (0, no difference, is no effect); *inconclusive* if it "
        "contains 0.00"
    )
    assert "computes no chance-level null yet" in replace(claim("harm_reduction"), null_how="").rule
    assert "the declared cap along random directions" in claim("harm_reduction").rule
    assert "user messages put in a random order" in claim("r2_position").rule
    assert "no role (trait) meets itself across models" in claim("pc1_min_pair").rule
    for c in CLAIMS:
        assert c.rule and c.paper and c.source and c.chapter[:2].isdigit() and c.id.startswith("C"), c
        assert ("reproduced" in c.rule) or not c.rated, c
    assert len({c.id for c in CLAIMS}) == len({c.key for c in CLAIMS}) == len(CLAIMS)


def test_what_the_paper_does_not_report_is_not_rated() -> None:
    """C2's 0.49 is the official notebook's output; C6a and C6b are the book's own checks; the
    capping settings have no interval: all shown, none rated."""
    assert claim("C2").source.startswith("official notebook output")
    for key in ("C2", "C6a", "C6b", "C8", "C17", "C18"):
        assert not claim(key).rated and claim(key).rate(iv(0.95, 0.99)) == NOT_RATED, key
        assert claim(key).rule.startswith("not rated"), key


def test_unknown_claim_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="cos_axis_pc1_middle"):
        claim("nope")


# ---- cells from saved results --------------------------------------------------------------


def test_cell_reads_the_saved_interval(art: Path) -> None:
    save_result(
        "02_assistant_axis",
        SMOL,
        {"cos_axis_pc1_middle": 0.45},
        {"preset": "tiny"},
        intervals={"cos_axis_pc1_middle": iv(0.31, 0.58, 0.45)},
    )
    _, rows = evaluate([claim("cos_axis_pc1_middle")])
    cell = rows[0].cells[SMOL]
    assert (cell.text, cell.status) == ("0.45 [0.31, 0.58]", NOT_REPRODUCED)
    assert (
        cell.note
        == "95% bootstrap interval, 2000 resamples of 40 roles; no chance-level null computed for this run"
    )
    assert rows[0].cells[QWEN].status == NOT_RUN and rows[0].cells[BASE].status == NOT_APPLICABLE


def test_cell_reads_the_saved_null(art: Path) -> None:
    """The chapter's null decides between weaker and not reproduced; no null of 0 is assumed."""
    save_result(
        "02_assistant_axis",
        SMOL,
        {"cos_axis_pc1_middle": 0.45},
        {},
        intervals={"cos_axis_pc1_middle": iv(0.31, 0.58, 0.45), "cos_axis_pc1_middle_null": null(0.1, 0.3)},
    )
    save_result(
        "02_assistant_axis",
        QWEN,
        {"cos_axis_pc1_middle": 0.45},
        {},
        intervals={"cos_axis_pc1_middle": iv(0.31, 0.58, 0.45), "cos_axis_pc1_middle_null": null(0.1, 0.35)},
    )
    _, rows = evaluate([claim("cos_axis_pc1_middle")])
    smol, qwen = rows[0].cells[SMOL], rows[0].cells[QWEN]
    assert (smol.status, qwen.status) == (WEAKER, NOT_REPRODUCED)
    assert smol.null == null(0.1, 0.3)
    assert smol.note.endswith("; chance level 0.20 [0.10, 0.30] (200 label permutations)")
    save_result(
        "02_assistant_axis",
        QWEN,
        {"cos_axis_pc1_middle": 0.83},
        {},
        intervals={"cos_axis_pc1_middle": iv(0.22, 1.0, 0.83), "cos_axis_pc1_middle_null": null(0.62, 0.89)},
    )
    _, rows = evaluate([claim("cos_axis_pc1_middle")])
    assert rows[0].cells[QWEN].status == NOT_RATED
    assert (
        rows[0]
        .cells[QWEN]
        .note.endswith(
            "chance level 0.76 [0.62, 0.89] (200 label permutations), which already "
            "reaches the paper's threshold (> 0.71): not rated"
        )
    )


def test_a_number_without_an_interval_is_inconclusive(art: Path) -> None:
    save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": 0.95}, {})
    _, rows = evaluate([claim("cos_axis_pc1_middle")])
    cell = rows[0].cells[SMOL]
    assert (cell.text, cell.status) == ("0.95", INCONCLUSIVE) and "no interval" in cell.note


def test_missing_key_nan_and_none(art: Path) -> None:
    save_result("06_drift", SMOL, {"r2_position": float("nan")}, {})
    assert got(claim("r2_position"), SMOL) == ("not computable", INCONCLUSIVE)
    assert got(claim("domain_drift_gap"), SMOL) == (NOT_RUN, NOT_RUN)  # saved by an older chapter
    save_result("07_capping", SMOL, {"harm_reduction": None, "best_layers": None}, {})
    assert got(claim("harm_reduction"), SMOL) == ("none in this run", INCONCLUSIVE)
    assert got(claim("best_layers"), SMOL) == ("none in this run", NOT_RATED)


def test_per_model_values_of_chapter_3(art: Path) -> None:
    save_result(
        "03_cross_model",
        "all",
        {"pc1_min_pair": {SMOL: 0.93, QWEN: 0.93}, "trait_pc1_min_pair": {SMOL: None}},
        {},
        intervals={"pc1_min_pair": {SMOL: iv(0.921, 0.95, 0.93), QWEN: iv(0.5, 0.95, 0.93)}},
    )
    c = claim("pc1_min_pair")
    # one pair, one cell: the same for both models (the lower estimate's; here a tie, the first)
    assert got(c, SMOL) == got(c, QWEN) == ("0.93 [0.92, 0.95]", REPRODUCED)
    assert got(c, BASE) == (NOT_APPLICABLE, NOT_APPLICABLE)
    assert got(claim("trait_pc1_min_pair"), SMOL) == ("none in this run", INCONCLUSIVE)
    assert got(claim("trait_pc1_min_pair"), QWEN) == ("none in this run", INCONCLUSIVE)
    save_result(
        "03_cross_model",
        "all",
        {"pc1_min_pair": {SMOL: 0.93, QWEN: 0.90}},
        {},
        intervals={"pc1_min_pair": {SMOL: iv(0.921, 0.95, 0.93), QWEN: iv(0.5, 0.95, 0.90)}},
    )
    _, rows = evaluate([c])
    assert rows[0].cells[SMOL] == rows[0].cells[QWEN]
    assert (rows[0].cells[SMOL].text, rows[0].cells[SMOL].status) == ("0.90 [0.50, 0.95]", INCONCLUSIVE)
    assert rows[0].cells[SMOL].note.startswith(f"one cell for the pair {SMOL}, {QWEN}; ")


def test_chosen_settings_keep_their_point_rule(art: Path) -> None:
    save_result(
        "07_capping",
        QWEN,
        {"best_layers": "17-20", "best_percentile": 25, "best_convention": "paper-text"},
        {},
    )
    save_result(
        "07_capping", SMOL, {"best_layers": "3-5", "best_percentile": 25, "best_convention": "paper-code"}, {}
    )
    assert got(claim("best_layers"), QWEN) == ("17-20 of 24 (centre at 77% depth)", NOT_RATED)
    assert got(claim("best_layers"), SMOL) == ("3-5 of 30 (centre at 13% depth)", NOT_RATED)
    assert got(claim("best_percentile"), SMOL) == (
        "25th (paper-code convention: a floor at p75 on the axis)",
        NOT_RATED,
    )
    big = "Qwen/Qwen3-32B"
    save_result("07_capping", big, {"best_layers": "46-53"}, {"preset": "paper"})
    assert got(claim("best_layers"), big) == ("46-53 (layer count unknown: run chapter 2)", NOT_RATED)
    save_result(
        "02_assistant_axis", big, {"cos_axis_pc1": {str(i): 0.8 for i in range(64)}}, {"preset": "paper"}
    )
    assert got(claim("best_layers"), big) == ("46-53 of 64 (centre at 77% depth)", NOT_RATED)


def test_the_base_vs_instruct_correlation_is_shown_but_not_rated(art: Path) -> None:
    save_result(
        "04_base_vs_instruct",
        BASE,
        {"pc1_composition_corr": 0.9},
        {},
        intervals={"pc1_composition_corr": iv(0.85, 0.95, 0.9)},
    )
    assert got(claim("pc1_composition_corr"), BASE) == ("0.90 [0.85, 0.95]", NOT_RATED)
    assert got(claim("pc1_composition_corr"), SMOL) == (NOT_APPLICABLE, NOT_APPLICABLE)


def test_chapter_table_and_sentence(art: Path) -> None:
    save_result(
        "02_assistant_axis",
        SMOL,
        {"cos_axis_pc1_middle": 0.45, "cos_axis_pc1_min": 0.2},
        {},
        intervals={"cos_axis_pc1_middle": iv(0.31, 0.58, 0.45), "cos_axis_pc1_min": iv(-0.1, 0.4, 0.2)},
    )
    t = table("02_assistant_axis")
    assert list(t.columns) == ["claim", "paper", SMOL, QWEN]  # the base model does not apply
    assert t[SMOL].tolist() == ["0.45 [0.31, 0.58] · not reproduced", "0.20 [−0.10, 0.40] · not reproduced"]
    assert t[QWEN].tolist() == [NOT_RUN, NOT_RUN]
    s = sentence("cos_axis_pc1_middle", SMOL)
    assert s.startswith(
        "cos(Assistant Axis, PC1) at the middle layer: smollm2-135m-instruct gives 0.45 [0.31, 0.58] "
        "(95% bootstrap interval, 2000 resamples of 40 roles; no chance-level null computed for this run) against the paper's > 0.71 in all three models, "
        "so **not reproduced** by the dashboard's rule: reproduced if the interval lies wholly above 0.71"
    )
    assert (
        sentence("cos_axis_pc1_middle", QWEN)
        == "cos(Assistant Axis, PC1) at the middle layer: not yet run for qwen2.5-coder-0.5b-instruct."
    )
    with pytest.raises(KeyError, match="no claim is tested"):
        table("00_quickstart")


def test_reading_creates_no_folders(art: Path) -> None:
    models, rows = evaluate(results=Results.load(["02_assistant_axis"]))
    assert models == [SMOL, QWEN, BASE]
    assert not (art / "results").exists()


# ---- the saved results against the registry (the tiny build's check, on hand-written documents) ----


def _iv(est: float) -> dict[str, object]:
    return iv(est - 0.1, est + 0.1, est).to_dict()


def _book_docs() -> dict[str, dict[str, dict[str, object]]]:
    """What the chapters save, written out by hand (key names as the chapters spell them, not from the registry)."""

    def doc(model: str, numbers: dict[str, object], intervals: dict[str, object]) -> dict[str, object]:
        return {"model": model, "numbers": {**numbers, "intervals": intervals}, "config": {"preset": "tiny"}}

    ch1 = {
        m: doc(
            m,
            {"n_for_70": 4, "pc1_share": 0.3, "default_pc1_distance": 0.2, "layer": 15},
            {"n_for_70": _iv(4), "pc1_share": _iv(0.3), "default_pc1_distance": _iv(0.2)},
        )
        for m in (SMOL, QWEN)
    }
    ch2 = {
        m: doc(
            m,
            {"cos_axis_pc1_middle": 0.5, "cos_axis_pc1_min": 0.2, "cos_axis_pc1": {"0": 0.2, "1": 0.5}},
            {"cos_axis_pc1_middle": _iv(0.5), "cos_axis_pc1_min": _iv(0.2)},
        )
        for m in (SMOL, QWEN)
    }
    pair = {SMOL: 0.5, QWEN: 0.5}
    ch3 = {
        "all": doc(
            "all",
            {
                "pc1_min_pair": pair,
                "axis_min_pair": pair,
                "pc1_shared_min_pair": pair,
                "trait_pc1_min_pair": {SMOL: None, QWEN: None},
            },  # no trait passed the filter
            {
                k: {SMOL: _iv(0.5), QWEN: _iv(0.5)}
                for k in ("pc1_min_pair", "axis_min_pair", "pc1_shared_min_pair")
            },
        )
    }
    ch4 = {
        BASE: doc(
            BASE,
            {"pc1_composition_corr": 0.2, "helpful_toward_minus_away": 0.0},
            {"pc1_composition_corr": _iv(0.2), "helpful_toward_minus_away": _iv(0.0)},
        )
    }
    ch5 = {
        SMOL: doc(
            SMOL,
            {"roles_away_minus_random": 0.1, "assistant_toward_minus_random": 0.2},
            {"roles_away_minus_random": _iv(0.1), "assistant_toward_minus_random": _iv(0.2)},
        )
    }
    ch6 = {
        SMOL: doc(
            SMOL,
            {"r2_position": 0.1, "r2_position_minus_change": 0.4, "domain_drift_gap": -1.0},
            {"r2_position": _iv(0.1), "r2_position_minus_change": _iv(0.4), "domain_drift_gap": _iv(-1.0)},
        )
    }
    ch7 = {
        SMOL: doc(
            SMOL,
            {
                "harm_reduction": 0.25,
                "capability_change": 0.0,
                "best_layers": "15-18",
                "best_percentile": 25,
                "best_convention": "paper-code",
                "n_layers": 30,
            },
            {"harm_reduction": _iv(0.25), "capability_change": _iv(0.0)},
        )
    }
    return {
        "01_persona_space": ch1,
        "02_assistant_axis": ch2,
        "03_cross_model": ch3,
        "04_base_vs_instruct": ch4,
        "05_steering": ch5,
        "06_drift": ch6,
        "07_capping": ch7,
    }


def test_every_cell_of_a_complete_run_is_filled() -> None:
    docs = _book_docs()
    assert gaps(Results(docs)) == []
    # no claim in chapter 8
    assert gaps(Results(docs), ["01_persona_space", "07_capping", "08_live_demo"]) == []
    # and each of these cells shows a number: none reads "not yet run"
    _, rows = evaluate(results=Results(docs))
    ran = {(c, m) for c, d in docs.items() for m in d}
    for r in rows:
        for m, c in r.cells.items():
            if (r.claim.chapter, r.claim.saved_under or m) in ran and c.status != NOT_APPLICABLE:
                assert c.status != NOT_RUN, (r.claim.id, m)


def test_a_renamed_key_is_a_gap() -> None:
    docs = _book_docs()
    numbers = docs["02_assistant_axis"][QWEN]["numbers"]
    numbers["cos_axis_pc1_mid"] = numbers.pop("cos_axis_pc1_middle")  # type: ignore[union-attr]
    assert gaps(Results(docs)) == [
        f"C4 (02_assistant_axis/{QWEN}): no `cos_axis_pc1_middle` in the saved numbers "
        "(the registry reads that key)"
    ]
    docs = _book_docs()
    numbers = docs["03_cross_model"]["all"]["numbers"]
    numbers["pc1_shared"] = numbers.pop("pc1_shared_min_pair")  # type: ignore[union-attr]
    assert gaps(Results(docs)) == [
        "C6b (03_cross_model/all): no `pc1_shared_min_pair` in the saved numbers "
        "(the registry reads that key)"
    ]


@pytest.mark.parametrize(
    ("chapter", "model", "change", "gap"),
    [
        (
            "06_drift",
            SMOL,
            {"r2_position": math.nan},
            "C12 (06_drift/smollm2-135m-instruct): `r2_position` is nan, not a finite number",
        ),
        (
            "06_drift",
            SMOL,
            {"r2_position": "0.1"},
            "C12 (06_drift/smollm2-135m-instruct): `r2_position` is '0.1', not a finite number",
        ),
        (
            "06_drift",
            SMOL,
            {"intervals": {"r2_position": _iv(0.1), "domain_drift_gap": _iv(-1.0)}},
            "C13 (06_drift/smollm2-135m-instruct): no interval saved for `r2_position_minus_change`",
        ),
        (
            "05_steering",
            SMOL,
            {
                "intervals": {
                    "roles_away_minus_random": _iv(0.1),
                    "assistant_toward_minus_random": iv(math.nan, math.nan, 0.2).to_dict(),
                }
            },
            "C11 (05_steering/smollm2-135m-instruct): the interval of `assistant_toward_minus_random` is not finite: 0.20 [nan, nan]",
        ),
        (
            "03_cross_model",
            "all",
            {"axis_min_pair": 0.5},
            "C6a (03_cross_model/all): `axis_min_pair` is not a dict model -> number",
        ),
        (
            "03_cross_model",
            "all",
            {"pc1_min_pair": {SMOL: 0.5, QWEN: math.inf}},
            f"C6 (03_cross_model/all, {QWEN}): `pc1_min_pair` is inf, not a finite number",
        ),
    ],
)
def test_each_kind_of_gap(chapter: str, model: str, change: dict[str, object], gap: str) -> None:
    docs = _book_docs()
    docs[chapter][model]["numbers"].update(change)  # type: ignore[union-attr]
    assert gaps(Results(docs)) == [gap]


def test_a_chapter_that_ran_but_saved_nothing_is_a_gap() -> None:
    docs = _book_docs()
    del docs["05_steering"]
    assert gaps(Results(docs), list(_book_docs())) == [
        "05_steering: ran but saved no result (its claims: C10, C11)"
    ]
    docs = _book_docs()
    # under an instruct model
    docs["04_base_vs_instruct"] = {SMOL: {**docs["04_base_vs_instruct"][BASE], "model": SMOL}}
    assert gaps(Results(docs)) == [
        "C8 (04_base_vs_instruct): no result saved under a model it applies to (base)",
        "C9 (04_base_vs_instruct): no result saved under a model it applies to (base)",
    ]
    del docs["03_cross_model"]["all"]
    docs["03_cross_model"][SMOL] = docs["04_base_vs_instruct"][SMOL]
    assert gaps(Results(docs), ["03_cross_model"]) == [
        f"C{k} (03_cross_model/all): no result saved under 'all'" for k in ("6", "6a", "6b", "7")
    ]
