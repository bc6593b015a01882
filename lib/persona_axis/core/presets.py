"""Parameter sets: ``tiny`` (tests), ``quick`` (a first look), ``book`` (the default run), ``paper`` (GPUs).

Each chapter looks up its own sizes here by preset name, so one parameter scales a whole chapter.
A chapter's default preset is :func:`default_preset`: ``$PERSONA_AXIS_PRESET`` if set, else ``book``
(the build passes the preset explicitly). How long each preset takes on which machine is measured,
not written here: the book's *How to run* page and ``persona_axis.site.timing``.
A chapter's parameters have a type of their own (a ``TypedDict``: the chapters read them as
``P["n_prompts"]`` and save them with their results as JSON); ``preset`` returns a deep copy, so
changing what it returned never changes the table.
"""

from __future__ import annotations

import copy
import os
from typing import Literal, TypedDict, Union, overload

__all__ = [
    "PRESETS",
    "PRESET_NAMES",
    "PRESET_ENV",
    "DEFAULT_PRESET",
    "default_preset",
    "preset",
    "QuickstartPreset",
    "PersonaSpacePreset",
    "BaseVsInstructPreset",
    "SteeringPreset",
    "DriftPreset",
    "LivePreset",
    "CappingPreset",
    "CappingSizes",
    "ChapterPreset",
    "JudgeValidationPreset",
    "PaperVectorsPreset",
]

#: The preset names every chapter knows, smallest first.
PRESET_NAMES: tuple[str, ...] = ("tiny", "quick", "book", "paper")

#: The environment variable that sets the chapters' default preset (``export PERSONA_AXIS_PRESET=quick``
#: before ``make lab``: a chapter then reads what ``make book-quick`` cached), and its fallback.
PRESET_ENV = "PERSONA_AXIS_PRESET"
DEFAULT_PRESET = "book"


def default_preset() -> str:
    """The preset a chapter runs with when nothing is passed: ``$PERSONA_AXIS_PRESET``, else ``"book"``.

    Raises:
        ValueError: the variable names no preset (the message lists them).
    """
    name = os.environ.get(PRESET_ENV, "").strip() or DEFAULT_PRESET
    if name not in PRESET_NAMES:
        raise ValueError(
            f"{PRESET_ENV}={name!r} is not a preset: set it to one of {', '.join(PRESET_NAMES)} "
            f"(or unset it for {DEFAULT_PRESET!r})"
        )
    return name


class _Engine(TypedDict, total=False):
    """What generates a chapter's rollouts (``runs.engine_for``): ``"book"`` (absent: the book's
    one-pass engine, the cache key it always had) or ``"vllm"`` (vLLM's texts read in a
    teacher-forced pass; the paper's way, and the ``paper`` presets')."""

    engine: Literal["book", "vllm"]


class _QuickstartSizes(TypedDict):
    n_questions: int
    n_prompts: int
    max_new_tokens: int
    answer_tokens: int


class QuickstartPreset(_QuickstartSizes, _Engine, total=False):
    """Chapter 0: a handful of roles and questions (and optionally the engine, ``_Engine``)."""


class _PersonaSpaceSizes(TypedDict):
    """The persona space (chapters 1-7): which rollouts, and which role vectors make the axis.

    ``roles``: how many catalogue roles (``None``: all); ``labels``: the judge labels kept as
    separate role vectors (``None``: all rollouts of a role, unlabelled); ``min_count``: rollouts
    a (role, label) needs; ``traits`` / ``trait_pairs`` / ``trait_questions``: the trait rollouts.
    ``store_layers`` (``"all"`` if absent, or ``"paper"``: the middle layer and the capping bands)
    and ``acts_dtype`` (``"float32"`` if absent, or ``"bfloat16"``): the store (``runs.store_options``);
    the ``paper`` preset streams, the others keep every layer in float32 for the per-layer curves.
    """

    roles: int | None
    n_prompts: int
    n_questions: int
    max_new_tokens: int
    labels: list[int] | None
    min_count: int
    traits: int | None
    trait_pairs: int
    trait_questions: int
    batch_size: int


class PersonaSpacePreset(_PersonaSpaceSizes, _Engine, total=False):
    """The persona space's sizes (above), and optionally its store (absent: every layer, float32)
    and its engine (``_Engine``)."""

    store_layers: Literal["all", "paper"]
    acts_dtype: Literal["float32", "bfloat16"]


