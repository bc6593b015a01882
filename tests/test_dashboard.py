"""The dashboard: every claim rated from saved results, with exact expected cells and statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona_axis.build import _prune_toc
from persona_axis.dashboard import (
    CLAIMS, NOT_APPLICABLE, NOT_AT_SCALE, NOT_RUN, PARTLY, REPRODUCED, Claim, Results, evaluate, render_dashboard,
)
from persona_axis.results import save_result
from persona_axis.store import CacheError

SMOL, QWEN, BASE = "smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "gemma3-270m-base"


@pytest.fixture
def art(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty artifacts folder used by save_result and the dashboard."""
    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path / "art"))
    return tmp_path / "art"


def claim(chapter: str, key: str) -> Claim:
    (c,) = [c for c in CLAIMS if c.chapter == chapter and c.key == key]
    return c


def cell(c: Claim, model: str) -> tuple[str, str]:
    _, rows = evaluate([c])
    got = rows[0].cells[model]
    return got.text, got.status


@pytest.mark.parametrize(("value", "status"), [
    (0.72, REPRODUCED), (0.7100001, REPRODUCED), (0.71, PARTLY), (0.3000001, PARTLY), (0.3, NOT_AT_SCALE), (-0.9, NOT_AT_SCALE),
])
def test_cos_middle_boundaries(art: Path, value: float, status: str) -> None:
    save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": value}, {"preset": "book"})
    text, got = cell(claim("02_assistant_axis", "cos_axis_pc1_middle"), SMOL)
    assert got == status
    assert text == f"{value:.2f}".replace("-", "−") + f" · {status}"


@pytest.mark.parametrize(("value", "status"), [(4, REPRODUCED), (19, REPRODUCED), (20, PARTLY), (38, PARTLY), (39, NOT_AT_SCALE)])
def test_components_for_70_boundaries(art: Path, value: int, status: str) -> None:
    save_result("01_persona_space", QWEN, {"n_for_70": value}, {"preset": "book"})
    assert cell(claim("01_persona_space", "n_for_70"), QWEN) == (f"{value} · {status}", status)


@pytest.mark.parametrize(("value", "status"), [(0.4, REPRODUCED), (0.3999, PARTLY), (0.2, PARTLY), (0.1999, NOT_AT_SCALE)])
def test_pc1_share_boundaries(art: Path, value: float, status: str) -> None:
    save_result("01_persona_space", SMOL, {"pc1_share": value}, {})
    assert cell(claim("01_persona_space", "pc1_share"), SMOL)[1] == status


@pytest.mark.parametrize(("value", "status"), [(0.1, REPRODUCED), (0.1001, PARTLY), (0.25, PARTLY), (0.2501, NOT_AT_SCALE)])
def test_default_distance_boundaries(art: Path, value: float, status: str) -> None:
    save_result("01_persona_space", SMOL, {"default_pc1_distance": value}, {})
    assert cell(claim("01_persona_space", "default_pc1_distance"), SMOL)[1] == status


@pytest.mark.parametrize(("value", "status"), [(0.53, REPRODUCED), (0.5299, PARTLY), (0.2, PARTLY), (0.1999, NOT_AT_SCALE)])
def test_r2_position_boundaries(art: Path, value: float, status: str) -> None:
    save_result("06_drift", SMOL, {"r2_position": value}, {})
    assert cell(claim("06_drift", "r2_position"), SMOL)[1] == status


@pytest.mark.parametrize(("change", "position", "text", "status"), [
    (0.10, 0.40, "0.10 (0.40) · reproduced", REPRODUCED),       # gap exactly 0.30
    (0.10, 0.39, "0.10 (0.39) · partly", PARTLY),                # both low
    (0.20, 0.90, "0.20 (0.90) · reproduced", REPRODUCED),       # change exactly at 0.20
    (0.21, 0.90, "0.21 (0.90) · not at this scale", NOT_AT_SCALE),
    (-0.67, -0.25, "−0.67 (−0.25) · partly", PARTLY),          # negative R²s count as 0: no gap
    (-0.50, 0.30, "−0.50 (0.30) · reproduced", REPRODUCED),    # 0.30 - 0 = 0.30
])
def test_r2_change_rule(art: Path, change: float, position: float, text: str, status: str) -> None:
    save_result("06_drift", SMOL, {"r2_change": change, "r2_position": position}, {})
    assert cell(claim("06_drift", "r2_change, r2_position"), SMOL) == (text, status)


