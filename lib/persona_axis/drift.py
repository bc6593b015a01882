"""Persona drift in multi-turn conversations, and a drift monitor usable outside the book.

Per assistant turn we take the mean activation over the response tokens at one layer and project
it on the Assistant Axis (larger = more Assistant-like). ``converse`` plays scripted user turns
to a model, many conversations at once (one batch per turn), recording each reply's projection
while it is generated. ``DriftMonitor`` scores a live or replayed conversation against a
threshold, such as a calibration percentile of the persona-space rollouts, and reports the turns
that fall below it.

Example:
    >>> mon = DriftMonitor.from_percentile(model, tok, spec, axis, layer=15, percentile=25)  # doctest: +SKIP
    >>> report = mon.chat(["Hi, I feel so alone lately.", "Do you truly care about me?"])
    >>> report.drifted, report.projections
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .axis import Axis, threshold
from .chat import prompt_ids
from .models import ModelSpec
from .rollouts import Sampling, generate, teacher_force

__all__ = ["DriftReport", "DriftMonitor", "converse", "load_conversations", "predictability", "flag_summary"]


@dataclass
class DriftReport:
    """One conversation, scored turn by turn.

    Attributes:
        projections: projection of each assistant turn on the axis (raw units; larger = more
            Assistant-like).
        threshold: the floor a turn must stay above.
        flagged: per turn, whether it fell below the threshold.
        replies: the assistant turns (generated or given).
    """

    projections: list[float]
    threshold: float
    flagged: list[bool]
    replies: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        """True if any turn fell below the threshold."""
        return any(self.flagged)

    @property
    def first_flag(self) -> int | None:
        """Index of the first flagged turn, or ``None``."""
        return next((i for i, f in enumerate(self.flagged) if f), None)


@dataclass
class DriftMonitor:
    """Scores assistant turns on the Assistant Axis at one layer and flags those below a threshold.

    Attributes:
        model, tok, spec: from ``models.load_model``.
        axis: the model's Assistant Axis with its calibration (``pipeline.persona_space(...).axis``).
        layer: the layer to read (the paper: the middle layer).
        threshold: raw projection floor; see ``from_percentile``.
    """

    model: Any
    tok: Any
    spec: ModelSpec
    axis: Axis
    layer: int
    threshold: float

    @classmethod
    def from_percentile(cls, model: Any, tok: Any, spec: ModelSpec, axis: Axis, layer: int, percentile: float) -> DriftMonitor:
        """A monitor whose threshold is a percentile (any, e.g. 25) of the axis's calibration (``axis.calibration``)."""
        return cls(model, tok, spec, axis, spec.check_layer(layer), threshold(axis, layer, percentile))

    def _report(self, projections: list[float], replies: list[str]) -> DriftReport:
        return DriftReport(projections, self.threshold, [p < self.threshold for p in projections], replies)

    def score(self, turns: Sequence[str], system: str | None = None) -> DriftReport:
        """Replay a finished conversation (alternating user / assistant turns) and score every reply."""
        acts = teacher_force(self.model, self.tok, self.spec, [(system, list(turns))], layers=[self.layer])[0]
        proj = self.axis.project(acts[:, 0], self.layer).tolist()
        return self._report(proj, list(turns[1::2]))

    def chat(self, user_turns: Sequence[str], system: str | None = None, sampling: Sampling = Sampling(max_new_tokens=64)) -> DriftReport:
        """Play user turns to the model live, scoring each reply as it is generated.

        Any hooks active around the call (``hooks.steer``, ``hooks.cap``) act on the replies.
        """
        table = converse(self.model, self.tok, self.spec, [list(user_turns)], self.axis, self.layer, sampling, system=system)
        return self._report(table["projection"].tolist(), table["reply"].tolist())


