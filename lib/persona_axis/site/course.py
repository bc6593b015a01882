"""The course page: a plan of sessions, the exercises of each, and the time each chapter takes to run.

The book build (``persona_axis.site.build``) replaces ``<!-- COURSE-PLAN -->`` in ``book/course.md``
with :func:`render_plan`: for each session of :data:`SESSIONS`, its chapters, learning goals and
prerequisites, a table of run times and the exercises found in the chapters' sources (so a new
exercise appears without editing this module). Run times are measured, never estimated: every
build records each page's execution time for its preset in ``<artifacts>/timings.json``
(``persona_axis.site.timing.record_timings``), so a machine that has built the book at several presets
shows them all; a preset not yet built on this machine reads "not measured".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from persona_axis.site.timing import Timings, duration, load_timings

__all__ = ["Session", "SESSIONS", "PRESET_ORDER", "exercises", "render_plan"]

PRESET_ORDER = ("tiny", "quick", "book", "paper")
_EXERCISE = re.compile(r"^:::\{exercise\}[ \t]*(.*?)\s*\n:label:\s*(\S+)", re.M)


@dataclass(frozen=True)
class Session:
    """One class meeting: which chapters, what the students should leave with, what they need first."""

    title: str
    chapters: tuple[str, ...]
    goals: tuple[str, ...]
    prerequisites: tuple[str, ...]


SESSIONS: tuple[Session, ...] = (
    Session(
        "The whole method in one hour",
        ("00_quickstart",),
        (
            "run a chapter in JupyterLab and change its parameters",
            "say what a residual-stream activation, a role vector and a projection on an axis are",
            "explain why a floor on a projection can only raise it",
        ),
        (
            "Python with numpy and pandas",
            "dot products and unit vectors",
            "what a chat model's system prompt does",
        ),
    ),
    Session(
        "Persona space",
        ("01_persona_space",),
        (
            "build role vectors from rollouts and read a PCA of them",
            "judge whether PC1 runs from Assistant-like roles to fantastical ones in a small model",
            "explain what the judge's labels filter, and what that costs with few rollouts",
        ),
        ("principal component analysis (variance explained, scores)", "session 1"),
    ),
    Session(
        "The Assistant Axis, across models",
        ("02_assistant_axis", "03_cross_model", "10_paper_vectors"),
        (
            "build a contrast axis and compare it with PC1 layer by layer",
            "read calibration percentiles as thresholds",
            "compare role compositions between two models with correlations and a baseline",
            "read the paper's released vectors with the same code, check them against the authors' notebook, "
            "and rate the paper's claims at its own scale against a chance level",
        ),
        ("cosine similarity and correlation", "session 2"),
    ),
    Session(
        "Steering, in base and instruct models",
        ("04_base_vs_instruct", "05_steering"),
        (
            "steer a model along the axis with a context manager that always removes its hooks",
            "measure who a model says it is under steering, with a judge and its error rates",
            "design a control (a random direction of the same strength)",
        ),
        ("what a forward hook is (PyTorch)", "session 3"),
    ),
    Session(
        "Drift, capping, and a live conversation",
        ("06_drift", "07_capping", "08_live_demo"),
        (
            "follow a conversation along the axis and flag drift with a monitor",
            "derive the two capping conventions and show that they are one intervention at mirrored percentiles",
            "read a Pareto frontier of harm against capability, and its noise",
            "poke a live model with capping and steering and compare the words, not only the numbers",
        ),
        ("cross-validation and R²", "session 4"),
    ),
    Session(
        "Checking the instruments",
        ("09_judge_validation",),
        (
            "measure a judge's agreement with hand labels (accuracy, Cohen's kappa)",
            "read the reproducibility dashboard and say which claims hold at this scale, and why",
        ),
        ("sessions 1-5; a confusion table",),
    ),
)


def exercises(source: Path) -> list[tuple[str, str]]:
    """``(label, title)`` of every exercise in a chapter's MyST source, in order."""
    return [(label, title or label) for title, label in _EXERCISE.findall(source.read_text(encoding="utf-8"))]


def render_plan(
    notebooks_dir: Path,
    built: set[str],
    times: Timings | None = None,
    failed: set[str] | frozenset[str] = frozenset(),
) -> str:
    """The course plan in MyST Markdown.

    Args:
        notebooks_dir: the chapters' MyST sources (``notebooks/``), read for their exercises.
        built: chapters in this build; links and exercise references only point to those.
        times: from ``timing.load_timings`` (default: read it).
        failed: chapters whose page in this build is the page of their failure (linked, no exercises).
    """
    times = load_timings() if times is None else times
    presets = [p for p in PRESET_ORDER if p in times.get("presets", {})]
    out: list[str] = []
    for i, s in enumerate(SESSIONS, 1):
        out += [f"### Session {i}: {s.title}", ""]
        chapters = ", ".join(
            f"{{doc}}`../notebooks/{c}`"
            if c in built
            else f"{{doc}}`../notebooks/{c}` (failed in this build)"
            if c in failed
            else f"`{c}` (not in this build)"
            for c in s.chapters
        )
        out += [f"**Chapters:** {chapters}.", "", "**Learning goals:** by the end, students can", ""]
        out += [f"- {g};" if k < len(s.goals) - 1 else f"- {g}." for k, g in enumerate(s.goals)]
        out += ["", f"**Prerequisites:** {'; '.join(s.prerequisites)}.", ""]
        if presets:
            out += [
                "| chapter | " + " | ".join(f"`{p}`" for p in presets) + " |",
                "|---|" + "---|" * len(presets),
            ]
            for c in s.chapters:
                cells = [times["presets"][p].get(c) for p in presets]
                out.append(
                    f"| `{c}` | "
                    + " | ".join(duration(x["seconds"]) if x else "not measured" for x in cells)
                    + " |"
                )
            out.append("")
        ex = [
            (c, label, title)
            for c in s.chapters
            if c in built and (notebooks_dir / f"{c}.md").exists()
            for label, title in exercises(notebooks_dir / f"{c}.md")
        ]
        if ex:
            out += (
                ["**Exercises:**", ""]
                + [f"- {{ref}}`{title} <{label}>` ({c})" for c, label, title in ex]
                + [""]
            )
    machine = times.get("machine", "this machine")
    note = (
        f"Run times were measured by the builds of this book on the machine that built it ({machine}); "
        "each column is one preset, and a chapter's time includes loading its model and, for the first "
        "chapter that needs them, generating the persona-space rollouts that later chapters reuse from the cache."
        if presets
        else "No build has recorded run times on this machine yet."
    )
    return "\n".join([note, ""] + out)
