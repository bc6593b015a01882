"""The offline judge (cue regexes + MiniLM similarities + style cues), its fit and the hand labels."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from persona_axis.judge.embedder import Embedder, default_embedder
from persona_axis.judge.rubric import (
    AI_CUES,
    ASSISTANT_REFERENCES,
    PAPER_AI_CUES,
    REFUSAL_CUES,
    Judgement,
    find_cue,
    first_person_rate,
    has_list,
    names_role,
)

__all__ = ["OfflineJudge", "FITTED", "fit_thresholds", "load_hand_labels"]

#: Fitted weights and thresholds of ``OfflineJudge`` per rubric. ``strict``: fitted on the even-id
#: half of ``hand_labels.jsonl`` (labelled under ``STRICT_GUIDE.md``); ``paper``: fitted on the
#: role labels of ``role_labels.jsonl`` (chapter 9 measures it on held-out roles).
FITTED: dict[str, dict[str, float]] = {
    "strict": {
        "first_person_weight": 2.0,
        "role_named_bonus": 0.1,
        "list_penalty": 0.2,
        "ai_role_score": -0.11,
        "in_role_score": 0.27,
        "some_role_score": 0.06,
    },
    # fitted on all 480 answers of role_labels.jsonl; the five role-held-out fits of chapter 9 chose
    # the same weights and ai_role_score -0.22 or -0.24; implied_ai_score -1 means "off"
    "paper": {
        "first_person_weight": 0.0,
        "role_named_bonus": 0.0,
        "list_penalty": 0.0,
        "ai_role_score": -0.22,
        "implied_ai_score": -1.0,
    },
}


@dataclass(frozen=True)
class OfflineJudge:
    """The default judge: cue regexes plus MiniLM similarities and a few style cues; no network.

    For each response it computes a *role score*::

        score = (role_similarity - assistant_similarity)
                + first_person_weight * first_person
                + role_named_bonus * role_named
                - list_penalty * list_format

    (the similarity of the response to ``"<role name>: <description>"`` minus its largest
    similarity to ``assistant_references``; the share of first-person words, since a role speaks
    and an assistant writes essays; whether the role is named, as in "As a pirate, I..."; whether
    the response is formatted like an assistant's list). Then, in order:

    1. empty response, or a refusal cue in a response of at most ``refusal_max_words`` words -> 0;
    2. an AI self-identification cue -> 2 if ``score >= ai_role_score`` (the role still shows),
       else 1;
    3. otherwise, under the paper's rubric (``rubric="paper"``, self-identification is the
       signal): 3, unless ``score < implied_ai_score`` (the answer reads as the assistant talking
       as itself without saying so) -> 1;
       under the ``strict`` rubric: 3 if ``score >= in_role_score``, 2 if
       ``score >= some_role_score``, else 1.

    Weights and thresholds left at ``None`` take the values fitted for the rubric (``FITTED``).

    Attributes:
        rubric: ``"paper"`` (default) or ``"strict"``.
        refusal_max_words: longer responses with a refusal phrase are judged by the other rules.
        first_person_weight, role_named_bonus, list_penalty: the weights of the score.
        ai_role_score, implied_ai_score (paper), in_role_score, some_role_score (strict): the
            thresholds above.
        refusal_cues, ai_cues: regexes (case-insensitive); ``ai_cues=None`` takes ``PAPER_AI_CUES``
            under the paper's rubric, ``AI_CUES`` under the strict one.
        assistant_references: generic assistant answers.
        embedder: the sentence embedder (``None``: one shared bundled MiniLM).
    """

    rubric: str = "paper"
    refusal_max_words: int = 40
    first_person_weight: float | None = None
    role_named_bonus: float | None = None
    list_penalty: float | None = None
    ai_role_score: float | None = None
    in_role_score: float | None = None
    some_role_score: float | None = None
    implied_ai_score: float | None = None
    refusal_cues: tuple[str, ...] = REFUSAL_CUES
    ai_cues: tuple[str, ...] | None = None
    assistant_references: tuple[str, ...] = ASSISTANT_REFERENCES
    embedder: Embedder | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.rubric not in FITTED:
            raise ValueError(f"unknown rubric {self.rubric!r}; choose one of {sorted(FITTED)}")
        for name, value in FITTED[self.rubric].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.ai_cues is None:
            object.__setattr__(self, "ai_cues", PAPER_AI_CUES if self.rubric == "paper" else AI_CUES)

    def identity(self) -> dict[str, Any]:
        """Everything that decides its labels, for cache keys: the class, the rubric, every compared
        field (weights, thresholds, cue lists, references) and the embedder's identity."""
        out: dict[str, Any] = {"class": type(self).__name__}
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.compare})
        out["embedder"] = (self.embedder or default_embedder()).identity()
        return out

    @staticmethod
    def role_text(role_name: str, role_description: str) -> str:
        """The text a response is compared with: ``"pirate: A sea robber..."``."""
        return f"{role_name.replace('_', ' ')}: {role_description}".strip()

    def evidence(self, role_name: str, role_description: str, responses: Sequence[str]) -> list[Judgement]:
        """Cues, similarities and style features of each response, with ``label=-1`` (see ``decide``)."""
        import torch

        responses = list(responses)
        if not responses:
            return []
        emb = self.embedder or default_embedder()
        refs = emb.encode([self.role_text(role_name, role_description), *self.assistant_references])
        vecs = emb.encode(responses)
        role_sim = (vecs @ refs[0]).tolist()
        asst_sim = (
            torch.max(vecs @ refs[1:].T, dim=1).values.tolist() if len(refs) > 1 else [0.0] * len(responses)
        )
        return [
            Judgement(
                -1,
                find_cue(r, self.refusal_cues),
                find_cue(r, self.ai_cues or AI_CUES),
                float(rs),
                float(a_s),
                first_person_rate(r),
                names_role(r, role_name),
                has_list(r),
            )
            for r, rs, a_s in zip(responses, role_sim, asst_sim)
        ]

    def score(self, ev: Judgement) -> float:
        """The role score of one response (see the class docstring)."""
        w, b, p = (
            float(self.first_person_weight or 0),
            float(self.role_named_bonus or 0),
            float(self.list_penalty or 0),
        )
        return ev.margin + w * ev.first_person + b * ev.role_named - p * ev.list_format

    def decide(self, ev: Judgement, response: str) -> int:
        """The label for one response from its evidence (the rule in the class docstring)."""
        if not response.strip():
            return 0
        if ev.refusal_cue is not None and len(response.split()) <= self.refusal_max_words:
            return 0
        s = self.score(ev)
        if ev.ai_cue is not None:
            return 2 if s >= float(self.ai_role_score) else 1  # type: ignore[arg-type]
        if self.rubric == "paper":
            return 3 if s >= float(self.implied_ai_score) else 1  # type: ignore[arg-type]
        if s >= float(self.in_role_score):  # type: ignore[arg-type]
            return 3
        if s >= float(self.some_role_score):  # type: ignore[arg-type]
            return 2
        return 1

    def judge(
        self,
        role_name: str,
        role_description: str,
        responses: Sequence[str],
        questions: Sequence[str] | None = None,
    ) -> list[Judgement]:
        """Label each response to a role (batched). ``questions`` is accepted and ignored."""
        evs = self.evidence(role_name, role_description, responses)
        return [replace(ev, label=self.decide(ev, r)) for ev, r in zip(evs, responses)]