class BaseVsInstructPreset(TypedDict):
    """Chapter 4: steering strengths (multiples of a typical activation norm) and samples."""

    coefficients: list[float]
    samples: int
    max_new_tokens: int


class SteeringPreset(TypedDict):
    """Chapter 5: roles steered, the steering strengths, and the rows decoded together."""

    roles: int
    coefficients: list[float]
    max_new_tokens: int
    batch_size: int


class DriftPreset(TypedDict):
    """Chapter 6: scripted conversations per domain and turns per conversation."""

    per_domain: int
    turns: int
    max_new_tokens: int


class _JudgeValidationSizes(TypedDict):
    """The judge appendix: the trait rollouts whose prompt pairs the trait filter scores.

    Every ``trait_every``-th trait of the catalogue, ``trait_pairs`` prompt pairs, ``trait_questions``
    questions, for each of ``models``, with seed 0 and the middle layer recorded (the book preset
    is the jobs of the hand-labelled trait rollouts).
    """

    models: list[str]
    trait_every: int
    trait_pairs: int
    trait_questions: int
    max_new_tokens: int
    batch_size: int


class JudgeValidationPreset(_JudgeValidationSizes, _Engine, total=False):
    """The judge appendix's trait rollouts (above), and optionally the engine (``_Engine``)."""


class LivePreset(TypedDict):
    """The live demo's recorded session: scripted turns played, reply length."""

    turns: int
    max_new_tokens: int


class CappingSizes(TypedDict):
    """Prompts per evaluation set of chapter 7."""

    jailbreak: int
    persona: int
    instructions: int
    arithmetic: int
    knowledge: int


class CappingPreset(TypedDict):
    """Chapter 7: evaluation sizes; band centres and widths as fractions of the depth; the
    calibration percentiles swept (in the convention the chapter chooses); the replayed
    conversations; the rows decoded together."""

    sizes: CappingSizes
    far_roles: int
    centres: list[float]
    widths: list[float]
    percentiles: list[float]
    max_new_tokens: int
    per_domain: int
    turns: int
    drift_tokens: int
    batch_size: int


class PaperVectorsPreset(TypedDict):
    """Chapter 10, the paper's released vectors: where they come from (``"synthetic"``: a small test
    release the library writes, ``persona.release.write_synthetic_release``; ``"hub"``: the paper's,
    from the Hugging Face cache or downloaded), bootstrap resamples, the Gaussian null's draws at
    the middle layer and at the layers of the lowest cosine (``analysis.paper_vectors.release_nulls``),
    and the small models whose role order is compared with the paper models' (their persona spaces
    at the same preset, cached by chapter 1)."""

    release: Literal["synthetic", "hub"]
    n_resamples: int
    null_draws: int
    null_layer_draws: int
    small_models: list[str]


ChapterPreset = Union[
    QuickstartPreset,
    PersonaSpacePreset,
    BaseVsInstructPreset,
    SteeringPreset,
    DriftPreset,
    LivePreset,
    CappingPreset,
    JudgeValidationPreset,
    PaperVectorsPreset,
]

_QUICKSTART: dict[str, QuickstartPreset] = {
    "tiny": {"n_questions": 2, "n_prompts": 1, "max_new_tokens": 12, "answer_tokens": 16},
    "quick": {"n_questions": 4, "n_prompts": 2, "max_new_tokens": 32, "answer_tokens": 48},
    "book": {"n_questions": 8, "n_prompts": 3, "max_new_tokens": 48, "answer_tokens": 64},
    "paper": {
        "n_questions": 240,
        "n_prompts": 5,
        "max_new_tokens": 512,
        "answer_tokens": 256,
        "engine": "vllm",
    },
}

