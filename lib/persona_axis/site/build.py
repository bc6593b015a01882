"""Build the book: stage the sources, execute every chapter with papermill, run Jupyter Book, check the site.

    python -m persona_axis.site.build                  # the full default run (preset "book", or $PERSONA_AXIS_PRESET)
    python -m persona_axis.site.build --preset quick --calibrate 5 --check auto   # what `make book-quick` runs
    python -m persona_axis.site.build --only 00_quickstart --preset tiny
    python -m persona_axis.site.build --preset book --estimate-only --calibrate 20  # how long would it take here?

Nothing is written into the tracked source folders. The sources (``_config.yml``, ``_toc.yml``,
``book/``) are copied to ``<build>/src``; each page, a chapter (a jupytext MyST notebook in
``notebooks/``) or one of its variants for another model (:data:`VARIANTS`), is converted to
``.ipynb`` there and executed by papermill with the preset's parameters.

Before the first page the build prints each page's estimated time on this machine, from the speed
figure (``--calibrate``) and the page's measured cost (``persona_axis.site.timing``); as each page
starts and ends, a line with the time elapsed and the estimate of what remains; the progress bars of
long cells (the kernel's stderr) go to the terminal as they run, never into the pages; at the end,
the estimate against the actual time of every page. Each page's time is recorded beside the results
(``<artifacts>/timings.json``), so the next estimate here is this machine's own.

A page that fails does not stop the build: its executed copy, with the traceback, is kept as
``<page>.failed.ipynb`` and its page becomes one that says it failed, with the error
(``persona_axis.site.pages.failure_page``: stand-ins for its labels that other pages point at keep the
cross-references whole); the status page lists it, the site is built and checked, and the build exits
with 1 at the end. Rerunning resumes from the cache: everything the chapters stored is read back.

Every page gets a banner with the preset, the commit, the date and the speed figure of the run it
shows. The status page gets a table of the pages, the dashboard the paper's claims rated against
every saved result (``persona_axis.claims.dashboard``); chapters not executed (``--only``,
``--pages``) are left out of the table of contents; then ``jupyter-book build`` writes the site to
``<build>/html`` (``-n -W --keep-going``: any warning fails the build, after reporting all of them),
and ``--check auto`` opens every page in headless Chromium when this machine has one (else it says
how to get one, and skips).

The publishing workflow runs the pages in several jobs (``--pages ... --no-site``, one build folder
each) and puts the site together from their folders (``--assemble``), without executing anything again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml

from persona_axis.claims.dashboard import render_dashboard
from persona_axis.claims.registry import substitutions
from persona_axis.core.presets import PRESET_NAMES, default_preset
from persona_axis.site.pages import (
    add_banner,
    add_download_link,
    banner,
    banner_markdown,
    commit_of,
    defined_labels,
    failure_page,
    referenced,
    suffix_labels,
)
from persona_axis.site.timing import CHECK, SITE, Progress, estimate, record_timings, work_files

if TYPE_CHECKING:
    from persona_axis.engine.speed import Calibration

__all__ = [
    "SITE_DATA",
    "VARIANTS",
    "MORE_VARIANTS",
    "Page",
    "notebooks",
    "plan",
    "stage",
    "execute",
    "replace_failed",
    "assemble",
    "build_site",
    "main",
]


def find_root(start: Path | None = None) -> Path:
    """The checkout the build works on: the first folder from ``start`` (default: the working
    folder) upward that holds ``_toc.yml`` and ``notebooks/``; the working folder if none does."""
    here = (start or Path.cwd()).resolve()
    return next(
        (d for d in (here, *here.parents) if (d / "_toc.yml").is_file() and (d / "notebooks").is_dir()), here
    )


ROOT = find_root()

_QWEN = {"model": "qwen2.5-coder-0.5b-instruct"}

#: Chapters the book also shows for other models: each variant is executed (before the main
#: page, so the main page's comparison tables include it) into its own page, listed under the
#: chapter in the table of contents.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "01_persona_space": [_QWEN],
    "02_assistant_axis": [_QWEN],
}

#: Variants the published book adds (``--all-models``): chapters 5-7 for Qwen, hours more on a CPU.
MORE_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "05_steering": [_QWEN],
    "06_drift": [_QWEN],
    "07_capping": [_QWEN],
}


@dataclass(frozen=True)
class Page:
    """One executed page of the book.

    Attributes:
        name: the executed copy's file stem: the chapter's (``05_steering``) or a variant's
            (``05_steering--qwen2.5-coder-0.5b-instruct``, :func:`variant_name`).
        source: the chapter's MyST source.
        params: the parameters papermill passes beside the preset (a variant's and ``-p`` ones).
        variant: a variant's own parameters (empty for the chapter's main page).
    """

    name: str
    source: Path
    params: dict[str, Any] = field(default_factory=dict)
    variant: dict[str, Any] = field(default_factory=dict)


def notebooks(root: Path = ROOT) -> list[Path]:
    """Chapter sources, in the order of their file names."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.md"))


