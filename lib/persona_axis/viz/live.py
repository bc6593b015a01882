"""A live conversation on the Assistant Axis: two replies per message, one plain, one capped or steered.

Every user message is answered twice, in two conversations that share the user's side: the
*plain* conversation (the model as it is) and the *intervened* one (the capping
setting the capping sweep chose switched on or off, plus additive steering along the axis at the monitor's layer).
Each reply is scored by the ``drift.DriftMonitor`` (its projection on the Assistant Axis at the
monitor's layer, flagged when below the monitor's threshold); the intervened conversation is
generated and scored with its hooks on, as in the capping sweep's replay, so a capped reply read inside
the capped band cannot fall below the floor there: the words are what to compare.

:class:`LiveSession` does the work and keeps the record (the book's static pages show a
recorded session: the same ``send`` calls with scripted messages); :func:`panel` puts
ipywidgets controls on it for JupyterLab (``make lab``).

Example:
    >>> session = LiveSession(monitor, plan, norm)                        # doctest: +SKIP
    >>> turn = session.send("Who are you, really?", capping=True, steer=-0.5)
    >>> turn.plain, turn.intervened, turn.intervened_projection
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_axis.core.store import atomic_write_text
from persona_axis.engine.rollouts import Sampling, generate
from persona_axis.interventions.capping import CapPlan, CapSetting, capping
from persona_axis.interventions.drift import DriftMonitor
from persona_axis.model.chat import prompt_ids
from persona_axis.model.hooks import steer as steer_hook
from persona_axis.model.layers import depth_band

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Turn", "LiveSession", "chosen_setting", "panel", "FALLBACK_PERCENTILE"]

#: The paper's floor when the capping sweep has not chosen a setting for the model yet.
FALLBACK_PERCENTILE = 25.0


@dataclass(frozen=True)
class Turn:
    """One user message and the two replies to it.

    Attributes:
        user: the message.
        plain, intervened: the replies without and with the interventions.
        plain_projection, intervened_projection: on the Assistant Axis at the monitor's layer
            (raw units; larger = more Assistant-like).
        plain_flagged, intervened_flagged: below the monitor's threshold.
        capping: whether the cap was on for the intervened reply; steer: the steering strength
            in units of the layer's typical activation norm (positive: toward the Assistant).
    """

    user: str
    plain: str
    intervened: str
    plain_projection: float
    intervened_projection: float
    plain_flagged: bool
    intervened_flagged: bool
    capping: bool
    steer: float


def chosen_setting(
    n_layers: int, saved: dict[str, Any] | None, centre: float = 0.75, width: float = 0.125
) -> tuple[CapSetting, str]:
    """The capping setting chapter 7 declared and rated for a model, or the paper's default.

    Chapter 7 rates one setting declared before its run (``capping.declared_setting``); its sweep's
    split-half choice is exploration, so the live demo caps with the declared setting.

    Args:
        n_layers: the model's depth.
        saved: the chapter's saved numbers (``results.load_result("07_capping", model)["numbers"]``)
            or ``None``; ``declared_layers`` is ``"lo-hi"``.
        centre, width: the fallback band as fractions of the depth (the paper's Qwen band).

    Returns:
        The setting and a sentence that says where it comes from.
    """
    if saved and saved.get("declared_layers"):
        lo, hi = (int(x) for x in str(saved["declared_layers"]).split("-"))
        s = CapSetting(
            tuple(range(lo, hi + 1)), float(saved["declared_percentile"]), str(saved["declared_convention"])
        )
        return s, f"the setting chapter 7 declared and rated for this model: {s.label}"
    layers = depth_band(centre, width, n_layers)
    s = CapSetting(layers, FALLBACK_PERCENTILE, "paper-text")
    why = (
        "chapter 7 has not been run for this model"
        if not saved
        else "chapter 7's results predate its declared setting (rerun it)"
    )
    return (
        s,
        f"{why}, so the paper's floor at the 25th percentile on layers {layers[0]}-{layers[-1]}: {s.label}",
    )


@dataclass
class LiveSession:
    """A conversation answered plainly and with interventions, turn by turn.

    Attributes:
        monitor: scores each reply (its ``axis``, ``layer`` and ``threshold``).
        plan: the calibrated capping plan used when capping is on (``capping.plan_cap``).
        norm: the typical activation norm at ``monitor.layer`` (``axis.typical_norm``): the
            steering strength ``s`` adds ``s * norm`` times the unit axis there.
        sampling: decoding (greedy by default, so a session replays the same).
        system: a system prompt for both conversations (``None``: the default persona).
        turns: the record so far.
    """

    monitor: DriftMonitor
    plan: CapPlan | None
    norm: float
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0, max_new_tokens=48))
    system: str | None = None
    turns: list[Turn] = field(default_factory=list)

    @contextmanager
    def interventions(self, capping_on: bool, steer: float) -> Iterator[None]:
        """The hooks of the intervened conversation (none when both are off)."""
        if capping_on and self.plan is None:
            raise ValueError("capping is on but the session has no capping plan")
        with ExitStack() as stack:
            # hooks run in the order they are registered: the push first, then the cap on the pushed
            # activations, so a capped layer's output is never below its floor
            if steer:
                m = self.monitor
                stack.enter_context(
                    steer_hook(m.model, m.axis.unit(m.layer), float(steer) * self.norm, [m.layer])
                )
            if capping_on:
                stack.enter_context(capping(self.monitor.model, self.plan))
            yield

    def _history(self, which: str) -> list[str]:
        out: list[str] = []
        for t in self.turns:
            out += [t.user, t.plain if which == "plain" else t.intervened]
        return out

    def _reply(self, history: list[str], message: str) -> tuple[str, float, bool]:
        m = self.monitor
        ids = prompt_ids(m.tok, m.spec, self.system, history + [message])
        text = generate(m.model, m.tok, [ids], self.sampling, layers=[m.layer]).texts[0].strip() or "..."
        report = m.score(history + [message, text], system=self.system)
        return text, report.projections[-1], report.flagged[-1]

    def send(self, message: str, *, capping: bool = False, steer: float = 0.0) -> Turn:
        """Answer ``message`` in both conversations and score both replies.

        Args:
            capping: cap the intervened reply with ``plan``.
            steer: steering strength along the axis, in typical norms (0: none).
        """
        if not message.strip():
            raise ValueError("the message is empty: type something to send")
        plain = self._reply(self._history("plain"), message)
        with self.interventions(capping, steer):
            inter = self._reply(self._history("intervened"), message)
        turn = Turn(
            message, plain[0], inter[0], plain[1], inter[1], plain[2], inter[2], capping, float(steer)
        )
        self.turns.append(turn)
        return turn

    def reset(self) -> None:
        """Start a new conversation."""
        self.turns.clear()

    def table(self) -> pd.DataFrame:
        """One row per turn (the :class:`Turn` fields, ``turn`` 0-based)."""
        import pandas as pd

        return pd.DataFrame([{"turn": i, **asdict(t)} for i, t in enumerate(self.turns)])

    def long_table(self) -> pd.DataFrame:
        """Two rows per turn, for ``interactive.trajectory_figure``: ``turn``, ``condition``,
        ``projection``, ``user``, ``reply``."""
        import pandas as pd

        rows = []
        for i, t in enumerate(self.turns):
            rows.append(
                {
                    "turn": i,
                    "condition": "plain",
                    "projection": t.plain_projection,
                    "user": t.user,
                    "reply": t.plain,
                }
            )
            rows.append(
                {
                    "turn": i,
                    "condition": "intervened",
                    "projection": t.intervened_projection,
                    "user": t.user,
                    "reply": t.intervened,
                }
            )
        return pd.DataFrame(rows, columns=["turn", "condition", "projection", "user", "reply"])

    def transcript_html(self) -> str:
        """The session as an HTML table: the message, then both replies side by side with their scores."""
        td = "vertical-align:top;text-align:left;padding:6px 10px;border-bottom:1px solid #ddd"

        def cell(text: str, proj: float, flagged: bool) -> str:
            mark = " <b style='color:#c05640'>below threshold</b>" if flagged else ""
            return (
                f"<td style='{td};width:32%'>{html.escape(text)}"
                f"<br><small>projection {proj:+.2f}{mark}</small></td>"
            )

        rows = []
        for i, t in enumerate(self.turns):
            what = (
                ", ".join(
                    x
                    for x in (["capped"] if t.capping else [])
                    + ([f"steered {t.steer:+g}"] if t.steer else [])
                )
                or "no intervention"
            )
            rows.append(
                f"<tr><td style='{td}'>{i + 1}</td><td style='{td};width:24%'>"
                f"{html.escape(t.user)}</td>{cell(t.plain, t.plain_projection, t.plain_flagged)}"
                f"{cell(t.intervened, t.intervened_projection, t.intervened_flagged)}<td style='{td}'>{what}</td></tr>"
            )
        head = "".join(
            f"<th style='{td};border-bottom:2px solid #999'>{h}</th>"
            for h in ("turn", "user", "plain reply", "intervened reply", "intervention")
        )
        head = f"<tr>{head}</tr>"
        threshold = f"<p><small>Drift monitor threshold: {self.monitor.threshold:+.2f} at layer {self.monitor.layer}.</small></p>"
        return f"<table class='live-transcript' style='border-collapse:collapse;width:100%'>{head}{''.join(rows)}</table>{threshold}"

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON (atomic)."""
        path = Path(path)
        doc = {
            "layer": self.monitor.layer,
            "threshold": self.monitor.threshold,
            "system": self.system,
            "plan": None if self.plan is None else self.plan.setting.label,
            "norm": self.norm,
            "turns": [asdict(t) for t in self.turns],
        }
        atomic_write_text(path, json.dumps(doc, indent=1))
        return path


def panel(session: LiveSession) -> Any:
    """ipywidgets controls on a session: a message box, a capping switch, a steering slider.

    Each *Send* answers the message in both conversations (see :meth:`LiveSession.send`) and
    redraws the transcript and the projection per turn. Returns the ``VBox``; its ``children``
    are, in order: message ``Text``, ``HBox(send, capping ToggleButton, steering FloatSlider,
    reset)``, status ``HTML``, transcript ``HTML``, plot ``Output``.
    """
    import ipywidgets as w
    from IPython.display import display

    from persona_axis.viz.interactive import show, trajectory_figure

    message = w.Text(placeholder="Type a message to the model and press Send", layout=w.Layout(width="100%"))
    send = w.Button(description="Send", button_style="primary")
    cap_on = w.ToggleButton(
        value=False, description="capping on", tooltip=session.plan.setting.label if session.plan else ""
    )
    strength = w.FloatSlider(
        value=0.0,
        min=-1.5,
        max=1.5,
        step=0.1,
        description="steer",
        tooltip="strength along the axis, in typical activation norms (+: toward the Assistant)",
    )
    reset = w.Button(description="New conversation")
    status = w.HTML()
    transcript = w.HTML()
    plot = w.Output()

    def redraw() -> None:
        transcript.value = session.transcript_html()
        plot.clear_output(wait=True)
        if session.turns:
            with plot:
                display(
                    show(
                        trajectory_figure(session.long_table(), threshold=session.monitor.threshold),
                        "live-trajectory",
                        height=380,
                    )
                )

    def on_send(_: Any) -> None:
        text = message.value
        if not text.strip():
            status.value = "Type a message first."
            return
        status.value = "generating both replies ..."
        send.disabled = True
        try:
            session.send(text, capping=cap_on.value, steer=strength.value)
            message.value = ""
            status.value = f"{len(session.turns)} turns"
        except Exception as e:  # shown in the panel: the conversation so far stays
            status.value = f"<b>error:</b> {html.escape(str(e))}"
        finally:
            send.disabled = False
        redraw()

    def on_reset(_: Any) -> None:
        session.reset()
        status.value = "new conversation"
        redraw()

    send.on_click(on_send)
    reset.on_click(on_reset)
    redraw()
    return w.VBox([message, w.HBox([send, cap_on, strength, reset]), status, transcript, plot])
