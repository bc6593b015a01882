"""Time a preset's persona-space rollouts (roles + default) for one model, and cache them.

    python benchmarks/persona_rollouts.py --model smollm2-135m-instruct --preset book

Prints the number of rollouts, response tokens, wall time and throughput. A second run with
the same settings loads the cached rollouts (and says so). Target (issue: rollouts): the
``book`` preset in at most 20 minutes for smollm2-135m-instruct on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import time

from persona_axis.core.presets import preset
from persona_axis.engine.rollouts import Sampling
from persona_axis.model.models import load_model
from persona_axis.persona.catalogue import load_catalogue, pick_roles
from persona_axis.persona.runs import collect, persona_jobs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--preset", default="book")
    args = ap.parse_args()
    p = preset("persona_space", args.preset)  # the rollouts chapters 1 and 2 use
    model, tok, spec = load_model(args.model)
    cat = load_catalogue()
    jobs = persona_jobs(
        cat, spec, n_prompts=p["n_prompts"], n_questions=p["n_questions"], roles=pick_roles(cat, p["roles"])
    )
    t0 = time.perf_counter()
    ro = collect(
        model,
        tok,
        spec,
        jobs,
        Sampling(max_new_tokens=p["max_new_tokens"], seed=0),
        batch_size=p["batch_size"],
    )
    dt = time.perf_counter() - t0
    n_tok = int(ro.table["n_tokens"].sum())
    timing = (
        f"{dt:.0f} s ({n_tok / dt:.0f} tok/s, {len(jobs) / dt:.1f} rollouts/s)"
        if dt > 5
        else "loaded from the cache; delete the cache folder to time a fresh run"
    )
    print(
        f"[{args.model}, preset {args.preset}] {len(jobs)} rollouts, {n_tok} response tokens, {timing}; "
        f"finished at EOS: {ro.table['finished'].mean():.0%}; cache: {ro.path}"
    )


if __name__ == "__main__":
    main()
