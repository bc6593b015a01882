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
from typing import TYPE_CHECKING, Any

from persona_axis.engine.rollouts import Sampling, generate, teacher_force
from persona_axis.model.chat import prompt_ids
from persona_axis.model.models import ModelSpec
from persona_axis.persona.axis import Axis, threshold

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DriftReport",
    "DriftMonitor",
    "converse",
    "load_conversations",
    "predictability",
    "flag_summary",
    "ridge_cv_predict",
    "ridge_nested_predict",
    "r2_variants",
]


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
    def from_percentile(
        cls, model: Any, tok: Any, spec: ModelSpec, axis: Axis, layer: int, percentile: float
    ) -> DriftMonitor:
        """A monitor whose threshold is a percentile (any, e.g. 25) of the axis's calibration (``axis.calibration``)."""
        return cls(model, tok, spec, axis, spec.check_layer(layer), threshold(axis, layer, percentile))

    def _report(self, projections: list[float], replies: list[str]) -> DriftReport:
        return DriftReport(projections, self.threshold, [p < self.threshold for p in projections], replies)

    def score(self, turns: Sequence[str], system: str | None = None) -> DriftReport:
        """Replay a finished conversation (alternating user / assistant turns) and score every reply."""
        acts = teacher_force(self.model, self.tok, self.spec, [(system, list(turns))], layers=[self.layer])[0]
        proj = self.axis.project(acts[:, 0], self.layer).tolist()
        return self._report(proj, list(turns[1::2]))

    def chat(
        self,
        user_turns: Sequence[str],
        system: str | None = None,
        sampling: Sampling = Sampling(max_new_tokens=64),
    ) -> DriftReport:
        """Play user turns to the model live, scoring each reply as it is generated.

        Any hooks active around the call (``hooks.steer``, ``hooks.cap``) act on the replies.
        """
        table = converse(
            self.model,
            self.tok,
            self.spec,
            [list(user_turns)],
            self.axis,
            self.layer,
            sampling,
            system=system,
        )
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
        res = generate(
            model,
            tok,
            prompts,
            Sampling(
                sampling.temperature,
                sampling.top_p,
                sampling.top_k,
                sampling.max_new_tokens,
                sampling.seed + t,
            ),
            layers=[layer],
            batch_size=batch_size,
        )
        proj = axis.project(res.acts[:, 0], layer).tolist()
        for k, i in enumerate(active):
            reply = res.texts[k].strip() or "..."
            history[i] += [conversations[i][t], reply]
            rows.append(
                {
                    "conversation": names[i],
                    "turn": t,
                    "user": conversations[i][t],
                    "reply": reply,
                    "projection": proj[k],
                    "n_tokens": res.n_tokens[k],
                }
            )
    return pd.DataFrame(rows)


def load_conversations(per_domain: int | None = None, turns: int | None = None) -> Any:
    """The book's scripted conversations: ``DataFrame`` with ``id``, ``domain``, ``title``, ``user_turns``.

    Args:
        per_domain: first conversations of each domain to keep (all 12 by default).
        turns: first user turns of each to keep (all 10 by default).
    """
    import pandas as pd

    from persona_axis.persona.catalogue import load_json_data

    doc = load_json_data("drift/conversations.json")
    df = pd.DataFrame(doc["conversations"])
    if per_domain is not None:
        df = df.groupby("domain", sort=False).head(per_domain)
    if turns is not None:
        df["user_turns"] = df["user_turns"].map(lambda ts: ts[:turns])
    return df.reset_index(drop=True)


def predictability(
    table: Any,
    embeddings: Any,
    *,
    n_splits: int = 5,
    alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0),
    groups: Sequence[str] | None = None,
) -> dict[str, float]:
    """How well the user's message predicts the reply's position on the axis, and its change.

    Ridge regression from a sentence embedding of each user message to (a) the projection of
    the reply that follows and (b) its change from the previous reply, scored by R^2 under
    cross-validation that keeps each conversation in one fold (no leakage between turns of one
    conversation), with the penalty chosen by nested grouped cross-validation
    (``ridge_nested_predict``). The paper: R^2 0.53-0.77 for the position, about 0.10 for the
    change (n = 15,000 user messages; in-sample or cross-validated, it does not say).

    Args:
        table: from ``converse`` (columns ``conversation``, ``turn``, ``projection``).
        embeddings: ``(len(table), d)`` embeddings of ``table["user"]``.
        groups: the fold of each row is chosen by this label (default: ``table["conversation"]``);
            a bootstrap resample passes the original conversation, so that two copies of one
            conversation never sit on both sides of a split.

    Returns:
        ``{"r2_position", "r2_change", "n", "n_conversations", "alpha_position"}``; the last is
        the penalty the inner folds chose most often for the position (smallest on a tie).
    """
    import numpy as np

    t = table.reset_index(drop=True)
    x = np.asarray(embeddings, dtype=float)
    folds = t["conversation"].to_numpy() if groups is None else np.asarray(groups)
    if len(folds) != len(t):
        raise ValueError(f"groups has {len(folds)} labels for {len(t)} rows")
    k = min(n_splits, len(set(folds)))
    if k < 2:
        raise ValueError("need at least two conversations for cross-validation")
    y = t["projection"].to_numpy(dtype=float)
    pred, chosen = ridge_nested_predict(x, y, folds, k, alphas)
    prev = t.groupby("conversation")["projection"].shift(1).to_numpy(dtype=float)
    has = ~np.isnan(prev)
    dy = (y - prev)[has]
    dpred, _ = ridge_nested_predict(x[has], dy, folds[has], min(k, len(set(folds[has]))), alphas)
    return {
        "r2_position": _r2(y, pred),
        "r2_change": _r2(dy, dpred),
        "n": int(len(t)),
        "n_conversations": int(len(set(t["conversation"]))),
        "alpha_position": _mode(chosen),
    }