def _at_or_above(s: Any, y: Any, rows: Any, thresholds: Any, k: int = 4) -> Any:
    """``(len(thresholds), k)`` counts: ``[v, c]`` = rows (a boolean mask) with ``s >= thresholds[v]`` and label ``c``."""
    import numpy as np

    onehot = (y[rows][:, None] == np.arange(k)[None, :]).astype(np.int64)  # (n_rows, k)
    return (s[rows][None, :] >= np.asarray(thresholds)[:, None]).astype(np.int64) @ onehot


def _grid_kappa(s: Any, y: Any, ai: Any, fixed: Any, ai_thresholds: Any, other_thresholds: list[Any]) -> Any:
    """Cohen's kappa (labels 0-3) of ``OfflineJudge.decide`` against ``y`` for every pair of thresholds.

    Counts, not predictions: each rule's labels follow from how many rows of each true label lie at or
    above a threshold, so the whole grid costs a few ``(thresholds x rows)`` comparisons.

    Args:
        s: ``(n,)`` scores; y: ``(n,)`` true labels; ai: rows with an AI cue; fixed: rows labelled 0
            whatever the thresholds (empty answers, short refusals).
        ai_thresholds: ``(T,)`` values of ``ai_role_score`` (AI-cue rows: 2 at or above, else 1).
        other_thresholds: ``[hi, lo]`` with ``lo <= hi`` (strict rubric: 3 at or above ``hi``, 2 at or
            above ``lo``, else 1) or ``[u]``, read as ``hi = lo = u`` (paper: 3 at or above ``u``, else 1),
            each ``(U,)``.

    Returns:
        ``(T, U)`` kappas; 0 where chance agreement is 1 (or there are no rows).
    """
    import numpy as np

    n = len(y)
    if not n:
        return np.zeros((len(ai_thresholds), len(other_thresholds[0])))
    a_rows, o_rows = ai & ~fixed, ~ai & ~fixed
    n_a, n_o = int(a_rows.sum()), int(o_rows.sum())
    ones_a, ones_o = int((y[a_rows] == 1).sum()), int((y[o_rows] == 1).sum())
    ga = _at_or_above(s, y, a_rows, ai_thresholds)  # (T, 4)
    twos_a = ga.sum(1)
    match_a = ga[:, 2] + ones_a - ga[:, 1]
    hi = _at_or_above(s, y, o_rows, other_thresholds[0])  # (U, 4)
    lo = hi if len(other_thresholds) == 1 else _at_or_above(s, y, o_rows, other_thresholds[1])
    threes, twos_o = hi.sum(1), lo.sum(1) - hi.sum(1)
    match_o = hi[:, 3] + (lo[:, 2] - hi[:, 2]) + ones_o - lo[:, 1]
    n_fixed = n - n_a - n_o
    po = (int((y[fixed] == 0).sum()) + match_a[:, None] + match_o[None, :]) / n
    pred = (
        np.stack(
            np.broadcast_arrays(  # (T, U, 4): how many rows get each label
                np.full((1, 1), n_fixed),
                (n_a - twos_a)[:, None] + (n_o - threes - twos_o)[None, :],
                twos_a[:, None] + twos_o[None, :],
                threes[None, :],
            ),
            axis=-1,
        )
        / n
    )
    pe = pred @ (np.bincount(y, minlength=4)[:4] / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pe < 1, (po - pe) / (1 - pe), 0.0)