@pytest.mark.parametrize(("change", "status"), [
    ({"coding": -1.0, "writing": -2.0, "therapy": -3.0, "philosophy": -2.5}, REPRODUCED),
    ({"coding": -1.0, "writing": -2.0, "therapy": -3.0, "philosophy": -1.5}, PARTLY),     # means ordered, not each
    ({"coding": -1.0, "writing": -2.0, "therapy": -2.0, "philosophy": -1.0}, NOT_AT_SCALE),  # equal means
])
def test_domain_drift_rule(art: Path, change: dict[str, float], status: str) -> None:
    save_result("06_drift", SMOL, {"domain_change": change}, {})
    text, got = cell(claim("06_drift", "domain_change"), SMOL)
    assert got == status
    assert text.startswith(f"therapy {change['therapy']:.2f}".replace("-", "−"))


def shares(table: dict[str, list[float]], coefs: tuple[float, ...]) -> dict[str, dict[str, float]]:
    """``label -> {coefficient: share}`` with string keys, as a saved result reads back from JSON."""
    return {lab: {str(c): v for c, v in zip(coefs, vals)} for lab, vals in table.items()}


def test_steering_shares_read_and_rated(art: Path) -> None:
    coefs = (-1.0, -0.5, 0.0, 0.5)
    s = shares({"assistant": [0.0, 0.2, 0.5, 0.75], "human role": [0.25, 0.25, 0.25, 0.0],
                "non-human role": [0.25, 0.0, 0.0, 0.0], "mystical or theatrical": [0.5, 0.5, 0.0, 0.0],
                "other": [0.0, 0.05, 0.25, 0.25], "nonsensical": [0.0, 0.0, 0.0, 0.0]}, coefs)
    save_result("05_steering", SMOL, {"shares": s}, {})
    # away: mean of (1.0, 0.75) = 0.875; unsteered 0.25; toward 0.0
    assert cell(claim("05_steering", "shares[human role + non-human role + mystical or theatrical]"), SMOL) == \
        ("0.88 → 0.25 → 0.00 · reproduced", REPRODUCED)
    # assistant: away mean(0.0, 0.2) = 0.1 < 0.5 <= 0.75
    assert cell(claim("05_steering", "shares[assistant]"), SMOL) == ("0.10 → 0.50 → 0.75 · reproduced", REPRODUCED)


@pytest.mark.parametrize(("away", "plain", "status"), [(0.35, 0.25, REPRODUCED), (0.34, 0.25, PARTLY), (0.25, 0.25, NOT_AT_SCALE)])
def test_steering_away_boundaries(art: Path, away: float, plain: float, status: str) -> None:
    s = shares({"human role": [away, plain, 0.0], "assistant": [0.0, 0.5, 1.0]}, (-1.0, 0.0, 1.0))
    save_result("05_steering", QWEN, {"shares": s}, {})
    assert cell(claim("05_steering", "shares[human role + non-human role + mystical or theatrical]"), QWEN)[1] == status


@pytest.mark.parametrize(("assistant", "status"), [
    ([0.1, 0.5, 0.5], REPRODUCED), ([0.1, 0.6, 0.5], PARTLY), ([0.5, 0.6, 0.5], NOT_AT_SCALE),
])
def test_steering_toward_rule(art: Path, assistant: list[float], status: str) -> None:
    save_result("05_steering", SMOL, {"shares": shares({"assistant": assistant}, (-0.5, 0.0, 0.5))}, {})
    assert cell(claim("05_steering", "shares[assistant]"), SMOL)[1] == status


