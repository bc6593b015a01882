"""Agreement of two labellings: accuracy, Cohen's kappa overall and per label, confusion."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["agreement"]


def agreement(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int] = (0, 1, 2, 3)
) -> dict[str, Any]:
    """Agreement of two labellings.

    Returns a dict with ``n``, ``accuracy``, ``kappa`` (Cohen's), ``per_label`` (for each label:
    one-vs-rest ``kappa``, ``precision``, ``recall``, ``support`` in ``y_true``, ``predicted``),
    ``confusion`` (rows: ``y_true``, columns: ``y_pred``, in the order of ``labels``) and
    ``labels``. A kappa that is undefined (one side constant) is ``nan``.
    """
    import warnings

    import numpy as np
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    yt, yp = np.asarray(list(y_true), dtype=int), np.asarray(list(y_pred), dtype=int)
    if yt.shape != yp.shape:
        raise ValueError("y_true and y_pred differ in length")
    labels = list(labels)

    def kappa(a: Any, b: Any) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            k = cohen_kappa_score(a, b, labels=sorted(set(a.tolist()) | set(b.tolist())) or None)
        return float(k) if np.isfinite(k) else math.nan

    per: dict[int, dict[str, float]] = {}
    for lab in labels:
        t, p = yt == lab, yp == lab
        tp = int((t & p).sum())
        per[lab] = {
            "kappa": kappa(t.astype(int), p.astype(int)) if len(yt) else math.nan,
            "precision": tp / int(p.sum()) if p.sum() else math.nan,
            "recall": tp / int(t.sum()) if t.sum() else math.nan,
            "support": int(t.sum()),
            "predicted": int(p.sum()),
        }
    return {
        "n": int(len(yt)),
        "accuracy": float((yt == yp).mean()) if len(yt) else math.nan,
        "kappa": kappa(yt, yp) if len(yt) else math.nan,
        "per_label": per,
        "confusion": confusion_matrix(yt, yp, labels=labels).tolist()
        if len(yt)
        else [[0] * len(labels)] * len(labels),
        "labels": labels,
    }