def variant_name(stem: str, params: dict[str, Any]) -> str:
    """File stem of a chapter's variant page: ``01_persona_space--qwen2.5-coder-0.5b-instruct``."""
    slug = "-".join(str(v).replace("/", "_") for v in params.values())
    return f"{stem}--{slug}"


def plan(chapters: list[Path], extra: dict[str, Any] | None = None, all_models: bool = False) -> list[Page]:
    """The pages of ``chapters`` in the order they run: each chapter's variants, then its main page.

    ``extra`` (``-p NAME VALUE``) goes to every page and leaves the variants out (they would run with
    the same parameters); ``all_models`` adds :data:`MORE_VARIANTS`.
    """
    extra = extra or {}
    pages: list[Page] = []
    for nb in chapters:
        variants = (
            []
            if extra
            else VARIANTS.get(nb.stem, []) + (MORE_VARIANTS.get(nb.stem, []) if all_models else [])
        )
        pages += [Page(variant_name(nb.stem, v), nb, dict(v), dict(v)) for v in variants]
        pages.append(Page(nb.stem, nb, dict(extra)))
    return pages


def stage(build: Path, root: Path = ROOT) -> Path:
    """Copy the book's sources to ``build/src`` (replacing an older copy); return it. The staged
    ``_config.yml`` gets the registry's numbers as MyST substitutions (``claims.registry.substitutions``)."""
    src = build / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copy2(root / "_toc.yml", src / "_toc.yml")
    config = yaml.safe_load((root / "_config.yml").read_text())
    # the paper's numbers for the prose ({{ C4_threshold }}), from the one registry of them
    config.setdefault("parse", {})["myst_substitutions"] = substitutions()
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    shutil.copytree(root / "book", src / "book")
    (src / "notebooks").mkdir()
    return src


def _stamp(preset: str, commit: str, cal: Calibration | None) -> dict[str, Any]:
    """What a page's record says of the run: preset, commit, time, and the build's speed figure."""
    return {
        "preset": preset,
        "commit": commit,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "speed": cal.short() if cal else "",
        "tok_s": cal.tok_s if cal else None,
        "dtype": cal.dtype if cal else None,
    }