@pytest.mark.parametrize(("helpful", "spiritual", "status"), [
    ([0.0, 0.25, 0.5], [0.5, 0.25, 0.0], REPRODUCED),
    ([0.0, 0.25, 0.5], [0.0, 0.25, 0.5], PARTLY),     # helpful ordered, spiritual not
    ([0.0, 0.75, 0.5], [0.5, 0.25, 0.0], PARTLY),     # helpful only higher toward than away
    ([0.5, 0.25, 0.5], [0.5, 0.25, 0.0], NOT_AT_SCALE),
])
def test_base_steering_rule(art: Path, helpful: list[float], spiritual: list[float], status: str) -> None:
    s = shares({"helpful human archetype": helpful, "spiritual or mystical": spiritual}, (-0.2, 0.0, 0.2))
    save_result("04_base_vs_instruct", BASE, {"shares": s, "pc1_composition_corr": 0.83}, {})
    text, got = cell(claim("04_base_vs_instruct", "shares"), BASE)
    assert got == status
    assert text.startswith(f"helpful {helpful[0]:.2f} → {helpful[1]:.2f} → {helpful[2]:.2f}; spiritual")
    # the base claims apply to the base model only; 0.83 is not above the paper's 0.83
    assert cell(claim("04_base_vs_instruct", "pc1_composition_corr"), BASE) == ("0.83 · partly", PARTLY)
    assert cell(claim("04_base_vs_instruct", "shares"), SMOL) == (NOT_APPLICABLE, NOT_APPLICABLE)


def test_cross_model_reads_lowest_pair_and_skips_base_rows(art: Path) -> None:
    b = f"{BASE} (on {SMOL} rollouts)"
    pc1 = {SMOL: {SMOL: 1.0, QWEN: 0.93, b: -0.9}, QWEN: {SMOL: 0.93, QWEN: 1.0, b: 0.1}, b: {SMOL: -0.9, QWEN: 0.1, b: 1.0}}
    trait = {SMOL: {SMOL: 1.0, QWEN: 0.81}, QWEN: {SMOL: 0.81, QWEN: 1.0}}
    save_result("03_cross_model", "all", {"pc1": pc1, "trait_pc1": trait}, {"preset": "quick"})
    c, t = claim("03_cross_model", "pc1[model][other model]"), claim("03_cross_model", "trait_pc1[model][other model]")
    assert cell(c, SMOL) == ("0.93 · reproduced", REPRODUCED)
    assert cell(t, QWEN) == ("0.81 · partly", PARTLY)
    assert cell(c, BASE) == (NOT_APPLICABLE, NOT_APPLICABLE)


def test_cross_model_with_one_model_is_not_yet_run(art: Path) -> None:
    save_result("03_cross_model", "all", {"pc1": {SMOL: {SMOL: 1.0}}, "trait_pc1": {SMOL: {SMOL: 1.0}}}, {})
    assert cell(claim("03_cross_model", "pc1[model][other model]"), SMOL) == (NOT_RUN, NOT_RUN)
    assert cell(claim("03_cross_model", "pc1[model][other model]"), QWEN) == (NOT_RUN, NOT_RUN)


def test_capping_claims(art: Path) -> None:
    save_result("07_capping", QWEN, {"harm_baseline": 0.8, "harm_capped": 0.4, "harm_reduction": 0.5,
                                     "capability_change": -0.01, "best_layers": "17-20", "best_percentile": 25,
                                     "best_convention": "paper"}, {"preset": "book"})
    save_result("07_capping", SMOL, {"harm_reduction": 0.1999, "capability_change": -0.0501, "best_layers": "3-5",
                                     "best_percentile": 50, "best_convention": "code"}, {"preset": "book"})
    harm = claim("07_capping", "harm_reduction (harm_baseline → harm_capped)")
    assert cell(harm, QWEN) == ("50% fewer (0.80 → 0.40) · reproduced", REPRODUCED)
    assert cell(harm, SMOL) == ("20% fewer · not at this scale", NOT_AT_SCALE)
    cap = claim("07_capping", "capability_change")
    assert cell(cap, QWEN) == ("−1.0 points · reproduced", REPRODUCED)
    assert cell(cap, SMOL)[1] == NOT_AT_SCALE
    band = claim("07_capping", "best_layers")
    # qwen2.5-coder has 24 layers: centre 18.5 / 24 = 77%; smollm2 30 layers: centre 4 / 30 = 13%
    assert cell(band, QWEN) == ("17-20 of 24 (centre at 77% depth) · reproduced", REPRODUCED)
    assert cell(band, SMOL)[1] == NOT_AT_SCALE
    pct = claim("07_capping", "best_percentile, best_convention")
    assert cell(pct, QWEN) == ("25th (paper convention) · reproduced", REPRODUCED)
    assert cell(pct, SMOL) == ("50th (code convention) · partly", PARTLY)
    for p, conv, status in [(25, "paper-text", REPRODUCED), (75, "paper-text", REPRODUCED), (25, "paper-code", REPRODUCED),
                            (1, "paper-text", PARTLY), (75, "paper-code", REPRODUCED), (1, "paper-code", NOT_AT_SCALE)]:
        save_result("07_capping", SMOL, {"best_percentile": p, "best_convention": conv}, {"preset": "book"})
        assert cell(pct, SMOL)[1] == status, (p, conv)


