"""Agreement of the offline judge with the hand labels (and the recipe that made the set).

Two modes:

    python benchmarks/judge_agreement.py                 # the agreement table (default)
    python benchmarks/judge_agreement.py --generate OUT  # re-sample the unlabelled responses

The hand-label set (``lib/persona_axis/data/judge/hand_labels.jsonl``) was made by
``--generate``: 24 roles (5 professions, 5 archetypes, 5 fictional, 5 mythical, 4 non-human),
5 (system prompt, question) pairs per role and model, from both embedded instruct models,
temperature 0.7, top_p 0.9, 64 new tokens, seed 0. The responses were then read and labelled
by hand following ``STRICT_GUIDE.md`` in the same folder (the book's older, stricter rubric, kept
as ``OfflineJudge(rubric="strict")``; the paper's rubric is validated in chapter 9 on ``role_labels.jsonl``).

The table reports accuracy and Cohen's kappa, overall, per label (one-vs-rest) and per model,
plus the confusion matrix, separately for the rows the default thresholds were fitted on
(``fit``: the rows whose ``id`` is even) and for the held-out rows (``held-out``: odd ids),
and the binary decision "label 3 vs not" that decides which responses enter persona space.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROLES = [
    # professions, two of them close to what an assistant does anyway
    "librarian",
    "tutor",
    "chef",
    "plumber",
    "surgeon",
    # archetypes
    "hermit",
    "conspiracy_theorist",
    "teenager",
    "grandparent",
    "cynic",
    # fictional
    "pirate",
    "cowboy",
    "wizard",
    "detective_noir",
    "jester",
    # mythical
    "dragon",
    "ghost",
    "vampire",
    "oracle",
    "troll",
    # non-human
    "cat",
    "lighthouse",
    "volcano",
    "oak_tree",
]
MODELS = ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"]
PER_ROLE = 5
LABELS_PATH = (
    Path(__file__).resolve().parents[1] / "lib" / "persona_axis" / "data" / "judge" / "hand_labels.jsonl"
)


def make_unlabelled(out: Path, seed: int = 0, max_new_tokens: int = 64) -> None:
    """Sample the responses to label (label field left as ``None``)."""
    from persona_axis.engine.rollouts import Sampling, generate
    from persona_axis.model.chat import prompt_ids
    from persona_axis.model.models import load_model
    from persona_axis.persona.catalogue import load_catalogue

    cat = load_catalogue()
    rng = random.Random(seed)
    items: list[tuple[str, str, str]] = []
    for name in ROLES:
        role = cat.role(name)
        qs = rng.sample(list(cat.questions), PER_ROLE)
        for i, q in enumerate(qs):
            items.append((name, role.prompts[i % len(role.prompts)], q.text))
    rows: list[dict[str, Any]] = []
    for m in MODELS:
        model, tok, spec = load_model(m)
        prompts = [prompt_ids(tok, spec, s, [q]) for _, s, q in items]
        res = generate(
            model,
            tok,
            prompts,
            Sampling(temperature=0.7, top_p=0.9, max_new_tokens=max_new_tokens, seed=seed),
            batch_size=64,
            layers=[0],
        )
        for (name, s, q), text in zip(items, res.texts):
            rows.append(
                {
                    "id": len(rows),
                    "model": m,
                    "role": name,
                    "system": s,
                    "question": q,
                    "response": text,
                    "label": None,
                    "note": "",
                }
            )
        del model
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"wrote {len(rows)} rows to {out}")


def is_fit_row(row: dict[str, Any]) -> bool:
    """Rows with even ids were used to fit the default thresholds of ``OfflineJudge``."""
    return int(row["id"]) % 2 == 0


def _fmt(x: float) -> str:
    return "  nan" if x != x else f"{x:5.2f}"


def report(title: str, y: Sequence[int], p: Sequence[int]) -> None:
    """Print accuracy, kappa (overall and one-vs-rest per label), 3-vs-not and the confusion matrix."""
    from persona_axis.judge import LABELS, agreement

    a = agreement(y, p)
    b = agreement([int(v == 3) for v in y], [int(v == 3) for v in p], labels=(0, 1))
    print(f"\n== {title}  (n={a['n']})")
    print(
        f"accuracy {_fmt(a['accuracy'])}   kappa {_fmt(a['kappa'])}   "
        f"| label 3 vs not: accuracy {_fmt(b['accuracy'])} kappa {_fmt(b['kappa'])} "
        f"precision {_fmt(b['per_label'][1]['precision'])} recall {_fmt(b['per_label'][1]['recall'])}"
    )
    print("label          support  predicted  kappa(1-vs-rest)  precision  recall")
    for lab, d in a["per_label"].items():
        print(
            f"{lab} {LABELS[lab]:<10} {d['support']:8d} {d['predicted']:10d} {_fmt(d['kappa']):>17} "
            f"{_fmt(d['precision']):>10} {_fmt(d['recall']):>7}"
        )
    print("confusion (rows: hand label 0..3, columns: judge 0..3)")
    for lab, row in zip(a["labels"], a["confusion"]):
        print(f"  {lab}: " + " ".join(f"{v:4d}" for v in row))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=Path, default=LABELS_PATH, help="hand-label file (jsonl)")
    ap.add_argument(
        "--generate",
        type=Path,
        default=None,
        metavar="OUT",
        help="sample the unlabelled responses into OUT and stop (loads both models)",
    )
    ap.add_argument(
        "--refit",
        action="store_true",
        help="re-run fit_thresholds on the fit rows and report with the refitted judge",
    )
    args = ap.parse_args()
    if args.generate is not None:
        make_unlabelled(args.generate)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from persona_axis.judge import OfflineJudge, fit_thresholds, load_hand_labels
    from persona_axis.persona.catalogue import load_catalogue

    rows = load_hand_labels(args.labels)
    cat = load_catalogue()
    judge = OfflineJudge(rubric="strict")  # these labels follow STRICT_GUIDE.md
    evidence = []
    for row in rows:  # one role per call would batch better; 240 rows take seconds either way
        evidence += judge.evidence(row["role"], cat.role(row["role"]).description, [row["response"]])
    if args.refit:
        fit_idx = [i for i, r in enumerate(rows) if is_fit_row(r)]
        judge = fit_thresholds(
            [evidence[i] for i in fit_idx],
            [rows[i]["response"] for i in fit_idx],
            [rows[i]["label"] for i in fit_idx],
            judge,
        )
    params = (
        "first_person_weight",
        "role_named_bonus",
        "list_penalty",
        "ai_role_score",
        "in_role_score",
        "some_role_score",
        "refusal_max_words",
    )
    print(
        ("refitted" if args.refit else "default")
        + " OfflineJudge: "
        + ", ".join(f"{k}={getattr(judge, k)}" for k in params)
    )
    pred = [judge.decide(e, r["response"]) for e, r in zip(evidence, rows)]
    print(
        f"{len(rows)} hand-labelled rows; 'fit' = even ids (used to fit the defaults), "
        "'held-out' = odd ids (never seen by the fit)"
    )

    def sub(keep: Any) -> tuple[list[int], list[int]]:
        idx = [i for i, r in enumerate(rows) if keep(r)]
        return [rows[i]["label"] for i in idx], [pred[i] for i in idx]

    report("HELD-OUT (odd ids), all models", *sub(lambda r: not is_fit_row(r)))
    report("FIT rows (even ids), all models", *sub(is_fit_row))
    for m in sorted({r["model"] for r in rows}):
        report(f"HELD-OUT, {m}", *sub(lambda r, m=m: r["model"] == m and not is_fit_row(r)))
        report(f"FIT, {m}", *sub(lambda r, m=m: r["model"] == m and is_fit_row(r)))
    report("ALL rows (fit + held-out; optimistic)", *sub(lambda r: True))


if __name__ == "__main__":
    main()
