"""The smoke run: its arithmetic (GPUs per copy, the paper preset's hours, the judge's cost), and the
whole chain on a CPU with vLLM's CPU package and a 4-layer random model."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from helpers import need_module, need_vllm_python, tiny_hub_folder
from persona_axis.site.smoke import (
    PAPER_MODELS,
    SmokeFigures,
    copies,
    judge_cost,
    paper_estimate,
    report_lines,
)

ROOT = Path(__file__).resolve().parents[1]
GEMMA, QWEN, LLAMA = PAPER_MODELS


def test_gpus_per_copy_follow_from_weights_and_cache() -> None:
    # Llama 3.3 70B: 141.2 GB of bf16 weights; two 80 GB GPUs give 0.9 * 160 - 2 * 2 = 140 GB: too little
    assert copies(LLAMA, 80, 2) == (None, 0)
    assert copies(LLAMA, 80, 8) == (4, 2)
    assert copies(LLAMA, 141, 8) == (2, 4)
    assert copies(GEMMA, 80, 8) == (1, 8)
    # Qwen 3 32B on one 80 GB GPU: 72 - 2 - 65.6 = 4.4 GB for the cache, 32 x 700 tokens need 5.9 GB
    assert copies(QWEN, 80, 1) == (None, 0) and copies(QWEN, 80, 1, sequences=16) == (1, 1)
    assert QWEN.kv_mb_per_token == pytest.approx(0.262144)


def _figures() -> SmokeFigures:
    return SmokeFigures(
        model="m",
        params=1_000_000_000,
        rollouts=100,
        mean_prompt_tokens=100,
        mean_new_tokens=300,
        engines=1,
        engine_load_seconds=30,
        gpus_per_engine=1,
        devices=8,
        generation_tokens_per_s=3000,
        reading_tokens_per_s=20000,
        judge_prompt_tokens=500,
        text_actor_rss_mb=1,
        engine_rss_mb=1,
        reader_rss_mb=1,
        seconds=1,
    )


def test_the_paper_estimate_scales_with_parameters_rollouts_and_devices() -> None:
    f = _figures()
    e = paper_estimate(f, QWEN)
    n = 331_200 + 576_000
    assert e["generation"] == pytest.approx(n * 300 * 32.8 / 3000 / 3600)
    assert e["reading"] == pytest.approx(n * 400 * 32.8 / 20000 / 3600)
    assert e["wall_hours"] == pytest.approx(e["device_hours"] / 8)
    # the same rate from two GPUs: twice the GPU-hours
    two = paper_estimate(replace(f, gpus_per_engine=2), QWEN)
    assert two["device_hours"] == pytest.approx(2 * e["device_hours"])
    assert judge_cost(500) == pytest.approx(330_000 * (500 * 0.40 + 8 * 1.60) / 1e6)
    text = "\n".join(report_lines(f))
    assert "GPU-hours" in text and "330,000 requests" in text and f"${judge_cost(500):,.0f}" in text


@pytest.mark.real_model
def test_the_smoke_run_on_a_cpu(tmp_path: Path) -> None:
    """10 roles x 2 prompts x 4 questions (and the default prompts): 100 rollouts through vLLM-CPU on
    one Ray actor, read, labelled, the axis built and one capped answer; the figures it prints."""
    ray = need_module("ray")
    from persona_axis.site.smoke import run_smoke

    py = need_vllm_python()
    folder = tiny_hub_folder(tmp_path / "tiny")
    path = os.pathsep.join([str(ROOT / "lib"), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    lines: list[str] = []
    before = os.environ.get("PERSONA_AXIS_ARTIFACTS")
    try:
        f = run_smoke(
            str(folder),
            max_new_tokens=16,
            python=str(py),
            root=tmp_path / "artifacts",
            progress=False,
            say=lines.append,
        )
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("PERSONA_AXIS_ARTIFACTS", None)
        else:
            os.environ["PERSONA_AXIS_ARTIFACTS"] = before
    print("\n".join(lines))
    assert f.rollouts == 100 and f.engines == 1 and f.gpus_per_engine == 0 and f.devices == 1
    assert 0 < f.mean_new_tokens <= 16 and f.generation_tokens_per_s > 0 and f.reading_tokens_per_s > 0
    assert f.judge_prompt_tokens > f.mean_new_tokens
    text = "\n".join(lines)
    assert "generated tokens/s" in text and "CPU worker-hours" in text and "capped:" in text
    assert all(m.name in text for m in PAPER_MODELS)