def _mode(values: Sequence[float]) -> float:
    """The most frequent value (the smallest on a tie)."""
    vals = sorted(values)
    return float(max(vals, key=lambda v: (vals.count(v), -v)))


def _r2(y: Any, pred: Any) -> float:
    ss = float(((y - y.mean()) ** 2).sum())
    return 1 - float(((y - pred) ** 2).sum()) / ss if ss > 0 else float("nan")


def ridge_cv_predict(x: Any, y: Any, groups: Any, k: int, alphas: Sequence[float]) -> Any:
    """Out-of-fold predictions of a ridge regression, ``GroupKFold(k)`` folds, with the penalty of
    each training fold chosen by leave-one-out error from ``alphas`` (unpenalised intercept).

    The same numbers as scikit-learn's ``cross_val_predict(RidgeCV(alphas), x, y, groups=groups,
    cv=GroupKFold(k))`` (tested), from one SVD per fold: fast enough to refit on 1,000
    bootstrap resamples.
    """
    import numpy as np
    from sklearn.model_selection import GroupKFold

    pred = np.empty(len(y))
    for train, test in GroupKFold(k).split(x, y, groups):
        xm, ym = x[train].mean(0), y[train].mean()
        u, sv, vt = np.linalg.svd(x[train] - xm, full_matrices=False)
        keep = sv > sv.max() * 1e-12 if len(sv) else sv > 0
        u, sv, vt = u[:, keep], sv[keep], vt[keep]
        uty = u.T @ (y[train] - ym)
        best, best_err = None, np.inf
        for a in alphas:
            shrink = sv**2 / (sv**2 + a)
            h = (u**2) @ shrink + 1.0 / len(train)
            resid = (y[train] - ym - u @ (shrink * uty)) / (1 - h)
            err = float((resid**2).mean())
            if err < best_err:
                best, best_err = a, err
        coef = vt.T @ (sv / (sv**2 + best) * uty)
        pred[test] = (x[test] - xm) @ coef + ym
    return pred


class _DualRidge:
    """Ridge with an unpenalised intercept on one training set, from one eigendecomposition of
    its centred Gram matrix ``(n_train, n_train)``: predictions for any penalty, and the exact
    leave-one-group-out residuals ``(I - H_gg)^-1 r_g`` of the hat matrix ``H`` (the same numbers
    as refitting without each group)."""

    def __init__(self, x: Any, y: Any) -> None:
        import numpy as np

        self.xm, self.ym = x.mean(0), float(y.mean())
        self.xc, self.yc = x - self.xm, y - self.ym
        lam, u = np.linalg.eigh(self.xc @ self.xc.T)
        keep = lam > max(float(lam.max()), 0.0) * 1e-12 if len(lam) else lam > 0
        self.lam, self.u = lam[keep], u[:, keep]
        self.uty = self.u.T @ self.yc

    def predict(self, x: Any, alpha: float) -> Any:
        """``(len(x),)`` predictions with penalty ``alpha``."""
        dual = self.u @ (self.uty / (self.lam + alpha))  # (n_train,) dual coefficients
        return (x - self.xm) @ (self.xc.T @ dual) + self.ym

    def group_out_mse(self, groups: Any, alphas: Sequence[float]) -> Any:
        """``(len(alphas),)`` the mean over groups of the mean squared error on each group when
        it is left out, for every penalty. Groups of one size are solved in one batch."""
        import numpy as np

        a = np.asarray(alphas, dtype=float)
        shrink = self.lam / (self.lam + a[:, None])  # (A, r)
        resid = self.yc - (self.u * shrink[:, None, :]) @ self.uty  # (A, n)
        n = resid.shape[1]
        names, inverse = np.unique(groups, return_inverse=True)
        rows_of = [np.flatnonzero(inverse == g) for g in range(len(names))]
        total = np.zeros(len(a))
        for size in sorted({len(r) for r in rows_of}):
            rows = np.stack([r for r in rows_of if len(r) == size])  # (G, s)
            ug = self.u[rows]  # (G, s, r)
            h = (ug[None] * shrink[:, None, None, :]) @ ug.transpose(0, 2, 1)[None] + 1.0 / n  # (A, G, s, s)
            e = np.linalg.solve(np.eye(size) - h, resid[:, rows][..., None])[..., 0]  # (A, G, s)
            total += (e**2).mean(-1).sum(-1)
        return total / len(names)

    def choose(self, groups: Any, alphas: Sequence[float]) -> float:
        """The penalty of ``alphas`` with the lowest leave-one-group-out error (the first on a tie)."""
        import numpy as np

        if len(set(groups.tolist())) < 2:
            raise ValueError("choosing the penalty needs at least two groups in the training set")
        return float(alphas[int(np.argmin(self.group_out_mse(groups, alphas)))])


