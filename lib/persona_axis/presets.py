"""Parameter sets: ``tiny`` (tests), ``quick`` (minutes), ``book`` (the default run), ``paper`` (GPUs).

Each chapter looks up its own sizes here by preset name, so one parameter scales a whole chapter.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "preset"]

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "quickstart": {
        "tiny": {"n_questions": 2, "n_prompts": 1, "max_new_tokens": 12, "answer_tokens": 16},
        "quick": {"n_questions": 4, "n_prompts": 2, "max_new_tokens": 32, "answer_tokens": 48},
        "book": {"n_questions": 8, "n_prompts": 3, "max_new_tokens": 48, "answer_tokens": 64},
        "paper": {"n_questions": 240, "n_prompts": 5, "max_new_tokens": 512, "answer_tokens": 256},
    },
    "persona_space": {
        "tiny": {"roles": 8, "n_prompts": 1, "n_questions": 2, "max_new_tokens": 12, "labels": None, "min_count": 1,
                 "traits": 8, "trait_pairs": 1, "trait_questions": 1, "batch_size": 32},
        "quick": {"roles": 40, "n_prompts": 2, "n_questions": 4, "max_new_tokens": 32, "labels": [3, 2], "min_count": 2,
                  "traits": 40, "trait_pairs": 1, "trait_questions": 2, "batch_size": 64},
        "book": {"roles": None, "n_prompts": 2, "n_questions": 8, "max_new_tokens": 64, "labels": [3, 2], "min_count": 4,
                 "traits": None, "trait_pairs": 1, "trait_questions": 4, "batch_size": 64},
        "paper": {"roles": None, "n_prompts": 5, "n_questions": 240, "max_new_tokens": 512, "labels": [3, 2], "min_count": 10,
                  "traits": None, "trait_pairs": 5, "trait_questions": 240, "batch_size": 64},
    },
    "judge_validation": {
        # the trait rollouts whose pairs the trait filter scores: every trait_every-th trait, with
        # the book preset's sampling (64 new tokens, seed 0, the middle layer recorded)
        "tiny": {"models": ["smollm2-135m-instruct"], "trait_every": 120, "trait_pairs": 1, "trait_questions": 1,
                 "max_new_tokens": 12, "batch_size": 32},
        "quick": {"models": ["smollm2-135m-instruct"], "trait_every": 20, "trait_pairs": 5, "trait_questions": 1,
                  "max_new_tokens": 32, "batch_size": 64},
        "book": {"models": ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"], "trait_every": 10, "trait_pairs": 5,
                 "trait_questions": 1, "max_new_tokens": 64, "batch_size": 64},
        "paper": {"models": ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"], "trait_every": 1, "trait_pairs": 5,
                  "trait_questions": 240, "max_new_tokens": 512, "batch_size": 64},
    },
    "base_vs_instruct": {
        "tiny": {"coefficients": [-0.2, 0.0, 0.2], "samples": 1, "max_new_tokens": 12},
        "quick": {"coefficients": [-0.3, -0.15, 0.0, 0.15, 0.3], "samples": 2, "max_new_tokens": 24},
        "book": {"coefficients": [-0.4, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4], "samples": 8, "max_new_tokens": 32},
        "paper": {"coefficients": [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], "samples": 50, "max_new_tokens": 64},
    },
    "steering": {
        "tiny": {"roles": 2, "coefficients": [-0.5, 0.0, 0.5], "max_new_tokens": 12},
        "quick": {"roles": 6, "coefficients": [-0.8, -0.4, 0.0, 0.4], "max_new_tokens": 32},
        "book": {"roles": 20, "coefficients": [-1.0, -0.6, -0.3, 0.0, 0.3, 0.6], "max_new_tokens": 48},
        "paper": {"roles": 50, "coefficients": [-1.0, -0.6, -0.3, 0.0, 0.3, 0.6], "max_new_tokens": 256},
    },
    "drift": {
        "tiny": {"per_domain": 2, "turns": 2, "max_new_tokens": 12},
        "quick": {"per_domain": 4, "turns": 4, "max_new_tokens": 32},
        "book": {"per_domain": 10, "turns": 8, "max_new_tokens": 48},
        "paper": {"per_domain": 12, "turns": 10, "max_new_tokens": 512},
    },
    "capping": {
        # sizes: prompts per evaluation set; centres and widths as fractions of the depth (the paper:
        # Qwen 3 32B layers 46-53 of 64, width 1/8, centre 0.78; Llama 3.3 70B 56-71 of 80, width 1/5,
        # centre 0.8); percentiles in the paper-text convention (floor on the axis)
        "tiny": {"sizes": {"jailbreak": 4, "persona": 4, "instructions": 2, "arithmetic": 2, "knowledge": 2},
                 "far_roles": 4, "centres": [0.6], "widths": [0.125], "percentiles": [25], "max_new_tokens": 12,
                 "per_domain": 1, "turns": 2, "drift_tokens": 12},
        "quick": {"sizes": {"jailbreak": 16, "persona": 16, "instructions": 12, "arithmetic": 12, "knowledge": 12},
                  "far_roles": 8, "centres": [0.5, 0.75], "widths": [0.125], "percentiles": [25, 75], "max_new_tokens": 32,
                  "per_domain": 2, "turns": 4, "drift_tokens": 32},
        "book": {"sizes": {"jailbreak": 64, "persona": 64, "instructions": 40, "arithmetic": 40, "knowledge": 40},
                 "far_roles": 16, "centres": [0.5, 0.75], "widths": [0.125, 0.25], "percentiles": [25, 75],
                 "max_new_tokens": 48, "per_domain": 4, "turns": 6, "drift_tokens": 48},
        "paper": {"sizes": {"jailbreak": 120, "persona": 240, "instructions": 120, "arithmetic": 129, "knowledge": 128},
                  "far_roles": 50, "centres": [0.5, 0.625, 0.75, 0.8], "widths": [0.125, 0.2],
                  "percentiles": [1, 25, 50, 75], "max_new_tokens": 256, "per_domain": 12, "turns": 10, "drift_tokens": 512},
    },
}


def preset(chapter: str, name: str) -> dict[str, Any]:
    """The parameters of ``chapter`` under preset ``name`` (a copy)."""
    if chapter not in PRESETS:
        raise KeyError(f"no presets for {chapter!r}; known: {sorted(PRESETS)}")
    if name not in PRESETS[chapter]:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS[chapter])}")
    return dict(PRESETS[chapter][name])