_PERSONA_SPACE: dict[str, PersonaSpacePreset] = {
    "tiny": {
        "roles": 8,
        "n_prompts": 1,
        "n_questions": 2,
        "max_new_tokens": 12,
        "labels": None,
        "min_count": 1,
        "traits": 8,
        "trait_pairs": 1,
        "trait_questions": 1,
        "batch_size": 32,
    },
    "quick": {
        "roles": 40,
        "n_prompts": 2,
        "n_questions": 4,
        "max_new_tokens": 32,
        "labels": [3, 2],
        "min_count": 2,
        "traits": 40,
        "trait_pairs": 1,
        "trait_questions": 2,
        "batch_size": 256,
    },
    "book": {
        "roles": None,
        "n_prompts": 2,
        "n_questions": 8,
        "max_new_tokens": 64,
        "labels": [3, 2],
        "min_count": 4,
        "traits": None,
        "trait_pairs": 1,
        "trait_questions": 1,
        "batch_size": 256,
    },
    "paper": {
        "roles": None,
        "n_prompts": 5,
        "n_questions": 240,
        "max_new_tokens": 512,
        "labels": [3, 2],
        "min_count": 10,
        "traits": None,
        "trait_pairs": 5,
        "trait_questions": 240,
        "batch_size": 64,
        "store_layers": "paper",
        "acts_dtype": "bfloat16",
        "engine": "vllm",
    },
}

_JUDGE_VALIDATION: dict[str, JudgeValidationPreset] = {
    "tiny": {
        "models": ["smollm2-135m-instruct"],
        "trait_every": 120,
        "trait_pairs": 1,
        "trait_questions": 1,
        "max_new_tokens": 12,
        "batch_size": 32,
    },
    "quick": {
        "models": ["smollm2-135m-instruct"],
        "trait_every": 20,
        "trait_pairs": 5,
        "trait_questions": 1,
        "max_new_tokens": 32,
        "batch_size": 256,
    },
    "book": {
        "models": ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"],
        "trait_every": 10,
        "trait_pairs": 5,
        "trait_questions": 1,
        "max_new_tokens": 64,
        "batch_size": 64,
    },
    "paper": {
        "models": ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"],
        "trait_every": 1,
        "trait_pairs": 5,
        "trait_questions": 240,
        "max_new_tokens": 512,
        "batch_size": 64,
        "engine": "vllm",
    },
}

_BASE_VS_INSTRUCT: dict[str, BaseVsInstructPreset] = {
    "tiny": {"coefficients": [-0.2, 0.0, 0.2], "samples": 1, "max_new_tokens": 12},
    "quick": {"coefficients": [-0.3, -0.15, 0.0, 0.15, 0.3], "samples": 2, "max_new_tokens": 24},
    "book": {"coefficients": [-0.4, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4], "samples": 8, "max_new_tokens": 32},
    "paper": {"coefficients": [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], "samples": 50, "max_new_tokens": 64},
}

_STEERING: dict[str, SteeringPreset] = {
    "tiny": {"roles": 2, "coefficients": [-0.5, 0.0, 0.5], "max_new_tokens": 12, "batch_size": 64},
    "quick": {"roles": 6, "coefficients": [-0.8, -0.4, 0.0, 0.4], "max_new_tokens": 32, "batch_size": 256},
    "book": {
        "roles": 20,
        "coefficients": [-1.0, -0.6, -0.3, 0.0, 0.3, 0.6],
        "max_new_tokens": 48,
        "batch_size": 256,
    },
    "paper": {
        "roles": 50,
        "coefficients": [-1.0, -0.6, -0.3, 0.0, 0.3, 0.6],
        "max_new_tokens": 256,
        "batch_size": 64,
    },
}

_DRIFT: dict[str, DriftPreset] = {
    "tiny": {"per_domain": 2, "turns": 2, "max_new_tokens": 12},
    "quick": {"per_domain": 4, "turns": 4, "max_new_tokens": 32},
    "book": {"per_domain": 10, "turns": 8, "max_new_tokens": 48},
    "paper": {"per_domain": 12, "turns": 10, "max_new_tokens": 512},
}

_LIVE: dict[str, LivePreset] = {
    "tiny": {"turns": 2, "max_new_tokens": 12},
    "quick": {"turns": 3, "max_new_tokens": 32},
    "book": {"turns": 5, "max_new_tokens": 48},
    "paper": {"turns": 5, "max_new_tokens": 256},
}

