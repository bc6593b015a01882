"""Draw hand-label items from the book's rollouts, stratified over roles, (hidden) judge labels and models.

usage: build_items.py roles SRC.jsonl N ID_OFFSET   -> appends to items_roles.jsonl (+ A/ and B/ copies)
       build_items.py traits SRC.jsonl N ID_OFFSET  -> appends to items_traits.jsonl
The offline judge's labels are used only to stratify; they are written to judge_strata_*.jsonl,
which the labellers never see.
"""

import json, random, sys, collections
from pathlib import Path
from persona_axis.persona.catalogue import load_catalogue

kind, src, n, off = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
D = Path("/work/labels")
cat = load_catalogue(None)
rows = [json.loads(l) for l in open(src)]
rng = random.Random(1234 + off)
out = []
if kind == "roles":
    from persona_axis.judge import AI_CUES, REFUSAL_CUES, find_cue

    keep_roles = set([r.name for r in cat.roles][::3])
    rows = [r for r in rows if r["group"] == "role" and r["name"] in keep_roles]
    by_role = collections.defaultdict(list)
    for r in rows:
        by_role[r["name"]].append(r)
    # strata from the judge's cheap cue rules (AI self-identification, refusal), not the full judge
    for r in rows:
        r["_judge"] = (
            0 if find_cue(r["response"], REFUSAL_CUES) else (1 if find_cue(r["response"], AI_CUES) else 3)
        )
    # stratify: rare judge labels first, spread over roles
    per_label = collections.defaultdict(list)
    for r in rows:
        per_label[r["_judge"]].append(r)
    for v in per_label.values():
        rng.shuffle(v)
    quota = {l: n // 4 for l in per_label}
    chosen, used_roles = [], collections.Counter()
    for l in sorted(per_label, key=lambda l: len(per_label[l])):
        pool = sorted(per_label[l], key=lambda r: used_roles[r["name"]])
        take = pool[: quota[l]]
        chosen += take
        used_roles.update(r["name"] for r in take)
    rest = [r for r in rows if r not in chosen]
    rng.shuffle(rest)
    rest.sort(key=lambda r: used_roles[r["name"]])
    chosen += rest[: n - len(chosen)]
    rng.shuffle(chosen)
    strata = []
    for i, r in enumerate(chosen):
        role = cat.role(r["name"])
        out.append(
            {
                "id": off + i,
                "model": r["model"],
                "role": r["name"],
                "category": role.category,
                "description": role.description,
                "system": r["system"],
                "question": r["question"],
                "response": r["response"],
                "prompt_index": r["prompt_index"],
                "question_id": r["question_id"],
            }
        )
        strata.append({"id": off + i, "cue_stratum": r["_judge"]})
    with open(D / "judge_strata_roles.jsonl", "a") as f:
        for s in strata:
            f.write(json.dumps(s) + "\n")
    blind = [{k: o[k] for k in ("id", "role", "description", "system", "question", "response")} for o in out]
else:
    traits = {t.name: t for t in cat.traits}
    rng.shuffle(rows)
    by_trait = collections.defaultdict(list)
    for r in rows:
        by_trait[r["name"]].append(r)
    chosen = []
    while len(chosen) < n and any(by_trait.values()):
        for t in list(by_trait):
            if by_trait[t] and len(chosen) < n:
                chosen.append(by_trait[t].pop())
    for i, r in enumerate(chosen):
        out.append(
            {
                "id": off + i,
                "model": r["model"],
                "trait": r["name"],
                "description": traits[r["name"]].description,
                "side": r["group"][-1],
                "pair_index": r["prompt_index"],
                "system": r["system"],
                "question": r["question"],
                "response": r["response"],
            }
        )
    blind = [{k: o[k] for k in ("id", "trait", "description", "question", "response")} for o in out]
with open(D / f"items_{kind}.jsonl", "a") as f:
    for o in out:
        f.write(json.dumps(o) + "\n")
for who in ("A", "B"):
    (D / who).mkdir(exist_ok=True)
    with open(D / who / f"items_{kind}_{off}.jsonl", "w") as f:
        for o in blind:
            f.write(json.dumps(o) + "\n")
print(kind, len(out), "items from", src, collections.Counter(o.get("model") for o in out))