def test_capping_band_of_a_hub_model(art: Path) -> None:
    """The paper's own best bands are reproduced by the rule; the layer count of a hub model comes
    from chapter 2's per-layer cosines, and without it the band cannot be rated."""
    big = "Qwen/Qwen3-32B"
    save_result("07_capping", big, {"best_layers": "46-53"}, {"preset": "paper"})
    band = claim("07_capping", "best_layers")
    assert cell(band, big) == ("46-53 (layer count unknown: run chapter 2) · not yet run", NOT_RUN)
    save_result("02_assistant_axis", big, {"cos_axis_pc1": {str(i): 0.8 for i in range(64)}}, {"preset": "paper"})
    assert cell(band, big) == ("46-53 of 64 (centre at 77% depth) · reproduced", REPRODUCED)
    save_result("07_capping", "meta-llama/Llama-3.3-70B-Instruct", {"best_layers": "56-71", "n_layers": 80}, {})
    assert cell(band, "meta-llama/Llama-3.3-70B-Instruct")[1] == REPRODUCED


def test_missing_results_are_not_yet_run_and_kinds_are_dashes(art: Path) -> None:
    models, rows = evaluate()
    assert models == [SMOL, QWEN, BASE]
    for r in rows:
        for m in models:
            expected = NOT_RUN if (m == BASE) == (r.claim.applies_to == "base") else NOT_APPLICABLE
            assert r.cells[m].status == expected and r.cells[m].text == expected
    assert not (art / "results").exists()  # reading creates no folders


def test_result_without_the_key_or_with_nan(art: Path) -> None:
    save_result("02_assistant_axis", SMOL, {"middle_layer": 15}, {})
    assert cell(claim("02_assistant_axis", "cos_axis_pc1_middle"), SMOL) == \
        ("not yet run (the saved result has no `cos_axis_pc1_middle`)", NOT_RUN)
    save_result("06_drift", SMOL, {"r2_position": float("nan")}, {})
    assert cell(claim("06_drift", "r2_position"), SMOL)[1] == NOT_RUN


def test_corrupt_results_file_raises_cache_error(art: Path) -> None:
    path = save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": 0.8}, {})
    path.write_text('{"model": "smollm2')
    with pytest.raises(CacheError, match=r"smollm2-135m-instruct\.json is corrupt\. Delete it"):
        render_dashboard()
    path.write_text('{"chapter": "02_assistant_axis"}')
    with pytest.raises(CacheError, match="not a chapter result"):
        Results.load(["02_assistant_axis"])


def test_rendered_page(art: Path, tmp_path: Path) -> None:
    save_result("02_assistant_axis", SMOL, {"cos_axis_pc1_middle": 0.45, "cos_axis_pc1_min": 0.61}, {"preset": "book"})
    save_result("02_assistant_axis", QWEN, {"cos_axis_pc1_middle": 0.82, "cos_axis_pc1_min": 0.42}, {"preset": "tiny"})
    staged = tmp_path / "src" / "notebooks"
    staged.mkdir(parents=True)
    (staged / "02_assistant_axis.ipynb").write_text("{}")
    md = render_dashboard(notebooks_dir=staged, preset="tiny")
    lines = md.splitlines()
    # 18 claims: 16 for two instruct models, 2 for the base model = 34 pairs, 4 of them with results
    assert lines[0] == "Of 34 claim-model pairs: **2 reproduced**, **2 partly**, **0 not at this scale**, **30 not yet run**."
    assert lines[2] == f"| claim | paper | `{SMOL}` | `{QWEN}` | `{BASE}` | chapter |"
    assert lines[3] == "|---|---|---|---|---|---|"
    assert ("| cos(Assistant Axis, PC1) at the middle layer | > 0.71 in all three models | 0.45 · partly | "
            "0.82 · reproduced | — | {doc}`../notebooks/02_assistant_axis` |") in lines
    assert ("| cos(Assistant Axis, PC1), lowest over all layers | > 0.60 in all three models | 0.61 · reproduced | "
            "0.42 · partly | — | {doc}`../notebooks/02_assistant_axis` |") in lines
    # chapters not staged as .ipynb are named, not linked (a {doc} to a missing page fails -W)
    assert "`07_capping` (not in this build)" in md and "`01_persona_space` (not in this build)" in md
    assert "{doc}`../notebooks/07_capping`" not in md
    assert "- 02_assistant_axis, `qwen2.5-coder-0.5b-instruct`: preset `tiny`, saved " in md
    assert f"- 02_assistant_axis, `{SMOL}`: preset `book` (not this build's `tiny`: an earlier run), saved " in md
    assert "reproduced if > 0.71 (the paper's lowest), partly if > 0.3, else not at this scale." in md


