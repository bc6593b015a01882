"""Agreement of the offline judge with the hand labels (and the recipe that made the set).

Two modes:

    python benchmarks/judge_agreement.py                 # the agreement table (default)
    python benchmarks/judge_agreement.py --generate OUT  # re-sample the unlabelled responses

The hand-label set (``lib/persona_axis/data/judge/hand_labels.jsonl``) was made by
``--generate``: 24 roles (5 professions, 5 archetypes, 5 fictional, 5 mythical, 4 non-human),
5 (system prompt, question) pairs per role and model, from both embedded instruct models,
temperature 0.7, top_p 0.9, 64 new tokens, seed 0. The responses were then read and labelled
by hand following ``GUIDE.md`` in the same folder.

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
    "librarian", "tutor", "chef", "plumber", "surgeon",
    # archetypes
    "hermit", "conspiracy_theorist", "teenager", "grandparent", "cynic",
    # fictional
    "pirate", "cowboy", "wizard", "detective_noir", "jester",
    # mythical
    "dragon", "ghost", "vampire", "oracle", "troll",
    # non-human
    "cat", "lighthouse", "volcano", "oak_tree",
]
MODELS = ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"]
PER_ROLE = 5
LABELS_PATH = Path(__file__).resolve().parents[1] / "lib" / "persona_axis" / "data" / "judge" / "hand_labels.jsonl"


def make_unlabelled(out: Path, seed: int = 0, max_new_tokens: int = 64) -> None:
    """Sample the responses to label (label field left as ``None``)."""
    from persona_axis.catalogue import load_catalogue
    from persona_axis.chat import prompt_ids
    from persona_axis.models import load_model
    from persona_axis.rollouts import Sampling, generate

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
        res = generate(model, tok, prompts, Sampling(temperature=0.7, top_p=0.9, max_new_tokens=max_new_tokens,
                                                     seed=seed), batch_size=64, layers=[0])
        for (name, s, q), text in zip(items, res.texts):
            rows.append({"id": len(rows), "model": m, "role": name, "system": s, "question": q,
                         "response": text, "label": None, "note": ""})
        del model
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"wrote {len(rows)} rows to {out}")