def fit_thresholds(
    evidence: Sequence[Judgement],
    responses: Sequence[str],
    y_true: Sequence[int],
    base: OfflineJudge | None = None,
    *,
    weights: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
    bonuses: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2),
    penalties: Sequence[float] = (0.0, 0.1, 0.2),
    grid: Sequence[float] | None = None,
) -> OfflineJudge:
    """Grid-search the weights and thresholds of ``OfflineJudge`` for the best Cohen's kappa (0-3).

    ``evidence`` comes from ``OfflineJudge.evidence`` (computed once, on labelled rows); the
    rubric, ``refusal_max_words``, the cue lists and the embedder are kept from ``base``. The
    search is exhaustive over ``weights x bonuses x penalties`` and, on the threshold ``grid``
    (0.01 steps from -0.4 to 0.4 by default, plus -1 for "off" under the paper's rubric), over
    ``ai_role_score`` and ``implied_ai_score`` (paper) or ``ai_role_score``, ``in_role_score``
    and ``some_role_score`` (strict). Deterministic: ties go to the first point in that order.
    """
    import numpy as np

    base = base or OfflineJudge()
    g = np.asarray(grid if grid is not None else [round(-0.4 + 0.01 * i, 2) for i in range(81)])
    y = np.asarray(list(y_true), dtype=int)
    if len(y) and (y.min() < 0 or y.max() > 3):
        raise ValueError(f"hand labels must be 0-3, got {sorted(set(y.tolist()))}")
    margin = np.array([e.margin for e in evidence])
    fp = np.array([e.first_person for e in evidence])
    named = np.array([float(e.role_named) for e in evidence])
    lst = np.array([float(e.list_format) for e in evidence])
    ai = np.array([e.ai_cue is not None for e in evidence], dtype=bool)
    fixed = np.array(
        [base.decide(replace(e, ai_cue=None), r) == 0 for e, r in zip(evidence, responses)], dtype=bool
    )
    # implied_ai_score: -1 (off: every answer without an AI cue is a 3), then the grid
    if base.rubric == "paper":
        others = [np.concatenate([[-1.0], g])]
    else:  # (in_role_score, some_role_score) with some <= in
        hi, lo = np.meshgrid(g, g, indexing="ij")
        keep = lo <= hi
        others = [hi[keep], lo[keep]]
    best: tuple[float, OfflineJudge] = (-math.inf, base)
    for w in weights:
        for bonus in bonuses:
            for pen in penalties:
                kap = _grid_kappa(margin + w * fp + bonus * named - pen * lst, y, ai, fixed, g, others)
                j = int(np.argmax(kap))  # the first best, in the order (ai_role_score, other thresholds)
                if kap.flat[j] > best[0] + 1e-12:
                    t, u = divmod(j, kap.shape[1])
                    extra: dict[str, Any] = (
                        {"implied_ai_score": float(others[0][u])}
                        if base.rubric == "paper"
                        else {"in_role_score": float(others[0][u]), "some_role_score": float(others[1][u])}
                    )
                    best = (
                        float(kap.flat[j]),
                        replace(
                            base,
                            first_person_weight=float(w),
                            role_named_bonus=float(bonus),
                            list_penalty=float(pen),
                            ai_role_score=float(g[t]),
                            **extra,
                        ),
                    )
    return best[1]


def load_hand_labels(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The book's hand-labelled responses (``data/judge/hand_labels.jsonl``), one dict per row."""
    if path is None:
        from importlib import resources

        text = (
            resources.files("persona_axis")
            .joinpath("data/judge/hand_labels.jsonl")
            .read_text(encoding="utf-8")
        )
    else:
        text = Path(path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]
