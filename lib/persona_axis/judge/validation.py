"""Validating the judges against the hand labels: labeller agreement, role-held-out fits, baselines.

The hand labels (``data/judge/role_labels.jsonl``, ``trait_labels.jsonl``) were made by two
labellers working independently (columns ``label_a`` / ``label_b``, ``score_a`` / ``score_b``)
and resolved into one column (``label``, ``score``). Their agreement is the ceiling a judge can
reach. A judge is measured on roles (traits) it was not fitted on: ``cross_fit`` splits the
roles into ``k`` folds by a hash of their name, fits on the other folds and predicts each fold.

Everything is reported per model, beside the trivial baseline that ignores the text (the
majority label of that model's responses): a judge that only learned which model wrote a response
scores no better than that.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from persona_axis.judge.agreement import agreement

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "load_role_labels",
    "load_trait_labels",
    "role_folds",
    "cross_fit",
    "labeller_agreement",
    "judge_agreement",
    "confusion_table",
    "trait_agreement",
    "three_vs_rest",
    "trait_filter_agreement",
]


def _packaged_jsonl(name: str) -> list[dict[str, Any]]:
    from importlib import resources

    text = resources.files("persona_axis").joinpath(f"data/judge/{name}").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def load_role_labels() -> list[dict[str, Any]]:
    """Hand labels of role rollouts under the paper's rubric (``data/judge/role_labels.jsonl``).

    One dict per response: ``id``, ``model``, ``role``, ``category``, ``system``, ``question``,
    ``response``, ``prompt_index``, ``question_id``, ``label_a``, ``label_b`` (the two labellers),
    ``label`` (agreed, or resolved by an adjudicator), ``resolved`` (whether it was adjudicated).
    """
    return _packaged_jsonl("role_labels.jsonl")


def load_trait_labels() -> list[dict[str, Any]]:
    """Hand scores of trait rollouts (``data/judge/trait_labels.jsonl``): ``id``, ``model``,
    ``trait``, ``side`` (``+`` / ``-``, hidden from the labellers), ``pair_index``, ``system``,
    ``question``, ``response``, ``score_a``, ``score_b``, ``score`` (0-100, ``None`` = REFUSAL)."""
    return _packaged_jsonl("trait_labels.jsonl")


def role_folds(names: Sequence[str], k: int = 5) -> dict[str, int]:
    """A fold 0..k-1 for every distinct name, from the sha256 of the name (stable across runs)."""
    if k < 2:
        raise ValueError("k must be at least 2")
    return {n: int(hashlib.sha256(n.encode()).hexdigest(), 16) % k for n in sorted(set(names))}


def cross_fit(
    groups: Sequence[str],
    fit: Callable[[list[int]], Any],
    predict: Callable[[Any, list[int]], Sequence[Any]],
    k: int = 5,
) -> list[Any]:
    """Predictions for every row from a model fitted without that row's group (role or trait).

    Args:
        groups: the group of each row (role or trait name).
        fit: ``fit(train_rows) -> model`` (row positions).
        predict: ``predict(model, test_rows) -> one prediction per test row``.
        k: folds of groups (``role_folds``).
    """
    folds = role_folds(groups, k)
    out: list[Any] = [None] * len(groups)
    for f in range(k):
        test = [i for i, g in enumerate(groups) if folds[g] == f]
        if not test:
            continue
        train = [i for i, g in enumerate(groups) if folds[g] != f]
        model = fit(train)
        for i, p in zip(test, predict(model, test)):
            out[i] = p
    return out


def three_vs_rest(labels: Sequence[int]) -> list[int]:
    """1 where the label is 3 (fully in role, the official code's filter), else 0."""
    return [int(x == 3) for x in labels]


def _agree(y: Sequence[int], p: Sequence[int]) -> tuple[float, float, float]:
    a = agreement(list(y), list(p))
    b = agreement(three_vs_rest(y), three_vs_rest(p), labels=(0, 1))
    return a["accuracy"], a["kappa"], b["kappa"]


def labeller_agreement(rows: Any, a: str = "label_a", b: str = "label_b") -> Any:
    """Agreement of the two labellers, per model and overall: ``n``, accuracy, kappa on 0-3,
    kappa on 3-vs-rest (a ``DataFrame`` indexed by model, last row ``all``)."""
    import pandas as pd

    out = []
    for m, g in [*rows.groupby("model"), ("all", rows)]:
        acc, k4, k2 = _agree(g[a].astype(int), g[b].astype(int))
        out.append({"model": m, "n": len(g), "accuracy": acc, "kappa (0-3)": k4, "kappa (3 vs rest)": k2})
    return pd.DataFrame(out).set_index("model")


def judge_agreement(rows: Any, pred: str = "judge", truth: str = "label") -> Any:
    """A judge's agreement with the hand labels per model (and overall), beside the majority baseline.

    Columns: ``n``; the judge's accuracy, kappa on 0-3 and on 3-vs-rest; the baseline's label
    (the most common hand label of that model), its accuracy and its kappa on 3-vs-rest. Within a
    model the baseline is a constant, so its kappas are 0; over all models it is the rule "this
    model -> its majority label", whose kappa can be well above 0 when models differ.
    """
    import pandas as pd

    majority = {m: int(g[truth].astype(int).mode().sort_values().iloc[0]) for m, g in rows.groupby("model")}
    base = rows["model"].map(majority).astype(int)
    out = []
    for m, g in [*rows.groupby("model"), ("all", rows)]:
        y = g[truth].astype(int).tolist()
        acc, k4, k2 = _agree(y, g[pred].astype(int).tolist())
        bacc, bk4, bk2 = _agree(y, base.loc[g.index].tolist())
        out.append(
            {
                "model": m,
                "n": len(g),
                "accuracy": acc,
                "kappa (0-3)": k4,
                "kappa (3 vs rest)": k2,
                "baseline label": majority.get(str(m), "per model"),
                "baseline accuracy": bacc,
                "baseline kappa (0-3)": 0.0 if m != "all" else bk4,
                "baseline kappa (3 vs rest)": 0.0 if m != "all" else bk2,
            }
        )
    return pd.DataFrame(out).set_index("model")


def confusion_table(
    y_true: Sequence[int], y_pred: Sequence[int], names: tuple[str, str] = ("hand", "judge")
) -> Any:
    """The 4x4 confusion table (rows: ``y_true`` labels 0-3, columns: ``y_pred``) as a ``DataFrame``."""
    import pandas as pd

    a = agreement(list(y_true), list(y_pred))
    return pd.DataFrame(
        a["confusion"],
        index=[f"{names[0]} {k}" for k in a["labels"]],
        columns=[f"{names[1]} {k}" for k in a["labels"]],
    )


def _num(x: Any) -> float:
    return math.nan if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def trait_agreement(rows: Any, pred: str, truth: str = "score", threshold: float = 50.0) -> Any:
    """Trait-score agreement per model (and overall).

    Columns: ``n`` (rows where both sides give a number), mean absolute error, Pearson r, kappa of
    the decision ``score >= threshold``, REFUSAL agreement (share of rows where both or neither
    say REFUSAL), and the constant baseline's mean absolute error (predicting the model's mean
    hand score).
    """
    import numpy as np
    import pandas as pd

    out = []
    for m, g in [*rows.groupby("model"), ("all", rows)]:
        y = np.array([_num(v) for v in g[truth]])
        p = np.array([_num(v) for v in g[pred]])
        both = ~np.isnan(y) & ~np.isnan(p)
        r = (
            float(np.corrcoef(y[both], p[both])[0, 1])
            if both.sum() > 2 and y[both].std() > 0 and p[both].std() > 0
            else math.nan
        )
        k = (
            agreement((y[both] >= threshold).astype(int), (p[both] >= threshold).astype(int), labels=(0, 1))[
                "kappa"
            ]
            if both.any()
            else math.nan
        )
        base = float(np.abs(y[both] - y[both].mean()).mean()) if both.any() else math.nan
        out.append(
            {
                "model": m,
                "n": int(both.sum()),
                "MAE": float(np.abs(y[both] - p[both]).mean()) if both.any() else math.nan,
                "Pearson r": r,
                f"kappa (>= {threshold:g})": k,
                "REFUSAL agreement": float((np.isnan(y) == np.isnan(p)).mean()) if len(y) else math.nan,
                "baseline MAE (model mean)": base,
            }
        )
    return pd.DataFrame(out).set_index("model")


def _trait_pairs(g: Any, pred: str, truth: str) -> Any:
    """Every (positive, negative) combination of rows of one model and one trait, with both sides' scores."""
    import pandas as pd

    cols = ["trait", "pair_index", "question", truth, pred]
    pos, neg = g[g["side"] == "+"][cols], g[g["side"] == "-"][cols]
    both = pos.merge(neg, on="trait", suffixes=("+", "-"))
    if both.empty:
        return pd.DataFrame(columns=["trait", "same prompt", "truth", "pred"])
    same = (both["pair_index+"] == both["pair_index-"]) & (both["question+"] == both["question-"])
    return pd.DataFrame(
        {
            "trait": both["trait"],
            "same prompt": same,
            "truth": [_num(a) - _num(b) for a, b in zip(both[f"{truth}+"], both[f"{truth}-"])],
            "pred": [_num(a) - _num(b) for a, b in zip(both[f"{pred}+"], both[f"{pred}-"])],
        }
    )


def _r(a: Any, b: Any) -> float:
    import numpy as np

    ok = ~np.isnan(a) & ~np.isnan(b)
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return math.nan
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def trait_filter_agreement(
    rows: pd.DataFrame,
    pred: str,
    truth: str = "score",
    threshold: float = 50.0,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """A trait scorer against the hand scores, per model, with bootstrap intervals over traits.

    The paper's filter keeps a prompt pair when its positive response scores at least
    ``threshold`` above its negative one (REFUSAL on either side: not kept). The hand-scored rows
    rarely hold both answers of one prompt pair, so the decision is measured on every
    (positive, negative) combination of answers of one model to one trait: the filter asks only
    for a difference, and any positive and negative answer of a trait make one.

    Args:
        rows: ``load_trait_labels()`` as a DataFrame (``model``, ``trait``, ``side``,
            ``pair_index``, ``question``, ``truth``), plus the scorer's column ``pred``
            (0-100, ``None`` / NaN = REFUSAL).

    Returns:
        A ``DataFrame`` indexed by model with: ``traits``, ``answers``; ``r`` (Pearson r of the
        scores over answers where both give a number) and its interval ``r low`` / ``r high``;
        ``pairs``, ``same-prompt pairs``, ``r (differences)`` (Pearson r of the pairs' score
        differences, hand against scorer) and its interval; ``kept (hand)``,
        ``kept (scorer)``; ``filter agreement`` (share of pairs with the same keep decision) and
        its interval; ``baseline agreement``: the constant rule that gives every pair the hand
        labels' majority decision for that model (its ``baseline decision``). Intervals resample
        traits (``stats.bootstrap_indices``, 95%); NaN where a trait resample leaves r undefined.
    """
    import numpy as np
    import pandas as pd

    from persona_axis.core.stats import bootstrap_indices

    out = []
    for m, g in rows.groupby("model"):
        traits = sorted(g["trait"].unique())
        per = {t: g[g["trait"] == t] for t in traits}
        pairs = {t: _trait_pairs(per[t], pred, truth) for t in traits}
        ys = {t: np.array([_num(v) for v in per[t][truth]]) for t in traits}
        ps = {t: np.array([_num(v) for v in per[t][pred]]) for t in traits}
        keep_h = {
            t: np.nan_to_num(pairs[t]["truth"].to_numpy(float), nan=-np.inf) >= threshold for t in traits
        }
        keep_p = {
            t: np.nan_to_num(pairs[t]["pred"].to_numpy(float), nan=-np.inf) >= threshold for t in traits
        }
        all_h = np.concatenate([keep_h[t] for t in traits])
        majority = bool(all_h.mean() > 0.5) if len(all_h) else False

        def cat(d: dict[str, Any], idx: Any) -> Any:
            return np.concatenate([d[traits[i]] for i in idx]) if len(idx) else np.array([])

        def r_stat(idx: Any) -> float:
            return _r(cat(ys, idx), cat(ps, idx))

        dys = {t: pairs[t]["truth"].to_numpy(float) for t in traits}
        dps = {t: pairs[t]["pred"].to_numpy(float) for t in traits}

        def rd_stat(idx: Any) -> float:
            return _r(cat(dys, idx), cat(dps, idx))

        def agree(idx: Any) -> float:
            h = cat(keep_h, idx)
            return float((h == cat(keep_p, idx)).mean()) if len(h) else math.nan

        every = np.arange(len(traits))
        kw: dict[str, Any] = {"unit": "traits", "n_resamples": n_resamples, "seed": seed}
        r_iv, a_iv = bootstrap_indices(len(traits), r_stat, **kw), bootstrap_indices(len(traits), agree, **kw)
        d_iv = bootstrap_indices(len(traits), rd_stat, **kw)
        allp = pd.concat(pairs.values())
        out.append(
            {
                "model": m,
                "traits": len(traits),
                "answers": len(g),
                "r": r_iv.estimate,
                "r low": r_iv.low,
                "r high": r_iv.high,
                "pairs": len(allp),
                "same-prompt pairs": int(allp["same prompt"].sum()),
                "r (differences)": d_iv.estimate,
                "r (differences) low": d_iv.low,
                "r (differences) high": d_iv.high,
                "kept (hand)": int(all_h.sum()),
                "kept (scorer)": int(cat(keep_p, every).sum()),
                "filter agreement": a_iv.estimate,
                "agreement low": a_iv.low,
                "agreement high": a_iv.high,
                "baseline decision": "keep" if majority else "drop",
                "baseline agreement": float((all_h == majority).mean()) if len(all_h) else math.nan,
            }
        )
    return pd.DataFrame(out).set_index("model")