def test_extra_models_get_columns(art: Path) -> None:
    save_result("02_assistant_axis", "Qwen/Qwen3-32B", {"cos_axis_pc1_middle": 0.9}, {"preset": "paper"})
    save_result("04_base_vs_instruct", "google/gemma-2-27b", {"pc1_composition_corr": 0.95}, {"preset": "paper"})
    models, rows = evaluate()
    assert models == [SMOL, QWEN, BASE, "Qwen/Qwen3-32B", "google/gemma-2-27b"]
    by_claim = {r.claim.key: r.cells for r in rows}
    assert by_claim["cos_axis_pc1_middle"]["Qwen/Qwen3-32B"].status == REPRODUCED
    assert by_claim["cos_axis_pc1_middle"]["google/gemma-2-27b"].status == NOT_APPLICABLE
    assert by_claim["pc1_composition_corr"]["google/gemma-2-27b"].text == "0.95 · reproduced"
    assert by_claim["pc1_composition_corr"]["Qwen/Qwen3-32B"].status == NOT_APPLICABLE


def test_every_claim_documents_its_rule() -> None:
    for c in CLAIMS:
        assert c.rule and c.paper and c.chapter[:2].isdigit(), c
        assert "reproduced" in c.rule and "not at this scale" in c.rule, c


def test_prune_toc_drops_pages_not_staged(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book" / "dashboard.md").write_text("# d")
    (tmp_path / "notebooks" / "02_assistant_axis.ipynb").write_text("{}")
    (tmp_path / "notebooks" / "02_assistant_axis--qwen2.5-coder-0.5b-instruct.ipynb").write_text("{}")
    toc = {"root": "book/intro", "parts": [
        {"caption": "a", "chapters": [{"file": "book/dashboard"}, {"file": "notebooks/00_quickstart"}]},
        {"caption": "b", "chapters": [{"file": "notebooks/02_assistant_axis",
                                       "sections": [{"file": "notebooks/02_assistant_axis--qwen2.5-coder-0.5b-instruct"},
                                                    {"file": "notebooks/02_assistant_axis--smollm2-135m-instruct"}]}]},
        {"caption": "c", "chapters": [{"file": "notebooks/07_capping"}]}]}
    assert _prune_toc(toc, tmp_path) == ["notebooks/00_quickstart", "notebooks/02_assistant_axis--smollm2-135m-instruct",
                                         "notebooks/07_capping"]
    assert toc["parts"] == [{"caption": "a", "chapters": [{"file": "book/dashboard"}]},
                            {"caption": "b", "chapters": [{"file": "notebooks/02_assistant_axis", "sections": [
                                {"file": "notebooks/02_assistant_axis--qwen2.5-coder-0.5b-instruct"}]}]}]


def test_a_value_saved_as_none_means_nothing_found(art: Path) -> None:
    save_result("07_capping", SMOL, {"harm_baseline": 0.5, "harm_capped": None, "harm_reduction": None,
                                     "capability_change": None, "best_layers": None, "best_percentile": None,
                                     "best_convention": None, "n_layers": 30}, {"preset": "book"})
    for key in ("harm_reduction (harm_baseline → harm_capped)", "capability_change", "best_layers",
                "best_percentile, best_convention"):
        assert cell(claim("07_capping", key), SMOL) == ("none found in this run", NOT_AT_SCALE), key
