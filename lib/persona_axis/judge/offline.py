"""The offline judge (cue regexes + MiniLM similarities + style cues), its fit and the hand labels."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .embedder import Embedder, default_embedder
from .rubric import (AI_CUES, ASSISTANT_REFERENCES, REFUSAL_CUES, Judgement, find_cue, first_person_rate, has_list,
                     names_role)

__all__ = ["OfflineJudge", "fit_thresholds", "load_hand_labels"]

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
    3. otherwise 3 if ``score >= in_role_score``, 2 if ``score >= some_role_score``, else 1.

    The default weights and thresholds were fitted with ``fit_thresholds`` on the even-id half of
    the book's hand labels; ``benchmarks/judge_agreement.py`` reports the agreement on the
    held-out odd-id half.

    Attributes:
        refusal_max_words: longer responses with a refusal phrase are judged by the other rules.
        first_person_weight, role_named_bonus, list_penalty: the weights of the score.
        ai_role_score, in_role_score, some_role_score: the thresholds above.
        refusal_cues, ai_cues: regexes (case-insensitive).
        assistant_references: generic assistant answers.
        embedder: the sentence embedder (``None``: one shared bundled MiniLM).
    """

    refusal_max_words: int = 40
    first_person_weight: float = 2.0
    role_named_bonus: float = 0.1
    list_penalty: float = 0.2
    ai_role_score: float = -0.11
    in_role_score: float = 0.27
    some_role_score: float = 0.06
    refusal_cues: tuple[str, ...] = REFUSAL_CUES
    ai_cues: tuple[str, ...] = AI_CUES
    assistant_references: tuple[str, ...] = ASSISTANT_REFERENCES
    embedder: Embedder | None = field(default=None, compare=False, repr=False)

    def identity(self) -> dict[str, Any]:
        """Everything that decides its labels, for cache keys: every compared field (weights,
        thresholds, cue lists, references) and the embedder's identity."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.compare}
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
        asst_sim = torch.max(vecs @ refs[1:].T, dim=1).values.tolist() if len(refs) > 1 else [0.0] * len(responses)
        return [Judgement(-1, find_cue(r, self.refusal_cues), find_cue(r, self.ai_cues), float(rs), float(a_s),
                          first_person_rate(r), names_role(r, role_name), has_list(r))
                for r, rs, a_s in zip(responses, role_sim, asst_sim)]

    def score(self, ev: Judgement) -> float:
        """The role score of one response (see the class docstring)."""
        return (ev.margin + self.first_person_weight * ev.first_person
                + self.role_named_bonus * ev.role_named - self.list_penalty * ev.list_format)

    def decide(self, ev: Judgement, response: str) -> int:
        """The label for one response from its evidence (the rule in the class docstring)."""
        if not response.strip():
            return 0
        if ev.refusal_cue is not None and len(response.split()) <= self.refusal_max_words:
            return 0
        s = self.score(ev)
        if ev.ai_cue is not None:
            return 2 if s >= self.ai_role_score else 1
        if s >= self.in_role_score:
            return 3
        if s >= self.some_role_score:
            return 2
        return 1

    def judge(self, role_name: str, role_description: str, responses: Sequence[str],
              questions: Sequence[str] | None = None) -> list[Judgement]:
        """Label each response to a role (batched). ``questions`` is accepted and ignored."""
        evs = self.evidence(role_name, role_description, responses)
        return [replace(ev, label=self.decide(ev, r)) for ev, r in zip(evs, responses)]


def _kappa(y: Any, p: Any, k: int = 4) -> Any:
    """Cohen's kappa of ``y`` against each row of ``p`` (``(m, n)`` int arrays), vectorised."""
    import numpy as np

    n = y.shape[0]
    po = (p == y[None, :]).mean(axis=1)
    ty = np.stack([(y == c).mean() for c in range(k)])
    tp = np.stack([(p == c).mean(axis=1) for c in range(k)], axis=1)
    pe = tp @ ty
    with np.errstate(divide="ignore", invalid="ignore"):
        kap = np.where(pe < 1, (po - pe) / (1 - pe), 0.0)
    return kap if n else np.zeros(p.shape[0])


def fit_thresholds(evidence: Sequence[Judgement], responses: Sequence[str], y_true: Sequence[int],
                   base: OfflineJudge | None = None, *, weights: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
                   bonuses: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2), penalties: Sequence[float] = (0.0, 0.1, 0.2),
                   grid: Sequence[float] | None = None) -> OfflineJudge:
    """Grid-search the weights and thresholds of ``OfflineJudge`` for the best Cohen's kappa.

    ``evidence`` comes from ``OfflineJudge.evidence`` (computed once, on labelled rows);
    ``refusal_max_words``, the cue lists and the embedder are kept from ``base``. The search is
    exhaustive over ``weights x bonuses x penalties x grid x grid x grid`` (thresholds on a 0.01
    grid by default) and deterministic: ties go to the first point in that order.
    """
    import numpy as np

    base = base or OfflineJudge()
    g = np.asarray(grid if grid is not None else [round(-0.4 + 0.01 * i, 2) for i in range(81)])
    y = np.asarray(list(y_true), dtype=int)
    margin = np.array([e.margin for e in evidence])
    fp = np.array([e.first_person for e in evidence])
    named = np.array([float(e.role_named) for e in evidence])
    lst = np.array([float(e.list_format) for e in evidence])
    ai = np.array([e.ai_cue is not None for e in evidence])
    fixed = np.array([base.decide(replace(e, ai_cue=None), r) == 0 for e, r in zip(evidence, responses)])
    best: tuple[float, OfflineJudge] = (-math.inf, base)
    for w in weights:
        for bonus in bonuses:
            for pen in penalties:
                s = margin + w * fp + bonus * named - pen * lst
                # AI-cue rows: 2 if s >= t else 1, for every t at once
                ai_pred = np.where(s[None, :] >= g[:, None], 2, 1)
                # other rows: 3 / 2 / 1 for every (hi, lo) pair with lo <= hi
                hi, lo = np.meshgrid(g, g, indexing="ij")
                keep = lo <= hi
                hi, lo = hi[keep], lo[keep]
                other = np.where(s[None, :] >= hi[:, None], 3, np.where(s[None, :] >= lo[:, None], 2, 1))
                for ti, t in enumerate(g):
                    pred = np.where(ai[None, :], ai_pred[ti][None, :], other)
                    pred = np.where(fixed[None, :], 0, pred)
                    kap = _kappa(y, pred)
                    j = int(np.argmax(kap))
                    if kap[j] > best[0] + 1e-12:
                        best = (float(kap[j]), replace(base, first_person_weight=float(w), role_named_bonus=float(bonus),
                                                       list_penalty=float(pen), ai_role_score=float(t),
                                                       in_role_score=float(hi[j]), some_role_score=float(lo[j])))
    return best[1]


def load_hand_labels(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The book's hand-labelled responses (``data/judge/hand_labels.jsonl``), one dict per row."""
    if path is None:
        from importlib import resources

        text = resources.files("persona_axis").joinpath("data/judge/hand_labels.jsonl").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]