def execute(
    page: Page, src: Path, preset: str, stamp: dict[str, Any] | None = None, echo: IO[str] | None = None
) -> dict[str, Any]:
    """Convert one page's chapter to ``.ipynb`` under ``src/notebooks`` and execute it with papermill.

    A variant's title names its parameters, and its labels get its suffix (:func:`suffix_labels`).
    The kernel's stderr (progress bars, warnings) is written to ``echo`` as it comes (default
    ``sys.stderr``; the pages leave stderr out, ``nb_output_stderr: remove``). The executed copy
    gets the banner of this run (``stamp``: :func:`_stamp`) and a download link to itself.

    Returns the page's record: name, parameters, variant, ok, error (one line), traceback and cell
    (when it failed), seconds, fresh (whether it stored new results: ``timing.work_files``), and
    the stamp's fields.
    """
    import jupytext
    import nbformat
    import papermill as pm

    stamp = stamp or _stamp(preset, "unknown commit", None)
    target = src / "notebooks" / (page.name + ".ipynb")
    nb = jupytext.read(page.source)
    if page.variant:
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.startswith("# "):
                first, _, rest = cell.source.partition("\n")
                cell.source = f"{first}: {', '.join(str(v) for v in page.variant.values())}\n{rest}"
                break
        suffix_labels(nb, page.name[len(page.source.stem) :])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, target)
    params = {"preset": preset, **page.params}
    record: dict[str, Any] = {
        "name": page.name,
        "parameters": params,
        "variant": page.variant,
        "ok": True,
        "error": "",
        **stamp,
        "preset": preset,
    }
    before = work_files()
    t0 = time.perf_counter()
    try:
        # at the paper preset a chapter runs for hours: its cells' output (progress bars) goes to the terminal
        pm.execute_notebook(
            str(target),
            str(target),
            parameters=params,
            cwd=str(target.parent),
            kernel_name="python3",
            progress_bar=False,
            log_output=preset == "paper",
            stderr_file=echo or sys.stderr,
        )
    except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
        record["ok"] = False
        ename, evalue = getattr(e, "ename", type(e).__name__), getattr(e, "evalue", str(e))
        record["error"] = f"{ename}: {str(evalue).strip().splitlines()[-1] if str(evalue).strip() else ''}"[
            :500
        ]
        record["traceback"] = "\n".join(getattr(e, "traceback", None) or [str(e)])[-20000:]
        record["cell"] = getattr(e, "exec_count", None)
    record["seconds"] = round(time.perf_counter() - t0, 1)
    record["fresh"] = work_files() > before
    executed = nbformat.read(target, as_version=4)
    for cell in executed.cells:  # the cell papermill injects: behind a toggle, like the parameters
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
    add_download_link(executed, target.name)
    add_banner(executed, _banner_of(record))
    nbformat.write(executed, target)
    return record


def _banner_of(record: dict[str, Any]) -> str:
    return banner(
        record["preset"],
        record.get("commit", "unknown commit"),
        record.get("when", ""),
        record.get("speed", ""),
    )


#: Folder beside the executed notebooks that receives the data behind every figure
#: (``persona_axis.viz.figdata``); the pages link the files in it, and Sphinx ships them as downloads.
SITE_DATA = "figure-data"