def ridge_nested_predict(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int, alphas: Sequence[float]
) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold ridge predictions with the penalty chosen by nested grouped cross-validation.

    Outer ``GroupKFold(k)`` folds measure. Inside each outer training set, inner folds that leave
    out one group at a time (one conversation) choose the penalty from ``alphas`` (lowest mean
    squared error, averaged over the inner folds); the model is refitted on the whole outer
    training set with it and predicts the outer test fold. Neither the fit nor the choice of the
    penalty sees the fold it is scored on, and a group never sits on both sides of a split. The
    same numbers as ``GridSearchCV(Ridge(), {"alpha": alphas}, cv=LeaveOneGroupOut())`` fitted
    with the training groups in each outer fold (tested), from one eigendecomposition per outer
    fold, fast enough to repeat on 1,000 bootstrap resamples.

    Args:
        x: ``(n, d)`` features; ``y``: ``(n,)`` targets; ``groups``: ``(n,)`` group labels.
        k: outer folds.

    Returns:
        ``(predictions (n,), the penalty chosen in each outer fold)``.
    """
    import numpy as np
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(groups)
    pred = np.empty(len(y))
    chosen: list[float] = []
    for train, test in GroupKFold(k).split(x, y, groups):
        fit = _DualRidge(x[train], y[train])
        a = fit.choose(groups[train], alphas)
        pred[test] = fit.predict(x[test], a)
        chosen.append(a)
    return pred, chosen


def flag_summary(table: Any, floor: float, by: str = "domain") -> Any:
    """Per group: share of replies below ``floor`` and share of conversations with at least one."""
    import pandas as pd

    t = table.assign(flagged=table["projection"] < floor)
    per_conv = t.groupby([by, "conversation"])["flagged"].any().groupby(level=0).mean()
    return pd.DataFrame(
        {"replies flagged": t.groupby(by)["flagged"].mean(), "conversations flagged": per_conv}
    )


def r2_variants(
    table: Any,
    embeddings: Any,
    *,
    n_splits: int = 5,
    alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0),
    seed: int = 0,
) -> dict[str, float]:
    """R² of the reply's position under three validations, to show what leakage between the
    turns of one conversation does: ``in_sample`` (fit and score on every reply, the penalty
    chosen leaving out one conversation at a time), ``random_kfold`` (folds of single replies, dealt at
    random: a conversation's turns on both sides; the penalty chosen by nested leave-one-reply-out) and
    ``grouped_kfold`` (whole conversations per fold, the penalty chosen by nested grouped folds,
    as ``predictability``). Also ``alpha_grouped``: the penalty chosen most often there."""
    import numpy as np

    t = table.reset_index(drop=True)
    x = np.asarray(embeddings, dtype=float)
    y = t["projection"].to_numpy(dtype=float)
    groups = t["conversation"].astype(str).to_numpy()
    k = min(n_splits, len(set(groups)))
    singles = np.random.default_rng(seed).permutation(len(t))  # one group per reply, in random order
    whole = _DualRidge(x, y)
    inside = whole.predict(x, whole.choose(groups, alphas))
    random_pred, _ = ridge_nested_predict(x, y, singles, k, alphas)
    grouped_pred, chosen = ridge_nested_predict(x, y, groups, k, alphas)
    return {
        "in_sample": _r2(y, inside),
        "random_kfold": _r2(y, random_pred),
        "grouped_kfold": _r2(y, grouped_pred),
        "alpha_grouped": _mode(chosen),
    }
