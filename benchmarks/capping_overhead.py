"""Generation throughput with activation capping on an 8-layer band against no hooks.

Both sides decode the same prompts (the persona jailbreaks of the capping chapter) greedily with
the same batch size; the capped side floors the Assistant Axis at the 25th percentile on 8
consecutive layers around 3/4 of the depth, as the paper does. Runs alternate (uncapped, capped,
uncapped, ...) so that load from other processes falls on both sides alike. The target is a capped
run at most 10% slower. Figures are printed, not asserted: run-to-run noise on a 2-core machine is
about 15%, so use several repeats on an otherwise idle machine.

    python benchmarks/capping_overhead.py --model smollm2-135m-instruct --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from persona_axis.core.presets import preset
from persona_axis.engine.rollouts import Sampling, generate
from persona_axis.evals import load_jailbreaks
from persona_axis.interventions import capping as C
from persona_axis.model.chat import prompt_ids
from persona_axis.model.models import load_model
from persona_axis.persona.catalogue import load_catalogue
from persona_axis.persona.pipeline import get_axis, persona_rollouts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument(
        "--preset",
        default="book",
        help="persona-space preset whose rollouts calibrate the cap (cached by chapter 1)",
    )
    ap.add_argument("--n", type=int, default=64, help="number of prompts")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--width", type=int, default=8, help="layers in the capped band")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    model, tok, spec = load_model(args.model)
    params = preset("persona_space", args.preset)
    ro = persona_rollouts(model, tok, spec, load_catalogue(), params)
    axis = get_axis(ro, params)
    setting = C.CapSetting(C.band(round(0.75 * (spec.n_layers - 1)), args.width, spec.n_layers), 25)
    plan = C.plan_cap(axis, ro.acts, ro.layers, setting)
    prompts = [prompt_ids(tok, spec, it.system, [it.request]) for it in load_jailbreaks()[: args.n]]
    sampling = Sampling(temperature=0, max_new_tokens=args.max_new_tokens)

    def run(p: C.CapPlan | None) -> float:
        t0 = time.perf_counter()
        with torch.no_grad(), C.capping(model, p):
            res = generate(model, tok, prompts, sampling, layers=[], batch_size=args.batch)
        return sum(res.n_tokens) / (time.perf_counter() - t0)

    run(None)  # warm-up
    rates: dict[str, list[float]] = {"no hooks": [], "capped": []}
    for _ in range(args.repeats):
        rates["no hooks"].append(run(None))
        rates["capped"].append(run(plan))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"model {spec.name}, {len(prompts)} prompts, batch {args.batch}, up to {args.max_new_tokens} new tokens, "
        f"{args.repeats} alternating repeats; capped band {setting.label}"
    )
    for k, v in rates.items():
        print(f"  {k:9s} median {med[k]:7.1f} generated tok/s  (runs: {', '.join(f'{x:.1f}' for x in v)})")
    slower = 1 - med["capped"] / med["no hooks"]
    print(f"capped run is {slower:+.1%} slower than no hooks (target: at most 10%)")


if __name__ == "__main__":
    main()
