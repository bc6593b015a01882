"""Rollouts for hand labelling and for the judge's rerun table, with the book preset's sampling.

Steps (each exported to /work/labels as JSONL; activations stay in the default artifacts cache,
under the same keys chapter 1 uses where the jobs are the chapter's):
  smol-sub    SmolLM2, every 3rd role, the first 4 questions
  qwen-sub    Qwen, the same
  traits-sub  both models, every 10th trait x 5 prompt pairs x 1 question
  smol-full   SmolLM2, every role (chapter 1's persona rollouts, same cache key)
  qwen-full   Qwen, every role (chapter 1's persona rollouts)
"""

import json, sys, time
from persona_axis.persona.catalogue import load_catalogue, pick_roles
from persona_axis.model.models import load_model
from persona_axis.core.presets import preset
from persona_axis.engine.rollouts import Sampling
from persona_axis.persona.runs import persona_jobs, trait_jobs, collect

P = preset("persona_space", "book")
cat = load_catalogue(None)
S = Sampling(max_new_tokens=P["max_new_tokens"], seed=0)
MODELS = {"smol": "smollm2-135m-instruct", "qwen": "qwen2.5-coder-0.5b-instruct"}
loaded = {}


def get(m):
    if m not in loaded:
        loaded.clear()
        loaded[m] = load_model(MODELS[m])
    return loaded[m]


def export(ro, name, model):
    with open(f"/work/labels/{name}.jsonl", "w") as f:
        for row in ro.table.to_dict("records"):
            row.pop("tokens", None)
            f.write(json.dumps({"model": model, **row}) + "\n")
    print(time.strftime("%H:%M:%S"), name, len(ro.table), "rollouts written", flush=True)


for step in sys.argv[1:]:
    kind, part = step.split("-")
    if kind == "traits":
        for m in ("smol", "qwen"):
            lm, tok, spec = get(m)
            names = [t.name for t in cat.traits][::10]
            jobs = trait_jobs(cat, n_pairs=5, n_questions=1, traits=names)
            ro = collect(lm, tok, spec, jobs, S, layers=[spec.middle_layer], batch_size=P["batch_size"])
            export(ro, f"traits_{m}", MODELS[m])
        continue
    lm, tok, spec = get(kind)
    roles = pick_roles(cat, P["roles"]) if part == "full" else [r.name for r in cat.roles][::3]
    jobs = persona_jobs(
        cat,
        spec,
        n_prompts=P["n_prompts"],
        n_questions=P["n_questions"] if part == "full" else 4,
        roles=roles,
        include_default=(part == "full"),
    )
    ro = collect(
        lm,
        tok,
        spec,
        jobs,
        S,
        layers=None if part == "full" else [spec.middle_layer],
        batch_size=P["batch_size"],
    )
    export(ro, f"{kind}_{part}", MODELS[kind])
