"""How long each page of the book takes here: measured costs, the estimate before a build, progress lines.

A page's **cost** is a run time together with the machine's decode rate when it was measured (the
speed figure, ``persona_axis.engine.speed.Calibration.tok_s``). Scaled by the rate of today's figure it
gives the **estimate** on this machine: ``fixed + (seconds - fixed) * tok_s_then / tok_s_now``, where
the first :data:`FIXED_SECONDS` of a page (kernel, imports, model load) are not scaled. The rate moves with the
machine (up to 2x from day to day on the same kind of CPU), so a cost measured on a slow day still
estimates a fast one.

Costs come from two places, the first that has the page wins:

1. **This machine**: every build records each page's run time, its speed figure and whether the page
   made new results (``fresh``) or read them all from the cache, in ``<artifacts>/timings.json``
   (:func:`record_timings`), beside the results, never in the checkout. A rerun from the cache does
   not replace the timing of a fresh run, so the estimate stays that of a build from an empty cache.
2. **Measured by hand** (:data:`MEASURED`): whole builds timed on the book's machines, with the
   speed figure each one printed, in the dtype the models computed in (a figure in float32 on a CPU
   without native bf16 estimates float32 builds best, so a measurement in the same dtype is preferred).

A page with neither is "not measured": the total says how many pages it leaves out, it never guesses.

Example:
    >>> plan = estimate(["00_quickstart", "new_page"], "quick", tok_s=258.0, dtype="float32", timings={"presets": {}})
    >>> plan.seconds("00_quickstart")  # measured by hand: 76 s at 129 tok/s; this machine is twice as fast
    48.0
    >>> print(plan.text())
    estimated time of each page at preset quick, at 258 tok/s (float32); the measured cost beside it:
          48 s  00_quickstart  76 s at 129 tok/s [1]
             ?  new_page       not measured at this preset
          48 s  total          without 1 page not measured
      [1] measured by hand 2026-12-02, float32: make book-quick from a clean clone, ...
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypedDict

from persona_axis.core.paths import artifacts_dir
from persona_axis.core.store import atomic_write_text

__all__ = [
    "Measured",
    "MEASURED",
    "SITE",
    "CHECK",
    "Cost",
    "load_timings",
    "record_timings",
    "work_files",
    "cost",
    "Estimate",
    "estimate",
    "duration",
    "Progress",
]

#: Pseudo-pages of a build that are timed like chapters: the Jupyter Book run and the browser check.
SITE = "(site)"
CHECK = "(browser check)"

_QWEN = "qwen2.5-coder-0.5b-instruct"


@dataclass(frozen=True)
class Measured:
    """Pages of one build timed by hand, with the speed figure that build printed.

    Attributes:
        preset: the preset the pages ran with.
        dtype: the dtype the models computed in (``"bfloat16"`` or ``"float32"``).
        when: the day of the run (``YYYY-MM-DD``).
        tok_s: the speed figure's SmolLM2 decode rate at the start of that build, tokens per second.
        what: which build, and where the figures are written down.
        seconds: page name (``01_persona_space--qwen2.5-coder-0.5b-instruct`` for a variant,
            :data:`SITE`, :data:`CHECK`) -> run time in seconds.
    """

    preset: str
    dtype: str
    when: str
    tok_s: float
    what: str
    seconds: Mapping[str, float]


#: The builds timed by hand (the book's *Measured times* appendix has each one in full); a later
#: entry wins over an earlier one of the same preset and dtype.
MEASURED: tuple[Measured, ...] = (
    Measured(
        "quick",
        "float32",
        "2026-12-02",
        129.0,
        "make book-quick from a clean clone, 2-core AVX2 CPU, batch 256 (the afternoon run)",
        {
            "00_quickstart": 76,
            f"01_persona_space--{_QWEN}": 448,
            "01_persona_space": 185,
            f"02_assistant_axis--{_QWEN}": 25,
            "02_assistant_axis": 18,
            "03_cross_model": 221,
            "04_base_vs_instruct": 143,
            "05_steering": 205,
            "06_drift": 160,
            "07_capping": 303,
            "08_live_demo": 53,
            "09_judge_validation": 131,
            SITE: 19,
            CHECK: 86,
        },
    ),
    Measured(
        "book",
        "bfloat16",
        "2026-12-02",
        306.0,
        "the whole make book of 1-2 December, 2-core CPU with AMX (an earlier book preset)",
        {"09_judge_validation": 256, SITE: 16, CHECK: 71},
    ),
    Measured(
        "book",
        "bfloat16",
        "2026-12-02",
        251.0,
        "the current preset's chapters 1-8 from a clean clone, AMX CPU, tests beside it (upper bounds)",
        {
            "00_quickstart": 98,
            f"01_persona_space--{_QWEN}": 2956,
            "01_persona_space": 1169,
            f"02_assistant_axis--{_QWEN}": 259,
            "02_assistant_axis": 382,
            "03_cross_model": 1544,
            "04_base_vs_instruct": 278,
            "05_steering": 647,
            "06_drift": 543,
            "07_capping": 639,
            "08_live_demo": 54,
        },
    ),
    Measured(
        "book",
        "bfloat16",
        "2026-12-02",
        335.0,
        "engine 3 (shared prompt prefixes) from a clean clone, AMX CPU",
        {"00_quickstart": 89, f"01_persona_space--{_QWEN}": 2106},
    ),
    Measured(
        "book",
        "float32",
        "2026-12-02",
        234.0,
        "chapters 1 and 2 for SmolLM2 with the two-level bootstrap, 2-core AVX2 CPU",
        {"01_persona_space": 1324, "02_assistant_axis": 136},
    ),
    Measured(
        "book",
        "bfloat16",
        "2026-12-07",
        558.0,
        "chapters 3-7 for both instruct models (random-direction controls in 5 and 7), 2-core CPU with "
        "AMX, tests beside chapter 5 (upper bounds)",
        {
            "03_cross_model": 414,
            "04_base_vs_instruct": 150,
            f"05_steering--{_QWEN}": 1500,
            "05_steering": 1980,
            f"06_drift--{_QWEN}": 475,
            "06_drift": 298,
            f"07_capping--{_QWEN}": 508,
            "07_capping": 342,
        },
    ),
)

_TIMINGS = "timings.json"

#: Seconds of every page that do not scale with the decode rate: starting a kernel, importing the
#: library, loading a model. On 7 December 2026 the quick build's chapter 2 pages, which decode
#: nothing, took 25-29 s on a CPU 4.4x faster than the one where they were measured at 18-25 s;
#: scaling all of it had predicted 4-6 s (``book/measurements.md``).
FIXED_SECONDS = 20.0


class Timing(TypedDict, total=False):
    """One page's run on this machine: ``seconds``, ``when`` (the day), the build's speed figure
    (``tok_s``, ``dtype``; ``None`` without one) and ``fresh`` (it made new results)."""

    seconds: float
    when: str
    tok_s: float | None
    dtype: str | None
    fresh: bool


class Timings(TypedDict, total=False):
    """``<artifacts>/timings.json``: the machine, and ``{preset: {page: Timing}}``."""

    machine: str
    presets: dict[str, dict[str, Timing]]


def _timings_file() -> Path:
    return artifacts_dir() / _TIMINGS


def load_timings() -> Timings:
    """This machine's timings: ``{"machine": ..., "presets": {preset: {page: entry}}}``.

    An entry holds ``seconds``, ``when`` (the day) and, from builds that took a speed figure,
    ``tok_s`` and ``dtype``; ``fresh`` says whether the page made new results (else it read them
    all from the cache). A missing or damaged file reads as no timings (it is only a record).
    """
    path = _timings_file()
    if not path.exists():
        return {"presets": {}}
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {"presets": {}}
    if not (isinstance(doc, dict) and isinstance(doc.get("presets"), dict)):
        return {"presets": {}}
    return Timings(**doc)


def record_timings(
    records: Sequence[Mapping[str, Any]], preset: str, tok_s: float | None = None, dtype: str | None = None
) -> Timings:
    """Add a build's page records (``name``, ``seconds``, ``ok``, ``parameters``, ``fresh``) to this
    machine's timings, with the build's speed figure (``tok_s``, ``dtype``; ``None`` without one).

    Left out: failed pages, and pages run with parameters of their own beyond their variant's
    (``-p``: not the preset's page). A run that only read the cache (``fresh`` false) does not
    replace a fresh run's timing. Returns the whole document, as written.
    """
    doc = load_timings()
    doc["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"
    mine = doc.setdefault("presets", {}).setdefault(preset, {})
    for r in records:
        if not r.get("ok", True) or set(r.get("parameters", {})) - {"preset"} - set(r.get("variant", {})):
            continue
        fresh = bool(r.get("fresh", True))
        old = mine.get(r["name"])
        if not fresh and isinstance(old, dict) and old.get("fresh", True):
            continue
        mine[r["name"]] = {
            "seconds": r["seconds"],
            "when": time.strftime("%Y-%m-%d", time.gmtime()),
            "tok_s": tok_s,
            "dtype": dtype,
            "fresh": fresh,
        }
    atomic_write_text(_timings_file(), json.dumps(doc, indent=1))
    return doc


#: Top-level folders of the artifacts that a chapter rewrites on every run (its numbers), and
#: this module's own file: they do not tell a fresh run from a rerun.
_NOT_WORK = ("results", "chapter_results", _TIMINGS)


def work_files(root: Path | None = None) -> int:
    """How many files the artifacts folder holds outside its results: a page that raised this count
    made new rollouts, labels, axes or sweeps (it ran ``fresh``), one that did not read them all."""
    root = artifacts_dir() if root is None else root
    n = 0
    for top in root.iterdir() if root.is_dir() else ():
        if top.name not in _NOT_WORK:
            n += sum(len(files) for _, _, files in os.walk(top)) if top.is_dir() else 1
    return n


@dataclass(frozen=True)
class Cost:
    """A page's measured run time and the decode rate of the machine then.

    Attributes:
        seconds: the run time measured.
        tok_s: the speed figure's decode rate at that run (``None``: the run took no figure).
        dtype: the dtype the models computed in (``None``: not recorded).
        source: where it comes from, for the printout ("this machine 2026-12-07", "measured by hand ...").
    """

    seconds: float
    tok_s: float | None
    dtype: str | None
    source: str

    def at(self, tok_s: float | None) -> float:
        """The estimate at decode rate ``tok_s``: the page's first :data:`FIXED_SECONDS` as measured
        (a kernel start, imports, a model load: they do not follow the decode rate), the rest scaled,
        ``fixed + (seconds - fixed) * self.tok_s / tok_s``; the run time as measured when either rate
        is missing."""
        if tok_s and self.tok_s:
            fixed = min(FIXED_SECONDS, self.seconds)
            return fixed + (self.seconds - fixed) * self.tok_s / tok_s
        return self.seconds

    def text(self) -> str:
        """``76 s at 129 tok/s``: the run time and the decode rate it was measured at."""
        rate = f" at {self.tok_s:.0f} tok/s" if self.tok_s else " (no speed figure)"
        return f"{duration(self.seconds)}{rate}"


def cost(page: str, preset: str, dtype: str | None = None, timings: Timings | None = None) -> Cost | None:
    """The cost that estimates ``page`` at ``preset``: this machine's timing, else the hand-measured
    one in ``dtype``, else one in another dtype; ``None`` if the page was never measured at ``preset``."""
    timings = load_timings() if timings is None else timings
    mine = timings.get("presets", {}).get(preset, {}).get(page)
    if isinstance(mine, dict) and isinstance(mine.get("seconds"), (int, float)):
        how = "" if mine.get("fresh", True) else ", a rerun from the cache"
        return Cost(
            float(mine["seconds"]),
            mine.get("tok_s"),
            mine.get("dtype"),
            f"this machine {mine.get('when', '')}{how}",
        )
    found = [m for m in MEASURED if m.preset == preset and page in m.seconds]
    if not found:
        return None
    m = ([m for m in found if m.dtype == dtype] or found)[-1]
    return Cost(float(m.seconds[page]), m.tok_s, m.dtype, f"measured by hand {m.when}, {m.dtype}: {m.what}")


def duration(seconds: float) -> str:
    """``42 s``, ``7.5 min``, ``35 min``, ``2.1 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 600:
        return f"{seconds / 60:.1f} min"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class Estimate:
    """The estimated time of each page of a build on this machine.

    Attributes:
        preset: the build's preset.
        tok_s: today's decode rate (``None``: no speed figure; each cost is then taken as measured).
        dtype: the dtype the models compute in here (``None`` if unknown).
        pages: page names in the order they run.
        costs: page -> its :class:`Cost` (absent: not measured at this preset).
    """

    preset: str
    tok_s: float | None
    dtype: str | None
    pages: list[str]
    costs: dict[str, Cost] = field(default_factory=dict)

    def seconds(self, page: str) -> float | None:
        c = self.costs.get(page)
        return None if c is None else c.at(self.tok_s)

    def total(self, pages: Sequence[str] | None = None) -> tuple[float, int]:
        """``(seconds, pages not measured)`` over ``pages`` (default: all)."""
        got = [self.seconds(p) for p in (self.pages if pages is None else pages)]
        return sum(s for s in got if s is not None), sum(s is None for s in got)

    def text(self) -> str:
        """The table printed before a build starts: estimate, page, measured cost and its source (numbered)."""
        fig = (
            f"at {self.tok_s:.0f} tok/s ({self.dtype or 'dtype unknown'})"
            if self.tok_s
            else "without a speed figure (each cost as measured; --calibrate SECONDS scales them to this machine)"
        )
        width = max((len(p) for p in self.pages), default=4)
        sources = list(dict.fromkeys(c.source for c in self.costs.values()))
        lines = [f"estimated time of each page at preset {self.preset}, {fig}; the measured cost beside it:"]
        for p in self.pages:
            s, c = self.seconds(p), self.costs.get(p)
            lines.append(
                f"  {duration(s) if s is not None else '?':>8}  {p:<{width}}  "
                f"{f'{c.text()} [{sources.index(c.source) + 1}]' if c else 'not measured at this preset'}"
            )
        total, unknown = self.total()
        lines.append(
            f"  {duration(total):>8}  {'total':<{width}}  "
            + (
                f"without {unknown} page{'s' * (unknown > 1)} not measured"
                if unknown
                else "every page measured"
            )
        )
        lines += [f"  [{i}] {src}" for i, src in enumerate(sources, 1)]
        return "\n".join(lines)


def estimate(
    pages: Sequence[str],
    preset: str,
    tok_s: float | None = None,
    dtype: str | None = None,
    timings: Timings | None = None,
) -> Estimate:
    """The :class:`Estimate` of ``pages`` at ``preset`` on a machine decoding at ``tok_s`` in ``dtype``."""
    timings = load_timings() if timings is None else timings
    found = {p: cost(p, preset, dtype, timings) for p in pages}
    return Estimate(preset, tok_s, dtype, list(pages), {p: c for p, c in found.items() if c is not None})


class Progress:
    """Progress lines of a build: one as each page starts and one as it ends, with the time elapsed
    since the build started and the estimate of what remains; at the end, estimate against actual.

    ``start(page)`` and ``done(page, seconds, ok)`` take the pages in the estimate's order
    (pages outside it are counted but have no estimate).
    """

    def __init__(
        self, plan: Estimate, out: IO[str] | None = None, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.plan = plan
        self.out = out
        self.clock = clock
        self.t0 = self.t_page = clock()
        self.actual: dict[str, tuple[float, bool]] = {}

    def _print(self, line: str) -> None:
        print(line, file=self.out or sys.stdout, flush=True)

    def _remaining(self) -> str:
        left = [p for p in self.plan.pages if p not in self.actual]
        total, unknown = self.plan.total(left)
        more = f" + {unknown} page{'s' * (unknown > 1)} not measured" if unknown else ""
        return f"remaining ~{duration(total)}{more}" if left else "nothing remaining"

    def _tag(self, page: str) -> str:
        n = len(self.plan.pages)
        i = self.plan.pages.index(page) + 1 if page in self.plan.pages else len(self.actual) + 1
        return f"[{i:>{len(str(n))}}/{n}] {page}"

    def start(self, page: str) -> None:
        self.t_page = self.clock()
        est = self.plan.seconds(page)
        self._print(
            f"{self._tag(page)}: started; estimate {duration(est) if est is not None else 'not measured'}; "
            f"elapsed {duration(self.t_page - self.t0)}, {self._remaining()}"
        )

    def done(self, page: str, seconds: float, ok: bool = True) -> None:
        self.actual[page] = (seconds, ok)
        est = self.plan.seconds(page)
        vs = f" (estimate {duration(est)})" if est is not None else ""
        self._print(
            f"{self._tag(page)}: {'ok' if ok else 'FAILED'} in {duration(seconds)}{vs}; "
            f"elapsed {duration(self.clock() - self.t0)}, {self._remaining()}"
        )

    def summary(self) -> str:
        """Estimate against actual for every page that ran, with the ratio, and the totals."""
        width = max((len(p) for p in self.actual), default=4)
        lines = [
            f"estimate against actual (preset {self.plan.preset}):",
            f"  {'page':<{width}}  {'estimate':>8}  {'actual':>8}  actual/estimate",
        ]
        est_sum = act_sum = 0.0
        for p, (secs, ok) in self.actual.items():
            est = self.plan.seconds(p)
            ratio = f"{secs / est:.2f}" if est else "-"
            lines.append(
                f"  {p:<{width}}  {duration(est) if est is not None else '?':>8}  {duration(secs):>8}  "
                f"{ratio}{'' if ok else '  (failed)'}"
            )
            if est is not None:
                est_sum, act_sum = est_sum + est, act_sum + secs
        unmeasured = sum(self.plan.seconds(p) is None for p in self.actual)
        actual = sum(secs for secs, _ in self.actual.values())
        ratio = f"{act_sum / est_sum:.2f}" if est_sum else "-"
        est_text = duration(est_sum) + ("+?" if unmeasured else "")
        tail = (
            f"  (the ratio over the {len(self.actual) - unmeasured} measured pages)"
            if unmeasured and est_sum
            else ""
        )
        lines.append(f"  {'total':<{width}}  {est_text:>8}  {duration(actual):>8}  {ratio}{tail}")
        return "\n".join(lines)