# the paper: Qwen 3 32B layers 46-53 of 64 (width 1/8, centre 0.78); Llama 3.3 70B 56-71 of 80 (width 1/5, centre 0.8)
_CAPPING: dict[str, CappingPreset] = {
    "tiny": {
        "sizes": {"jailbreak": 4, "persona": 4, "instructions": 2, "arithmetic": 2, "knowledge": 2},
        "far_roles": 4,
        "centres": [0.6],
        "widths": [0.125],
        "percentiles": [25],
        "max_new_tokens": 12,
        "per_domain": 1,
        "turns": 2,
        "drift_tokens": 12,
        "batch_size": 64,
    },
    "quick": {
        "sizes": {"jailbreak": 16, "persona": 16, "instructions": 12, "arithmetic": 12, "knowledge": 12},
        "far_roles": 8,
        "centres": [0.5, 0.75],
        "widths": [0.125],
        "percentiles": [25, 75],
        "max_new_tokens": 32,
        "per_domain": 2,
        "turns": 4,
        "drift_tokens": 32,
        "batch_size": 256,
    },
    "book": {
        "sizes": {"jailbreak": 64, "persona": 64, "instructions": 40, "arithmetic": 40, "knowledge": 40},
        "far_roles": 16,
        "centres": [0.5, 0.75],
        "widths": [0.125],
        "percentiles": [1, 25, 50, 75],
        "max_new_tokens": 48,
        "per_domain": 4,
        "turns": 6,
        "drift_tokens": 48,
        "batch_size": 256,
    },
    "paper": {
        "sizes": {"jailbreak": 120, "persona": 240, "instructions": 120, "arithmetic": 129, "knowledge": 128},
        "far_roles": 50,
        "centres": [0.5, 0.625, 0.75, 0.8],
        "widths": [0.125, 0.2],
        "percentiles": [1, 25, 50, 75],
        "max_new_tokens": 256,
        "per_domain": 12,
        "turns": 10,
        "drift_tokens": 512,
        "batch_size": 64,
    },
}

_PAPER_VECTORS: dict[str, PaperVectorsPreset] = {
    "tiny": {
        "release": "synthetic",
        "n_resamples": 1000,
        "null_draws": 50,
        "null_layer_draws": 10,
        "small_models": [],
    },
    "quick": {
        "release": "hub",
        "n_resamples": 1000,
        "null_draws": 50,
        "null_layer_draws": 10,
        "small_models": ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"],
    },
    "book": {
        "release": "hub",
        "n_resamples": 2000,
        "null_draws": 200,
        "null_layer_draws": 20,
        "small_models": ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"],
    },
    "paper": {
        "release": "hub",
        "n_resamples": 2000,
        "null_draws": 1000,
        "null_layer_draws": 100,
        "small_models": ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"],
    },
}

#: ``chapter -> preset name -> parameters`` (read through ``preset``, which copies).
PRESETS: dict[str, dict[str, ChapterPreset]] = {
    "quickstart": dict(_QUICKSTART),
    "persona_space": dict(_PERSONA_SPACE),
    "judge_validation": dict(_JUDGE_VALIDATION),
    "base_vs_instruct": dict(_BASE_VS_INSTRUCT),
    "steering": dict(_STEERING),
    "drift": dict(_DRIFT),
    "live": dict(_LIVE),
    "capping": dict(_CAPPING),
    "paper_vectors": dict(_PAPER_VECTORS),
}


@overload
def preset(chapter: Literal["quickstart"], name: str) -> QuickstartPreset: ...
@overload
def preset(chapter: Literal["persona_space"], name: str) -> PersonaSpacePreset: ...
@overload
def preset(chapter: Literal["base_vs_instruct"], name: str) -> BaseVsInstructPreset: ...
@overload
def preset(chapter: Literal["steering"], name: str) -> SteeringPreset: ...
@overload
def preset(chapter: Literal["drift"], name: str) -> DriftPreset: ...
@overload
def preset(chapter: Literal["live"], name: str) -> LivePreset: ...
@overload
def preset(chapter: Literal["capping"], name: str) -> CappingPreset: ...
@overload
def preset(chapter: Literal["judge_validation"], name: str) -> JudgeValidationPreset: ...
@overload
def preset(chapter: Literal["paper_vectors"], name: str) -> PaperVectorsPreset: ...
@overload
def preset(chapter: str, name: str) -> ChapterPreset: ...
def preset(chapter: str, name: str) -> ChapterPreset:
    """The parameters of ``chapter`` under preset ``name``: a deep copy, nothing shared with the table."""
    if chapter not in PRESETS:
        raise KeyError(f"no presets for {chapter!r}; known: {sorted(PRESETS)}")
    if name not in PRESETS[chapter]:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS[chapter])}")
    return copy.deepcopy(PRESETS[chapter][name])
