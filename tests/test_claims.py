"""The claims registry: the five rules at their boundaries, cells read from saved results, chapter tables."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from persona_axis.claims.registry import CLAIMS, Claim, claim, evaluate, gaps, sentence, table
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
        if not c.rated:            # shown, never rated: the rule says so and names no status
            assert c.rule == f"not rated: {c.why}" and "*reproduced*" not in c.rule, c
        elif c.rate_point is None:  # the five rules, each status with its bound, in this order
            assert c.rule.startswith("*reproduced* if the interval lies ") and c.rule.endswith("; else *inconclusive*"), c
            assert ("; *partly* if it lies " in c.rule) == (c.null is not None), c
            assert "; *not reproduced here* if it lies wholly " in c.rule, c
        else:                      # a chosen setting: its own rule, which still names when it is reproduced
            assert c.rule == c.point_rule and "*reproduced* if " in c.rule and "*not reproduced here*" in c.rule, c
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


# ---- the saved results against the registry (the tiny build's check, on hand-written documents) ----

def _iv(est: float) -> dict[str, object]:
    return iv(est - 0.1, est + 0.1, est).to_dict()


def _book_docs() -> dict[str, dict[str, dict[str, object]]]:
    """What the chapters save, written out by hand (key names as the chapters spell them, not from the registry)."""
    def doc(model: str, numbers: dict[str, object], intervals: dict[str, object]) -> dict[str, object]:
        return {"model": model, "numbers": {**numbers, "intervals": intervals}, "config": {"preset": "tiny"}}

    ch1 = {m: doc(m, {"n_for_70": 4, "pc1_share": 0.3, "default_pc1_distance": 0.2, "layer": 15},
                  {"n_for_70": _iv(4), "pc1_share": _iv(0.3), "default_pc1_distance": _iv(0.2)}) for m in (SMOL, QWEN)}
    ch2 = {m: doc(m, {"cos_axis_pc1_middle": 0.5, "cos_axis_pc1_min": 0.2, "cos_axis_pc1": {"0": 0.2, "1": 0.5}},
                  {"cos_axis_pc1_middle": _iv(0.5), "cos_axis_pc1_min": _iv(0.2)}) for m in (SMOL, QWEN)}
    pair = {SMOL: 0.5, QWEN: 0.5}
    ch3 = {"all": doc("all", {"pc1_min_pair": pair, "axis_min_pair": pair, "pc1_shared_min_pair": pair,
                              "trait_pc1_min_pair": {SMOL: None, QWEN: None}},   # no trait passed the filter
                      {k: {SMOL: _iv(0.5), QWEN: _iv(0.5)} for k in ("pc1_min_pair", "axis_min_pair", "pc1_shared_min_pair")})}
    ch4 = {BASE: doc(BASE, {"pc1_composition_corr": 0.2, "helpful_toward_minus_away": 0.0},
                     {"pc1_composition_corr": _iv(0.2), "helpful_toward_minus_away": _iv(0.0)})}
    ch5 = {SMOL: doc(SMOL, {"roles_away_minus_unsteered": 0.1, "assistant_toward_minus_away": 0.2},
                     {"roles_away_minus_unsteered": _iv(0.1), "assistant_toward_minus_away": _iv(0.2)})}
    ch6 = {SMOL: doc(SMOL, {"r2_position": 0.1, "r2_position_minus_change": 0.4, "domain_drift_gap": -1.0},
                     {"r2_position": _iv(0.1), "r2_position_minus_change": _iv(0.4), "domain_drift_gap": _iv(-1.0)})}
    ch7 = {SMOL: doc(SMOL, {"harm_reduction": 0.25, "capability_change": 0.0, "best_layers": "15-18", "best_percentile": 25,
                            "best_convention": "paper-code", "n_layers": 30},
                     {"harm_reduction": _iv(0.25), "capability_change": _iv(0.0)})}
    return {"01_persona_space": ch1, "02_assistant_axis": ch2, "03_cross_model": ch3, "04_base_vs_instruct": ch4,
            "05_steering": ch5, "06_drift": ch6, "07_capping": ch7}


def test_every_cell_of_a_complete_run_is_filled() -> None:
    docs = _book_docs()
    assert gaps(Results(docs)) == []
    assert gaps(Results(docs), ["01_persona_space", "07_capping", "08_live_demo"]) == []   # no claim in chapter 8
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
    numbers["cos_axis_pc1_mid"] = numbers.pop("cos_axis_pc1_middle")            # type: ignore[union-attr]
    assert gaps(Results(docs)) == [f"C4 (02_assistant_axis/{QWEN}): no `cos_axis_pc1_middle` in the saved numbers "
                                   "(the registry reads that key)"]
    docs = _book_docs()
    numbers = docs["03_cross_model"]["all"]["numbers"]
    numbers["pc1_shared"] = numbers.pop("pc1_shared_min_pair")                  # type: ignore[union-attr]
    assert gaps(Results(docs)) == ["C6b (03_cross_model/all): no `pc1_shared_min_pair` in the saved numbers "
                                   "(the registry reads that key)"]


@pytest.mark.parametrize(("chapter", "model", "change", "gap"), [
    ("06_drift", SMOL, {"r2_position": math.nan}, "C12 (06_drift/smollm2-135m-instruct): `r2_position` is nan, not a finite number"),
    ("06_drift", SMOL, {"r2_position": "0.1"}, "C12 (06_drift/smollm2-135m-instruct): `r2_position` is '0.1', not a finite number"),
    ("06_drift", SMOL, {"intervals": {"r2_position": _iv(0.1), "domain_drift_gap": _iv(-1.0)}},
     "C13 (06_drift/smollm2-135m-instruct): no interval saved for `r2_position_minus_change`"),
    ("05_steering", SMOL, {"intervals": {"roles_away_minus_unsteered": _iv(0.1),
                                         "assistant_toward_minus_away": iv(math.nan, math.nan, 0.2).to_dict()}},
     "C11 (05_steering/smollm2-135m-instruct): the interval of `assistant_toward_minus_away` is not finite: 0.20 [nan, nan]"),
    ("03_cross_model", "all", {"axis_min_pair": 0.5}, "C6a (03_cross_model/all): `axis_min_pair` is not a dict model -> number"),
    ("03_cross_model", "all", {"pc1_min_pair": {SMOL: 0.5, QWEN: math.inf}},
     f"C6 (03_cross_model/all, {QWEN}): `pc1_min_pair` is inf, not a finite number"),
    ("07_capping", SMOL, {"n_layers": None, "best_layers": "3-5"},
     "C17 (07_capping/smollm2-135m-instruct): reads *not yet run*: 3-5 (layer count unknown: run chapter 2) "
     "(a setting the chapter chose: no interval)"),
])
def test_each_kind_of_gap(chapter: str, model: str, change: dict[str, object], gap: str) -> None:
    docs = _book_docs()
    docs[chapter][model]["numbers"].update(change)                            # type: ignore[union-attr]
    if chapter == "07_capping":   # a model chapter 2 has not seen and the registry does not know
        docs[chapter] = {"big": {**docs[chapter][model], "model": "big"}}
    assert [g.replace("/big", f"/{model}") for g in gaps(Results(docs))] == [gap]


def test_a_chapter_that_ran_but_saved_nothing_is_a_gap() -> None:
    docs = _book_docs()
    del docs["05_steering"]
    assert gaps(Results(docs), list(_book_docs())) == ["05_steering: ran but saved no result (its claims: C10, C11)"]
    docs = _book_docs()
    docs["04_base_vs_instruct"] = {SMOL: {**docs["04_base_vs_instruct"][BASE], "model": SMOL}}  # under an instruct model
    assert gaps(Results(docs)) == ["C8 (04_base_vs_instruct): no result saved under a model it applies to (base)",
                                   "C9 (04_base_vs_instruct): no result saved under a model it applies to (base)"]
    del docs["03_cross_model"]["all"]
    docs["03_cross_model"][SMOL] = docs["04_base_vs_instruct"][SMOL]
    assert gaps(Results(docs), ["03_cross_model"]) == [f"C{k} (03_cross_model/all): no result saved under 'all'"
                                                       for k in ("6", "6a", "6b", "7")]
