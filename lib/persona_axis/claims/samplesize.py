"""How many units (and rollouts) an inconclusive claim would need before its interval decides it.

The assumption, stated on the page: a bootstrap interval's two half-widths shrink as
``1 / sqrt(n)`` in the number ``n`` of resampled units (roles, conversations, prompts), with the
estimate where it is now and the same rollouts per unit. With ``s = sqrt(n_now / n)`` the interval
at ``n`` units is ``[est - s (est - low), est + s (high - est)]``. An inconclusive interval contains
the threshold (``rules.decide``), so it is decided once it no longer does:

* with the estimate past the threshold, once the near end clears it (*reproduced*):
  ``s < (est - threshold) / (est - low)`` (for a claim whose paper side is ``>``; mirrored for ``<``);
* with the estimate short of it, once the far end falls short of it:
  ``s < (threshold - est) / (high - est)``; the claim's chance-level null then says whether the
  status is *weaker than the paper* or *not reproduced* (``Claim.rate``).

``units_to_decide`` gives ``n = n_now / s**2`` (the smallest integer strictly above it).
``rollout_cost`` turns units into rollouts and generated tokens with a chapter's preset, and
``render_sample_size`` writes the book's page from the saved results.

Example:
    >>> from persona_axis.claims import claim
    >>> c = claim("pc1_min_pair")                                # > 0.92
    >>> d = units_to_decide(c, Interval(0.5, -0.1, 0.95, n_units=40))   # inconclusive now
    >>> d.units_needed, d.status
    (46, 'not reproduced')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from persona_axis.claims.registry import Claim, distinct_cells, evaluate
from persona_axis.claims.results import Results
from persona_axis.claims.rules import INCONCLUSIVE
from persona_axis.core.presets import preset as get_preset
from persona_axis.core.stats import Interval

__all__ = ["Decision", "units_to_decide", "rollout_cost", "render_sample_size", "PRESET_OF_CHAPTER"]

#: The preset table each chapter's rollouts come from.
PRESET_OF_CHAPTER: dict[str, str] = {
    "01_persona_space": "persona_space",
    "02_assistant_axis": "persona_space",
    "03_cross_model": "persona_space",
    "04_base_vs_instruct": "base_vs_instruct",
    "05_steering": "steering",
    "06_drift": "drift",
    "07_capping": "capping",
}


@dataclass(frozen=True)
class Decision:
    """What it would take to decide one claim.

    Attributes:
        units_now: resampled units behind the interval now.
        units_needed: the fewest units at which the extrapolated interval decides the claim;
            ``None`` when no number of units would (the estimate sits on a boundary, or the
            interval misses the estimate, which a larger sample cannot be extrapolated from).
        status: the status the claim would then have (``inconclusive`` when ``units_needed`` is ``None``).
        why: for ``units_needed is None``, the reason.
    """

    units_now: int
    units_needed: int | None
    status: str
    why: str = ""

    @property
    def factor(self) -> float:
        """``units_needed / units_now`` (``inf`` when undecidable)."""
        return math.inf if self.units_needed is None else self.units_needed / max(self.units_now, 1)


def _scaled(iv: Interval, s: float) -> Interval:
    return Interval(
        iv.estimate, iv.estimate - s * (iv.estimate - iv.low), iv.estimate + s * (iv.high - iv.estimate)
    )


def units_to_decide(c: Claim, iv: Interval, null: Interval | None = None) -> Decision:
    """The fewest units whose extrapolated interval ``c.rate`` does not call inconclusive (module docstring).

    Args:
        c: the claim; ``iv``: our interval now; ``null``: the claim's chance-level null, if the
            chapter saved one (it decides between *weaker than the paper* and *not reproduced*).

    Raises:
        ValueError: the interval has no units recorded (``n_units < 1``).
    """
    if iv.n_units < 1:
        raise ValueError("the interval records no units (n_units < 1): it cannot be extrapolated")
    est, lo, hi = iv.estimate, iv.low, iv.high
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo <= est <= hi:
        return Decision(iv.n_units, None, INCONCLUSIVE, "the interval misses the estimate (or has no ends)")
    # mirror a "<" claim onto ">" so one formula serves both
    gap, near, far = (
        (est - c.threshold, est - lo, hi - est) if c.up else (c.threshold - est, hi - est, est - lo)
    )
    if gap == 0:
        return Decision(iv.n_units, None, INCONCLUSIVE, "the estimate sits on the threshold")
    width = near if gap > 0 else far
    s = math.inf if width <= 0 else abs(gap) / width
    if s >= 1:
        return Decision(iv.n_units, iv.n_units, c.rate(iv, null))
    n = math.floor(iv.n_units / (s * s)) + 1
    return Decision(iv.n_units, n, c.rate(_scaled(iv, math.sqrt(iv.n_units / n)), null))


def rollout_cost(c: Claim, preset: str) -> tuple[int, int]:
    """``(rollouts per unit, new tokens per rollout)`` of claim ``c``'s chapter at ``preset``.

    A role: its prompts x questions; a trait: two sides x prompt pairs x questions; a
    conversation: its turns; a prompt of a steering chapter: one rollout per coefficient
    (x samples); a capping prompt or item: two (the baseline and the chosen setting). Chapter 3
    compares two models, each of which needs them. Tokens: the preset's ``max_new_tokens`` (an
    upper bound: answers may end sooner).

    Raises:
        KeyError: a chapter this module does not know (add it to ``PRESET_OF_CHAPTER``).
    """
    if c.chapter not in PRESET_OF_CHAPTER:
        raise KeyError(f"no preset known for chapter {c.chapter!r}; add it to samplesize.PRESET_OF_CHAPTER")
    p: Mapping[str, Any] = dict(get_preset(PRESET_OF_CHAPTER[c.chapter], preset))
    if c.unit == "traits":
        per = 2 * int(p["trait_pairs"]) * int(p["trait_questions"])
    elif c.unit == "roles":
        per = int(p["n_prompts"]) * int(p["n_questions"])
    elif c.unit == "conversations":
        per = int(p["turns"])
    elif c.chapter in ("04_base_vs_instruct", "05_steering"):
        per = len(p["coefficients"]) * int(p.get("samples", 1))
    else:
        per = 2
    models = 2 if c.chapter == "03_cross_model" else 1
    return per * models, int(p["max_new_tokens"])


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    for size, name in ((86400 * 365, "years"), (86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:,.1f} {name}"
    return f"{seconds:.0f} s"


def render_sample_size(
    results: Results | None = None, *, preset: str = "book", tok_s: float | None = None
) -> str:
    """The sample-size page's table (Markdown) from the saved results: one row per inconclusive
    claim-model pair, with the units and rollouts that would decide it and the time they take at
    ``tok_s`` generated tokens per second (the build's speed figure; ``None``: not timed)."""
    models, rows = evaluate(results=results)
    lines = [
        "| claim | model | ours now | units now | units to decide | then | rollouts to decide | "
        f"on this CPU ({preset}) | at the paper's rollout size |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    others = []
    for row, ms, cell in distinct_cells(models, rows):
        c, m = row.claim, " and ".join(ms)
        if cell.status != INCONCLUSIVE:
            continue
        if cell.interval is None:
            others.append(
                f"- {c.id} ({m}): {cell.text}; no interval to extrapolate ({cell.note or 'none saved'})."
            )
            continue
        d = units_to_decide(c, cell.interval, cell.null)
        if d.units_needed is None:
            others.append(f"- {c.id} ({m}): {cell.text}; {d.why}.")
            continue
        per, tokens = rollout_cost(c, preset)
        per_paper, tokens_paper = rollout_cost(c, "paper")
        rollouts = d.units_needed * per
        here = rollouts * tokens / tok_s if tok_s else math.nan
        paper = d.units_needed * per_paper * tokens_paper / tok_s if tok_s else math.nan
        lines.append(
            f"| {c.id} {c.short} | {m} | {cell.text} | {d.units_now} {cell.interval.unit} | "
            f"{d.units_needed:,} (×{d.factor:.1f}) | {d.status} | {rollouts:,} ({per} per unit) | "
            f"{_duration(here)} | {_duration(paper)} ({per_paper * d.units_needed:,} rollouts) |"
        )
    if len(lines) == 2 and not others:
        return "No claim is rated *inconclusive* in the saved results."
    out = lines if len(lines) > 2 else ["No inconclusive claim has an interval to extrapolate."]
    if others:
        out += ["", "Inconclusive without an interval to extrapolate:", "", *others]
    return "\n".join(out)
