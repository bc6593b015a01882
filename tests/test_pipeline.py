"""The pipeline end to end on a tiny random model: persona_space, label, rescore, the typed API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import CharTokenizer, tiny_spec
from persona_axis.core.presets import preset
from persona_axis.engine.rollouts import teacher_force
from persona_axis.judge import Judgement
from persona_axis.persona.catalogue import load_catalogue


class _LengthJudge:
    """3 for every response of a role whose name sorts before "m", else 1: a deterministic stand-in."""

    def identity(self) -> dict[str, Any]:
        return {"rule": "names before m"}

    def judge(
        self, role_name: str, role_description: str, responses: list[str], questions: Any = None
    ) -> list[Judgement]:
        return [Judgement(3 if role_name < "m" else 1) for _ in responses]


def test_persona_space_end_to_end(model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from persona_axis.persona.pipeline import persona_space
    from persona_axis.persona.runs import rescore

    monkeypatch.setenv("PERSONA_AXIS_ARTIFACTS", str(tmp_path))
    tok, spec = CharTokenizer(), tiny_spec()
    params = preset("persona_space", "tiny")
    params.update(roles=4, max_new_tokens=4, labels=[3, 2], min_count=1)
    ps = persona_space((model, tok, spec), params, judge=_LengthJudge(), progress=False)
    table = ps.rollouts.table
    # every role rollout is labelled by the judge's rule, the default rollouts are not
    roles = table["group"] == "role"
    assert table.loc[roles, "label"].tolist() == [3 if n < "m" else 1 for n in table.loc[roles, "name"]]
    assert {3, 1} <= set(table.loc[roles, "label"])
    assert table.loc[~roles, "label"].isna().all()
    # the axis: the mean default activation minus the mean of the "fully" role vectors, at every layer,
    # each role's vector the mean of its rollouts labelled 3 (written out here, not with space.role_vectors)
    acts = ps.rollouts.acts
    fully = roles & (table["label"] == 3)
    names = sorted(set(table.loc[fully, "name"]))
    means = torch.stack(
        [acts[torch.tensor((fully & (table["name"] == n)).to_numpy())].mean(0) for n in names]
    )
    want = acts[torch.tensor((~roles).to_numpy())].mean(0) - means.mean(0)
    assert torch.allclose(ps.axis.vectors, want, atol=1e-5)
    # label 1 is not kept
    assert sorted(ps.role_vectors.names) == names and set(ps.role_vectors.labels) == {3}
    # the calibration: every rollout's projection; any percentile on request
    proj = ps.axis.project(ps.rollouts.acts[:, ps.layers.index(2)], 2)
    assert ps.threshold(2, 37.0) == pytest.approx(float(torch.quantile(proj, 0.37)), abs=1e-6)
    assert ps.axis.calibration is ps.calibration
    assert ps.calibration.population == {"role": int(roles.sum()), "default": int((~roles).sum())}
    assert ps.calibration.sources == (ps.rollouts.key,)
    # a second call reads everything back
    again = persona_space((model, tok, spec), params, judge=_LengthJudge(), progress=False)
    assert again.rollouts.key == ps.rollouts.key and again.rollouts.labels_key == ps.rollouts.labels_key
    assert torch.equal(again.axis.vectors, ps.axis.vectors) and torch.equal(
        again.calibration.projections, ps.calibration.projections
    )
    assert again.calibration.key == ps.calibration.key
    # rescore: the same model reading its own rollouts teacher-forced gives teacher_force's activations, and keeps the labels
    re = rescore(model, tok, spec, ps.rollouts, root=tmp_path, progress=False, batch_size=3)
    rows = list(ps.rollouts.table.itertuples())[:3]
    convs = [
        (
            r.system if isinstance(r.system, str) and r.system else None,
            [r.question, r.response.strip() or "..."],
        )
        for r in rows
    ]
    direct = torch.cat(teacher_force(model, tok, spec, convs, batch_size=1))
    assert torch.allclose(re.acts[:3], direct, atol=1e-4)
    assert re.labels_key == ps.rollouts.labels_key and re.table["label"].equals(ps.rollouts.table["label"])


def test_presets_are_typed_copies() -> None:
    a = preset("capping", "tiny")
    a["sizes"]["jailbreak"] = 999
    assert preset("capping", "tiny")["sizes"]["jailbreak"] == 4  # nothing shared with the table
    with pytest.raises(KeyError, match="unknown preset"):
        preset("drift", "huge")
    from persona_axis.core.presets import PRESET_NAMES, PRESETS

    assert all(tuple(table) == PRESET_NAMES for table in PRESETS.values())


def test_public_api_is_light_and_complete() -> None:
    import subprocess
    import sys

    import persona_axis

    code = "import sys, persona_axis; print('torch' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )
    for name in persona_axis.__all__:
        assert getattr(persona_axis, name) is not None, name
    assert persona_axis.persona_space.__module__ == "persona_axis.persona.pipeline"


def test_catalogue_default_is_the_books() -> None:
    assert len(load_catalogue().roles) >= 200