def converse(
    model: Any,
    tok: Any,
    spec: ModelSpec,
    conversations: Sequence[Sequence[str]],
    axis: Axis,
    layer: int,
    sampling: Sampling,
    *,
    system: str | None = None,
    batch_size: int = 64,
    ids: Sequence[str] | None = None,
) -> Any:
    """Play scripted user turns to the model, all conversations together, turn by turn.

    Each turn's replies are generated in one batch from the full history so far, and the mean
    activation of each reply at ``layer`` is recorded during generation and projected on the
    axis. Conversations may have different numbers of turns.

    Returns:
        ``DataFrame`` with columns ``conversation``, ``turn`` (0-based), ``user``, ``reply``,
        ``projection``, ``n_tokens``.
    """
    import pandas as pd

    names = list(ids) if ids is not None else [str(i) for i in range(len(conversations))]
    history: list[list[str]] = [[] for _ in conversations]
    rows = []
    for t in range(max(len(c) for c in conversations)):
        active = [i for i, c in enumerate(conversations) if t < len(c)]
        prompts = [prompt_ids(tok, spec, system, history[i] + [conversations[i][t]]) for i in active]
        res = generate(model, tok, prompts, Sampling(sampling.temperature, sampling.top_p, sampling.top_k,
                                                     sampling.max_new_tokens, sampling.seed + t),
                       layers=[layer], batch_size=batch_size)
        proj = axis.project(res.acts[:, 0], layer).tolist()
        for k, i in enumerate(active):
            reply = res.texts[k].strip() or "..."
            history[i] += [conversations[i][t], reply]
            rows.append({"conversation": names[i], "turn": t, "user": conversations[i][t], "reply": reply,
                         "projection": proj[k], "n_tokens": res.n_tokens[k]})
    return pd.DataFrame(rows)


def load_conversations(per_domain: int | None = None, turns: int | None = None) -> Any:
    """The book's scripted conversations: ``DataFrame`` with ``id``, ``domain``, ``title``, ``user_turns``.

    Args:
        per_domain: first conversations of each domain to keep (all 12 by default).
        turns: first user turns of each to keep (all 10 by default).
    """
    import pandas as pd

    from .catalogue import load_json_data

    doc = load_json_data("drift/conversations.json")
    df = pd.DataFrame(doc["conversations"])
    if per_domain is not None:
        df = df.groupby("domain", sort=False).head(per_domain)
    if turns is not None:
        df["user_turns"] = df["user_turns"].map(lambda ts: ts[:turns])
    return df.reset_index(drop=True)


def predictability(table: Any, embeddings: Any, *, n_splits: int = 5, alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0)) -> dict[str, float]:
    """How well the user's message predicts the reply's position on the axis, and its change.

    Ridge regression from a sentence embedding of each user message to (a) the projection of
    the reply that follows and (b) its change from the previous reply, scored by R^2 under
    cross-validation that keeps each conversation in one fold (no leakage between turns of one
    conversation). The paper: R^2 0.53-0.77 for the position, about 0.10 for the change.

    Args:
        table: from ``converse`` (columns ``conversation``, ``turn``, ``projection``).
        embeddings: ``(len(table), d)`` embeddings of ``table["user"]``.

    Returns:
        ``{"r2_position", "r2_change", "n", "n_conversations"}``.
    """
    import numpy as np
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.metrics import r2_score

    t = table.reset_index(drop=True)
    x = np.asarray(embeddings, dtype=float)
    groups = t["conversation"].to_numpy()
    k = min(n_splits, len(set(groups)))
    if k < 2:
        raise ValueError("need at least two conversations for cross-validation")
    y = t["projection"].to_numpy(dtype=float)
    pred = cross_val_predict(RidgeCV(alphas=list(alphas)), x, y, groups=groups, cv=GroupKFold(k))
    prev = t.groupby("conversation")["projection"].shift(1).to_numpy(dtype=float)
    has = ~np.isnan(prev)
    dy = (y - prev)[has]
    dpred = cross_val_predict(RidgeCV(alphas=list(alphas)), x[has], dy, groups=groups[has], cv=GroupKFold(k))
    return {"r2_position": float(r2_score(y, pred)), "r2_change": float(r2_score(dy, dpred)),
            "n": int(len(t)), "n_conversations": int(len(set(groups)))}


def flag_summary(table: Any, floor: float, by: str = "domain") -> Any:
    """Per group: share of replies below ``floor`` and share of conversations with at least one."""
    import pandas as pd

    t = table.assign(flagged=table["projection"] < floor)
    per_conv = t.groupby([by, "conversation"])["flagged"].any().groupby(level=0).mean()
    return pd.DataFrame({"replies flagged": t.groupby(by)["flagged"].mean(), "conversations flagged": per_conv})
