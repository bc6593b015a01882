"""The same saved results rated by two versions of the registry: what a change of rules changed.

The dashboard's statuses follow from the saved results *and* the registry's rules. To see what a
change of rules did, and only that, both versions rate the same results folder: each version's
``persona_axis`` is imported from its own ``lib/`` in a subprocess (``statuses``), an older one
from a git worktree of its commit (``worktree``), and ``compare`` lists the counts under each and
every cell whose status changed. A claim or a model that only one version knows is listed too,
with the other side empty.

Run it from the book's checkout (the results to rate in the artifacts folder)::

    python -m persona_axis.claims.compare --before 291e1f0       # the registry before the one rule

Example:
    >>> cell = {"id": "C4", "text": "0.39", "rated": True}
    >>> old = {"counts": {"partly": 1}, "cells": {"c": {"m": cell | {"status": "partly"}}}}
    >>> new = {"counts": {"not reproduced": 1}, "cells": {"c": {"m": cell | {"status": "not reproduced"}}}}
    >>> [c.after for c in compare(old, new).changed]
    ['not reproduced']
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

__all__ = ["Dump", "Change", "Comparison", "statuses", "worktree", "compare", "markdown", "main"]


class CellDump(TypedDict):
    """One claim-model cell as a version of the registry shows it."""

    id: str
    status: str
    text: str
    rated: bool


class Dump(TypedDict):
    """What ``statuses`` returns: the dashboard's counts and every cell, by claim key and model."""

    counts: dict[str, int]
    cells: dict[str, dict[str, CellDump]]


#: Run under the version rated (its ``lib`` first on the path): prints a ``Dump`` as JSON. Written
#: against the names every version since the registry's split has (``evaluate``, ``counts``).
_DUMP = """
import json
from persona_axis.claims.dashboard import counts
from persona_axis.claims.registry import evaluate
models, rows = evaluate()
cells = {}
for r in rows:
    for m in models:
        c = r.cells[m]
        if c.status == "\\u2014":
            continue
        cells.setdefault(r.claim.key, {})[m] = {
            "id": r.claim.id, "status": c.status, "text": c.text, "rated": bool(r.claim.rated)}
print(json.dumps({"counts": counts(models, rows), "cells": cells}))
"""


def statuses(lib: Path, artifacts: Path | None = None) -> Dump:
    """Every cell's status as the ``persona_axis`` under ``lib`` rates the saved results.

    Args:
        lib: a checkout's ``lib`` folder (this one's, or a ``worktree``'s).
        artifacts: the results folder (default: ``$PERSONA_AXIS_ARTIFACTS``, else the cache's).

    Raises:
        RuntimeError: that version could not rate them (its error is in the message).
    """
    env = dict(os.environ, PYTHONPATH=str(Path(lib).resolve()))
    if artifacts is not None:
        env["PERSONA_AXIS_ARTIFACTS"] = str(artifacts)
    got = subprocess.run([sys.executable, "-c", _DUMP], env=env, capture_output=True, text=True, check=False)
    if got.returncode:
        raise RuntimeError(f"the registry under {lib} could not rate the results:\n{got.stderr[-2000:]}")
    out: Dump = json.loads(got.stdout.strip().splitlines()[-1])
    return out


def _toplevel() -> Path:
    """The git checkout around the working folder.

    Raises:
        RuntimeError: the working folder is not in a git checkout (run from one).
    """
    got = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False)
    if got.returncode:
        raise RuntimeError("not in a git checkout: run this from the book's checkout")
    return Path(got.stdout.strip())


@contextmanager
def worktree(commit: str, repo: Path | None = None) -> Iterator[Path]:
    """A detached git worktree of ``commit`` in a temporary folder, removed afterwards.

    Raises:
        RuntimeError: git does not know ``commit`` (fetch it, or pass a commit of this history).
    """
    repo = _toplevel() if repo is None else repo
    with tempfile.TemporaryDirectory(prefix="persona-axis-rules-") as tmp:
        where = Path(tmp) / "tree"
        got = subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", str(where), commit],
            capture_output=True,
            text=True,
            check=False,
        )
        if got.returncode:
            raise RuntimeError(f"no worktree of {commit!r} in {repo}: {got.stderr.strip()}")
        try:
            yield where
        finally:
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(where)],
                capture_output=True,
                check=False,
            )


@dataclass(frozen=True)
class Change:
    """One cell whose status differs (``""``: that version has no such cell)."""

    claim: str
    model: str
    before: str
    after: str
    text_before: str
    text_after: str


@dataclass(frozen=True)
class Comparison:
    """The counts under each version and the cells that changed, in the registry's order."""

    counts_before: dict[str, int]
    counts_after: dict[str, int]
    changed: list[Change] = field(default_factory=list)
    unchanged: int = 0


def compare(before: Dump, after: Dump) -> Comparison:
    """The cells of two ``Dump``s side by side: counts, and each cell whose status differs."""
    changed, same = [], 0
    for key in dict.fromkeys([*after["cells"], *before["cells"]]):
        bs, as_ = before["cells"].get(key, {}), after["cells"].get(key, {})
        for model in dict.fromkeys([*as_, *bs]):
            b, a = bs.get(model), as_.get(model)
            sb, sa = (b["status"] if b else ""), (a["status"] if a else "")
            if sb == sa:
                same += 1
                continue
            label = (a or b or {"id": key})["id"]
            changed.append(
                Change(f"{label} ({key})", model, sb, sa, b["text"] if b else "", a["text"] if a else "")
            )
    return Comparison(dict(before["counts"]), dict(after["counts"]), changed, same)


def markdown(c: Comparison, before: str = "before", after: str = "after") -> str:
    """The comparison as two Markdown tables: the counts, then every changed cell."""
    names = list(dict.fromkeys([*c.counts_before, *c.counts_after]))
    lines = [f"| status | {before} | {after} |", "|---|---:|---:|"]
    lines += [f"| {s} | {c.counts_before.get(s, '')} | {c.counts_after.get(s, '')} |" for s in names]
    lines += ["", f"| claim | model | {before} | {after} | our number ({after}) |", "|---|---|---|---|---|"]
    lines += [
        f"| {x.claim} | {x.model} | {x.before or '(no cell)'} | {x.after or '(no cell)'} | {x.text_after or x.text_before} |"
        for x in c.changed
    ]
    lines.append(f"\n{len(c.changed)} cells changed, {c.unchanged} kept their status.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", required=True, help="the commit whose registry rates first")
    p.add_argument("--after", default=None, help="a second commit (default: this checkout's lib)")
    p.add_argument("--artifacts", type=Path, default=None, help="the results folder (default: the cache's)")
    a = p.parse_args(argv)
    here = _toplevel() / "lib"
    with worktree(a.before) as old:
        dump_before = statuses(old / "lib", a.artifacts)
    if a.after:
        with worktree(a.after) as new:
            dump_after = statuses(new / "lib", a.artifacts)
    else:
        dump_after = statuses(here, a.artifacts)
    print(markdown(compare(dump_before, dump_after), a.before, a.after or "this checkout"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
