"""The live demo: two replies per message, scored by the drift monitor; the ipywidgets panel driven by clicks."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import tiny_model
from helpers import CharTokenizer, tiny_spec
from persona_axis.engine.rollouts import Sampling
from persona_axis.interventions.capping import CapPlan, CapSetting
from persona_axis.interventions.drift import DriftMonitor
from persona_axis.persona.axis import Axis
from persona_axis.viz.live import LiveSession, chosen_setting, panel

LAYER = 2


def session(threshold: float = -1e9, tau: float | None = None) -> LiveSession:
    model = tiny_model("llama")
    direction = torch.randn(64, generator=torch.Generator().manual_seed(0))
    axis = Axis(torch.stack([direction] * 4), [0, 1, 2, 3], "tiny", "random")
    mon = DriftMonitor(model, CharTokenizer(), tiny_spec(), axis, LAYER, threshold=threshold)
    plan = (
        None
        if tau is None
        else CapPlan({LAYER: axis.unit(LAYER)}, {LAYER: tau}, "floor", CapSetting((LAYER,), 25))
    )
    return LiveSession(mon, plan, norm=1.0, sampling=Sampling(temperature=0, max_new_tokens=5))


def test_without_interventions_both_replies_are_the_same() -> None:
    s = session()
    t = s.send("hello there")
    assert t.plain == t.intervened and t.plain_projection == t.intervened_projection
    t2 = s.send("and then?")
    assert [x.user for x in s.turns] == ["hello there", "and then?"] and t2.plain == t2.intervened
    # the monitor's own replay of the plain conversation gives the recorded projections
    replay = s.monitor.score(["hello there", t.plain, "and then?", t2.plain])
    assert replay.projections == pytest.approx([t.plain_projection, t2.plain_projection], abs=1e-5)
    assert len(s.table()) == 2 and len(s.long_table()) == 4


def test_steering_away_is_flagged_and_the_hooks_come_off() -> None:
    s = session()
    plain = s.send("hello there")
    s.reset()
    s.monitor.threshold = plain.plain_projection - 5.0
    t = s.send("hello there", steer=-25.0)
    assert t.plain == plain.plain and t.plain_projection == plain.plain_projection  # no hook left behind
    assert t.intervened_projection < s.monitor.threshold and t.intervened_flagged and not t.plain_flagged
    assert t.steer == -25.0 and not t.capping


def test_capping_keeps_the_reply_above_the_floor() -> None:
    s = session()
    base = s.send("tell me a story").plain_projection
    floor = base + 3.0
    s = session(tau=floor)
    t = s.send("tell me a story", capping=True)
    # read inside the capped layer, every token is at or above the floor, so their mean is too
    assert t.intervened_projection >= floor - 1e-4 and t.plain_projection < floor
    assert t.capping
    # a push away from the Assistant at the capped layer is applied first, then capped: still above the floor
    pushed = session(tau=floor).send("tell me a story", capping=True, steer=-25.0)
    assert pushed.intervened_projection >= floor - 1e-4
    assert session().send("tell me a story", steer=-25.0).intervened_projection < floor - 10
    with pytest.raises(ValueError, match="no capping plan"):
        session().send("x", capping=True)
    with pytest.raises(ValueError, match="empty"):
        s.send("   ")


def test_record_html_and_json(tmp_path) -> None:
    s = session(threshold=1e9)
    s.send("a <b>bold</b> question")
    html = s.transcript_html()
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "below threshold" in html and "no intervention" in html
    doc = json.loads(s.save(tmp_path / "session.json").read_text())
    assert doc["layer"] == LAYER and doc["turns"][0]["user"] == "a <b>bold</b> question"


def test_panel_sends_on_click_and_resets() -> None:
    s = session(tau=0.0)
    box = panel(s)
    message, row, status, transcript, _plot = box.children
    send, cap_on, strength, reset = row.children
    send.click()
    assert s.turns == [] and "Type a message" in status.value
    message.value, cap_on.value, strength.value = "who are you?", True, -0.5
    send.click()
    assert len(s.turns) == 1 and s.turns[0].capping and s.turns[0].steer == -0.5
    assert "who are you?" in transcript.value and message.value == ""
    reset.click()
    assert s.turns == [] and "who are you?" not in transcript.value


def test_chosen_setting_is_chapter_7s_declared_one_or_the_papers() -> None:
    # the sweep's choice
    saved = {
        "best_layers": "10-13",
        "best_percentile": 1.0,
        "best_convention": "paper-text",
        "declared_layers": "20-23",
        "declared_percentile": 25.0,
        "declared_convention": "paper-code",
    }
    s, why = chosen_setting(30, saved)
    assert s.layers == (20, 21, 22, 23) and s.axis_percentile == 75 and "declared and rated" in why
    s, why = chosen_setting(30, None)
    assert (
        s.percentile == 25 and s.convention == "paper-text" and len(s.layers) == 4 and "not been run" in why
    )
    assert "predate" in chosen_setting(30, {"best_layers": "20-23"})[1]