def replace_failed(src: Path, records: list[dict[str, Any]]) -> None:
    """Give every failed page of ``records`` its failure page (``pages.failure_page``).

    The executed copy moves to ``<name>.failed.ipynb`` (kept for download, with the traceback);
    stand-ins are made for the labels of the chapter that the other pages (prose pages and the
    other executed pages) point at. Run it once every page has run (or been assembled).
    """
    import nbformat

    folder = src / "notebooks"
    failed = [r for r in records if not r["ok"]]
    texts = [p.read_text() for p in sorted((src / "book").rglob("*.md"))]
    texts += [
        p.read_text()
        for p in sorted(folder.glob("*.ipynb"))
        if not p.name.endswith(".failed.ipynb") and p.stem not in {r["name"] for r in failed}
    ]
    status = "../book/status" if (src / "book" / "status.md").exists() else None
    for r in failed:
        page, copy = folder / f"{r['name']}.ipynb", folder / f"{r['name']}.failed.ipynb"
        if page.exists() and not copy.exists():
            page.rename(copy)
        if copy.exists():
            executed = nbformat.read(copy, as_version=4)
        else:  # never executed (its job did not finish): the source gives the title and the labels
            import jupytext

            executed = jupytext.read(r["source"]) if r.get("source") else nbformat.v4.new_notebook()
            executed.metadata["kernelspec"] = {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
            nbformat.write(executed, copy)
        stand_ins = referenced(defined_labels(executed), texts)
        nbformat.write(
            failure_page(executed, r, copy.name, stand_ins, status_page=status, banner_text=_banner_of(r)),
            page,
        )


def assemble(
    dirs: list[Path], pages: list[Page], src: Path, preset: str
) -> tuple[list[dict[str, Any]], list[Calibration]]:
    """Put the pages executed by other builds (``--no-site``, one folder each) into ``src``.

    Each of ``dirs`` holds ``execution.json`` (the records), ``src/notebooks/`` (the executed pages,
    their ``.failed.ipynb`` copies, the figure data) and ``machine.json`` (its speed figures). A page
    of ``pages`` that no folder holds gets a failed record ("not executed", at ``preset``). Returns the records in
    the order of ``pages`` and every folder's speed figures.
    """
    from persona_axis.engine.speed import Calibration

    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    cals: list[Calibration] = []
    for d in dirs:
        for r in json.loads((d / "execution.json").read_text()):
            found[r["name"]] = (d, r)
        data = d / "src" / "notebooks" / SITE_DATA
        if data.is_dir():
            shutil.copytree(data, src / "notebooks" / SITE_DATA, dirs_exist_ok=True)
        if (d / "machine.json").exists():
            cals += [
                Calibration(**f) for f in json.loads((d / "machine.json").read_text()).get("figures", [])
            ]
    records = []
    for page in pages:
        if page.name not in found:
            records.append(
                {
                    "name": page.name,
                    "parameters": page.params,
                    "variant": page.variant,
                    "ok": False,
                    "seconds": 0.0,
                    "error": "not executed: no build folder given to --assemble holds this page",
                    "source": str(page.source),
                    "preset": preset,
                }
            )
            continue
        d, r = found[page.name]
        for suffix in (".ipynb", ".failed.ipynb"):
            if (d / "src" / "notebooks" / f"{page.name}{suffix}").exists():
                shutil.copy2(
                    d / "src" / "notebooks" / f"{page.name}{suffix}",
                    src / "notebooks" / f"{page.name}{suffix}",
                )
        records.append(r)
    return records, cals


def _add_sections(toc: Any, parent: str, files: list[str]) -> None:
    """List ``files`` as sections under ``parent`` in a parsed ``_toc.yml``."""
    for part in toc.get("parts", [toc]):
        for entry in part.get("chapters", []):
            if entry.get("file") == parent:
                entry.setdefault("sections", []).extend({"file": f} for f in files)
                return
    raise ValueError(f"{parent} is not a chapter of _toc.yml")


def _prune_toc(toc: Any, src: Path) -> list[str]:
    """Drop the entries of a parsed ``_toc.yml`` whose page is not in ``src`` (a chapter that
    ``--only`` did not execute); return their names. A part left without chapters is dropped."""

    def staged(entry: Any) -> bool:
        f = entry.get("file")
        # not Path.with_suffix: a variant's name has dots in it ("...qwen2.5-coder-0.5b-instruct")
        return f is None or any((src / f"{f}{ext}").exists() for ext in (".md", ".ipynb"))

    dropped: list[str] = []

    def prune(entries: list[Any]) -> list[Any]:
        kept = []
        for e in entries:
            if not staged(e):
                dropped.append(e["file"])
                continue
            if "sections" in e:
                e["sections"] = prune(e["sections"])
                if not e["sections"]:
                    del e["sections"]
            kept.append(e)
        return kept

    if "parts" in toc:
        for part in toc["parts"]:
            part["chapters"] = prune(part.get("chapters", []))
        toc["parts"] = [p for p in toc["parts"] if p["chapters"]]
    elif "chapters" in toc:
        toc["chapters"] = prune(toc["chapters"])
    return dropped


def machine_sentence(cals: list[Calibration]) -> str:
    """The status page's sentence on the machine's speed: the figure at the start of the build and,
    when there is one, at its end; where the two differ by more than 1.3x, a word on which one the
    book's time estimates use (``speed.steadiest``)."""
    from persona_axis.engine.speed import spread, steadiest

    if not cals:
        return ""
    figs = [c.line().removeprefix("machine speed: ") for c in cals]
    if len(cals) == 1:
        return f"Machine speed at the start of the build (`persona_axis.engine.speed`): {figs[0]}."
    text = f"Machine speed (`persona_axis.engine.speed`) at the start of the build: {figs[0]}; at its end: {figs[-1]}."
    ratio = spread(cals)
    if ratio > 1.3:
        text += (
            f" The two differ by {ratio:.1f}x in decode rate: something slowed one of them (another job, "
            f"a disk still writing a fresh set-up) or the machine changed speed during the build; the time "
            f"estimates of this book use the faster ({steadiest(cals).tok_s:.0f} tok/s)."
        )
    return text


def _write_machine(build: Path, cals: list[Calibration]) -> None:
    """``machine.json``: the steadiest figure's fields (what the time estimates read) and every figure."""
    from persona_axis.engine.speed import steadiest

    doc = {**asdict(steadiest(cals)), "figures": [asdict(c) for c in cals]}
    (build / "machine.json").write_text(json.dumps(doc, indent=1))


def _take_speed(build: Path, cals: list[Calibration], seconds: float, *, end: bool = False) -> None:
    """Measure the machine once more (``speed.calibrate``), print the figure and rewrite ``machine.json``."""
    from persona_axis.engine.speed import calibrate

    cals.append(calibrate(seconds))
    line = cals[-1].line()
    print(line.replace("machine speed:", "machine speed at the end:") if end else line, flush=True)
    _write_machine(build, cals)


def _status_table(records: list[dict[str, Any]], preset: str, machine: str = "") -> str:
    failed = [r for r in records if not r["ok"]]
    lines = [f"Preset: `{preset}`. Built {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    if failed:
        lines += [
            f":::{{error}}\n{len(failed)} page{'s' * (len(failed) > 1)} failed in this build; each one's page says "
            "why, and links its executed notebook with the traceback:\n"
        ]
        lines += [
            f"- {{doc}}`{r['name']} <../notebooks/{r['name']}>`: `{r['error'] or 'no error recorded'}`"
            for r in failed
        ]
        lines += [":::", ""]
    lines += [
        *([machine, ""] if machine else []),
        "| notebook | status | run time (s) | machine speed (tok/s) | parameters |",
        "|---|---|---|---|---|",
    ]
    for r in records:
        params = ", ".join(f"`{k}={v!r}`" for k, v in r["parameters"].items())
        speed = f"{r['tok_s']:.0f}" if r.get("tok_s") else "-"
        lines.append(
            f"| {{doc}}`{r['name']} <../notebooks/{r['name']}>` | {'ok' if r['ok'] else '**failed**'} | "
            f"{r['seconds']} | {speed} | {params} |"
        )
    total = sum(r["seconds"] for r in records)
    lines += ["", f"Total notebook execution time: {total:.0f} s."]
    return "\n".join(lines)


def build_site(src: Path, build: Path) -> None:
    """Run ``jupyter-book build`` on the staged sources; the site lands in ``build/html``."""
    out = build / "jb"
    if out.exists():
        shutil.rmtree(out)
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jb is None:
        raise RuntimeError("jupyter-book is not installed: pip install -e '.[book]' (or run `make book`)")
    cmd = [jb, "build", str(src), "--path-output", str(out), "-n", "-W", "--keep-going"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    log = build / "jupyter-book.log"
    log.write_text(res.stdout + "\n" + res.stderr)
    if res.returncode != 0:
        tail = "\n".join((res.stdout + res.stderr).splitlines()[-40:])
        raise RuntimeError(f"jupyter-book build failed (full log: {log}):\n{tail}")
    html = build / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.move(str(out / "_build" / "html"), str(html))
    shutil.rmtree(out, ignore_errors=True)
    data = src / "notebooks" / SITE_DATA
    if data.is_dir():  # the data behind the figures, where the pages' relative links point
        shutil.copytree(data, html / "notebooks" / SITE_DATA)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Execute the chapters and build the book.")
    ap.add_argument(
        "--preset",
        default=None,
        choices=PRESET_NAMES,
        help="the chapters' preset (default: $PERSONA_AXIS_PRESET, else book)",
    )
    ap.add_argument("--only", nargs="*", help="chapters to execute, each with its variants (default: all)")
    ap.add_argument(
        "--pages",
        nargs="*",
        help="pages to execute: a chapter's main page (05_steering) or a variant "
        "(05_steering--qwen2.5-coder-0.5b-instruct)",
    )
    ap.add_argument(
        "--all-models",
        action="store_true",
        help="also chapters 5-7 for Qwen (the published book: hours more on a CPU)",
    )
    ap.add_argument(
        "--build-dir",
        default=None,
        help="where src/, html/ and the records go (default: _build in the checkout)",
    )
    ap.add_argument(
        "--root", default=None, help="the checkout to build (default: the one around the working folder)"
    )
    ap.add_argument("--no-site", action="store_true", help="execute notebooks only")
    ap.add_argument(
        "--assemble",
        nargs="+",
        type=Path,
        metavar="BUILD_DIR",
        help="execute nothing: take the pages from these build folders (each from a --no-site build)",
    )
    ap.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="extra notebook parameter (value parsed as JSON when it can be)",
    )
    ap.add_argument(
        "--calibrate",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first time a SmolLM2 decode and a bf16 matmul for about SECONDS (the machine-speed figure)",
    )
    ap.add_argument("--estimate-only", action="store_true", help="print the estimate of each page and stop")
    ap.add_argument(
        "--check",
        choices=("off", "auto", "require"),
        default="off",
        help="open the built site in headless Chromium: auto skips with a note when there is none",
    )
    return ap.parse_args(argv)


def _select(args: argparse.Namespace, root: Path, extra: dict[str, Any]) -> list[Page]:
    known = notebooks(root)
    chosen = [nb for nb in known if not args.only or nb.stem in args.only]
    if args.only and len(chosen) != len(args.only):
        raise SystemExit(
            f"unknown chapter in --only {args.only}; known: {', '.join(nb.stem for nb in known)}"
        )
    pages = plan(chosen, extra, args.all_models)
    if args.pages:
        every = {p.name: p for p in plan(known, extra, all_models=True)}
        unknown = [n for n in args.pages if n not in every]
        if unknown:
            raise SystemExit(f"unknown page in --pages {unknown}; known: {', '.join(every)}")
        pages = [p for p in plan(known, extra, all_models=True) if p.name in args.pages]
    return pages


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    preset = args.preset or default_preset()
    extra: dict[str, Any] = {}
    for k, v in args.param:
        try:
            extra[k] = json.loads(v)
        except json.JSONDecodeError:
            extra[k] = v
    t0 = time.perf_counter()
    root = Path(args.root).resolve() if args.root else ROOT
    build = Path(args.build_dir).resolve() if args.build_dir else root / "_build"
    pages = _select(args, root, extra)
    build.mkdir(parents=True, exist_ok=True)
    cals: list[Calibration] = []
    if args.calibrate > 0:
        _take_speed(build, cals, args.calibrate)
    steps = ([] if args.assemble else [p.name for p in pages]) + (
        [] if args.no_site else [SITE] + ([CHECK] if args.check != "off" else [])
    )
    plan_ = estimate(steps, preset, cals[0].tok_s if cals else None, cals[0].dtype if cals else None)
    if not args.assemble:
        print(plan_.text(), flush=True)
    if args.estimate_only:
        return 0
    src = stage(build, root)
    from persona_axis.viz.figdata import SITE_DATA_ENV

    os.environ[SITE_DATA_ENV] = str(src / "notebooks" / SITE_DATA)  # the kernels inherit it
    commit = commit_of(root)
    progress = Progress(plan_)
    if args.assemble:
        records, cals = assemble([d.resolve() for d in args.assemble], pages, src, preset)
        if cals:
            _write_machine(build, cals)
        machine = (
            f"The pages ran in {len(args.assemble)} builds, each on a machine of its own: the speed figure of "
            "each page's run is in its row below and in its banner."
        )
    else:
        records = []
        stamp = _stamp(preset, commit, cals[0] if cals else None)
        for page in pages:
            progress.start(page.name)
            rec = execute(page, src, preset, stamp)
            progress.done(page.name, rec["seconds"], rec["ok"])
            records.append(rec)
        record_timings(records, preset, stamp["tok_s"], stamp["dtype"])
        if args.calibrate > 0 and records:  # a second figure: one disturbed moment cannot pass unseen
            _take_speed(build, cals, args.calibrate, end=True)
        machine = machine_sentence(cals)  # printed once, under the time per chapter
    toc = yaml.safe_load((src / "_toc.yml").read_text())
    for chapter in dict.fromkeys(p.source.stem for p in pages):
        variants = [p.name for p in pages if p.source.stem == chapter and p.variant]
        if variants:
            _add_sections(toc, f"notebooks/{chapter}", [f"notebooks/{n}" for n in variants])
    failed = [r for r in records if not r["ok"]]
    replace_failed(src, records)
    dropped = _prune_toc(toc, src)
    if dropped:
        print(f"not in this build (left out of the table of contents): {', '.join(dropped)}")
    (src / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    (build / "execution.json").write_text(json.dumps(records, indent=1))
    _fill_pages(src, root, records, preset, machine, build)
    fastest = max(cals, key=lambda c: c.tok_s) if cals else None
    built = banner(
        preset,
        commit,
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        fastest.short() if fastest else "",
        built=True,
    )
    for md in sorted((src / "book").rglob("*.md")):
        md.write_text(banner_markdown(md.read_text(), built))
    notes: list[str] = []
    checked = True
    if not args.no_site:
        t_site = time.perf_counter()
        build_site(src, build)
        site_s = round(time.perf_counter() - t_site, 1)
        progress.done(SITE, site_s)
        print(f"site: {build / 'html' / 'index.html'}", flush=True)
        timed = [{"name": SITE, "seconds": site_s}]
        if args.check != "off":
            t_check = time.perf_counter()
            from persona_axis.site.check import check_or_skip

            checked, note = check_or_skip(build / "html", build / "screenshots", args.check)
            if note:
                notes.append(note)
                print(note, flush=True)
            if not note.startswith("browser check SKIPPED"):
                progress.done(CHECK, round(time.perf_counter() - t_check, 1), checked)
                timed.append({"name": CHECK, "seconds": progress.actual[CHECK][0]})
        if not args.assemble:
            record_timings(timed, preset, plan_.tok_s, plan_.dtype)
    if not args.assemble:
        print("\n" + progress.summary())
    if machine:
        print(machine)
    for r in failed:
        notes.append(
            f"{r['name']} FAILED: {r['error']}; its page says so, and the executed copy with the traceback "
            f"is {src / 'notebooks' / (r['name'] + '.failed.ipynb')}"
        )
    print(
        f"book build finished in {time.perf_counter() - t0:.0f} s (preset {preset})"
        + (f", with {len(failed)} failed page{'s' * (len(failed) > 1)}" if failed else "")
    )
    for note in notes:
        print(note, file=sys.stderr)
    return 1 if failed or not checked else 0


def _fill_pages(
    src: Path, root: Path, records: list[dict[str, Any]], preset: str, machine: str, build: Path
) -> None:
    """The build's own pages: the status table, the course plan, the dashboard, the sample-size table."""
    status = src / "book" / "status.md"
    if status.exists():
        status.write_text(
            status.read_text().replace("<!-- EXECUTION-TABLE -->", _status_table(records, preset, machine))
        )
    course = src / "book" / "course.md"
    if course.exists():  # the plan of sessions, with this machine's measured run times per preset
        from persona_axis.site.course import render_plan

        ok = {r["name"] for r in records if r["ok"]}
        plan_text = render_plan(root / "notebooks", ok, failed={r["name"] for r in records if not r["ok"]})
        course.write_text(course.read_text().replace("<!-- COURSE-PLAN -->", plan_text))
    dashboard = src / "book" / "dashboard.md"
    if dashboard.exists():  # from every saved result, also those of chapters this build did not run
        table = render_dashboard(notebooks_dir=src / "notebooks", preset=preset)
        dashboard.write_text(dashboard.read_text().replace("<!-- DASHBOARD -->", table))
    sample_size = src / "book" / "sample-size.md"
    if sample_size.exists():  # what would decide each inconclusive claim, timed at this build's speed figure
        from persona_axis.claims.samplesize import render_sample_size

        tok_s = (
            json.loads((build / "machine.json").read_text())["tok_s"]
            if (build / "machine.json").exists()
            else None
        )
        sample_size.write_text(
            sample_size.read_text().replace(
                "<!-- SAMPLE-SIZE -->", render_sample_size(preset=preset, tok_s=tok_s)
            )
        )


if __name__ == "__main__":
    sys.exit(main())
