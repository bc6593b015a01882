"""Build the book: stage the sources, execute every chapter with papermill, run Jupyter Book.

    python -m persona_axis.site.build                  # the full default run (preset "book")
    python -m persona_axis.site.build --preset quick   # every chapter with small parameters
    python -m persona_axis.site.build --only 00_quickstart --preset tiny

Nothing is written into the tracked source folders. The sources (``_config.yml``,
``_toc.yml``, ``book/``) are copied to ``<build>/src``; each chapter, a jupytext MyST notebook in
``notebooks/``, is converted to ``.ipynb`` there and executed by papermill with the preset's
parameters; the execution status page gets a table of each notebook's run time and parameters,
and the dashboard page the paper's claims rated against every saved result
(``persona_axis.claims.dashboard``); chapters not executed (``--only``) are left out of the table of
contents; then ``jupyter-book build`` writes the site to ``<build>/html`` (``-n -W --keep-going``: any
warning fails the build, after reporting all of them). A notebook that fails leaves its
executed copy, with the traceback, in ``<build>/src/notebooks`` and the build stops with an error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from persona_axis.claims.dashboard import render_dashboard
from persona_axis.claims.registry import substitutions
from persona_axis.core.presets import PRESET_NAMES

if TYPE_CHECKING:
    from persona_axis.engine.speed import Calibration

__all__ = ["SITE_DATA", "notebooks", "stage", "execute", "suffix_labels", "add_download_link", "build_site", "main"]


def find_root(start: Path | None = None) -> Path:
    """The checkout the build works on: the first folder from ``start`` (default: the working
    folder) upward that holds ``_toc.yml`` and ``notebooks/``; the working folder if none does."""
    here = (start or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / "_toc.yml").is_file() and (d / "notebooks").is_dir()), here)


ROOT = find_root()

#: Chapters the book also shows for other models: each variant is executed (before the main
#: page, so the main page's comparison tables include it) into its own page, listed under the
#: chapter in the table of contents.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "01_persona_space": [{"model": "qwen2.5-coder-0.5b-instruct"}],
    "02_assistant_axis": [{"model": "qwen2.5-coder-0.5b-instruct"}],
}


def notebooks(root: Path = ROOT) -> list[Path]:
    """Chapter sources, in the order of their file names."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.md"))


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


def variant_name(stem: str, params: dict[str, Any]) -> str:
    """File stem of a chapter's variant page: ``01_persona_space--qwen2.5-coder-0.5b-instruct``."""
    slug = "-".join(str(v).replace("/", "_") for v in params.values())
    return f"{stem}--{slug}"


#: Lines that define a label in a chapter's markdown: ``:label: x`` (exercises, definitions)
#: and ``(x)=`` targets. Figure names live in cell metadata (``mystnb.figure.name``).
_LABEL_LINES = (re.compile(r"^:label:\s*(\S+)\s*$", re.M), re.compile(r"^\((\S+)\)=\s*$", re.M))


def suffix_labels(nb: Any, suffix: str) -> set[str]:
    """Give every label a notebook defines the suffix ``suffix``, and its references with them.

    A variant page is a second copy of a chapter, so without this each of its figure names,
    exercise and definition labels and targets would clash with the main page's (Sphinx:
    "duplicate label"). References in the notebook's markdown to those labels are renamed
    too, so the variant's text cites its own figures; references to labels defined in other
    pages are left alone. Returns the labels that were renamed.
    """
    labels: set[str] = set()
    for cell in nb.cells:
        name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
        if name:
            labels.add(str(name))
        if cell.cell_type == "markdown":
            for rx in _LABEL_LINES:
                labels.update(rx.findall(cell.source))
    if not labels:
        return labels
    word = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True)) + r")(?![\w-])")
    for cell in nb.cells:
        fig = cell.metadata.get("mystnb", {}).get("figure", {})
        if fig.get("name") in labels:
            fig["name"] = f"{fig['name']}{suffix}"
        if cell.cell_type == "markdown":
            cell.source = word.sub(lambda m: m.group(1) + suffix, cell.source)
    return labels


def execute(nb_source: Path, src: Path, preset: str, extra: dict[str, Any] | None = None,
            name: str | None = None) -> dict[str, Any]:
    """Convert one chapter to ``.ipynb`` under ``src/notebooks`` and execute it with papermill.

    ``name`` gives the executed copy another file name (for variants); its title then names
    the variant's parameters. Returns a status record: name, seconds, parameters, ok, error.
    """
    import jupytext
    import nbformat
    import papermill as pm

    name = name or nb_source.stem
    target = src / "notebooks" / (name + ".ipynb")
    nb = jupytext.read(nb_source)
    if name != nb_source.stem:
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.startswith("# "):
                first, _, rest = cell.source.partition("\n")
                cell.source = f"{first}: {', '.join(str(v) for v in (extra or {}).values())}\n{rest}"
                break
        suffix_labels(nb, name[len(nb_source.stem):])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, target)
    params = {"preset": preset, **(extra or {})}
    t0 = time.perf_counter()
    record: dict[str, Any] = {"name": name, "parameters": params, "ok": True, "error": ""}
    try:
        # at the paper preset a chapter runs for hours: its output (progress bars) goes to the terminal
        pm.execute_notebook(str(target), str(target), parameters=params, cwd=str(target.parent),
                            kernel_name="python3", progress_bar=False, log_output=preset == "paper")
    except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
        record["ok"] = False
        record["error"] = f"{type(e).__name__}: {str(e)[:2000]}"
    executed = nbformat.read(target, as_version=4)
    for cell in executed.cells:  # the cell papermill injects: behind a toggle, like the parameters
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
    add_download_link(executed, target.name)
    nbformat.write(executed, target)
    record["seconds"] = round(time.perf_counter() - t0, 1)
    return record


#: Folder beside the executed notebooks that receives the data behind every figure
#: (``persona_axis.viz.figdata``); the pages link the files in it, and Sphinx ships them as downloads.
SITE_DATA = "figure-data"


def add_download_link(nb: Any, filename: str) -> None:
    """Put a link to the executed notebook itself (``filename``) under the chapter's title.

    Sphinx copies the file into the site's ``_downloads`` (the ``{download}`` role), so a
    reader gets the notebook with every output, as this build ran it.
    """
    import nbformat

    text = (f"{{download}}`Download this chapter as an executed notebook <{filename}>` (`.ipynb`, with the outputs "
            "of this build; open it in JupyterLab, or rerun it with `make lab`).")
    at = next((i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("# ")), 0)
    nb.cells.insert(at, nbformat.v4.new_markdown_cell(text, metadata={"tags": ["download-link"]}))


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
        text += (f" The two differ by {ratio:.1f}x in decode rate: something slowed one of them (another job, "
                 f"a disk still writing a fresh set-up) or the machine changed speed during the build; the time "
                 f"estimates of this book use the faster ({steadiest(cals).tok_s:.0f} tok/s).")
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
    lines = [f"Preset: `{preset}`. Built {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             *([machine, ""] if machine else []),
             "| notebook | status | run time (s) | parameters |", "|---|---|---|---|"]
    for r in records:
        params = ", ".join(f"`{k}={v!r}`" for k, v in r["parameters"].items())
        lines.append(f"| {{doc}}`{r['name']} <../notebooks/{r['name']}>` | {'ok' if r['ok'] else 'failed'} | {r['seconds']} | {params} |")
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Execute the chapters and build the book.")
    ap.add_argument("--preset", default="book", choices=PRESET_NAMES)
    ap.add_argument("--only", nargs="*", help="notebook names to execute (default: all)")
    ap.add_argument("--build-dir", default=str(ROOT / "_build"))
    ap.add_argument("--no-site", action="store_true", help="execute notebooks only")
    ap.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="extra notebook parameter (value parsed as JSON when it can be)")
    ap.add_argument("--calibrate", type=float, default=0.0, metavar="SECONDS",
                    help="first time a SmolLM2 decode and a bf16 matmul for about SECONDS (the machine-speed figure)")
    args = ap.parse_args(argv)
    extra: dict[str, Any] = {}
    for k, v in args.param:
        try:
            extra[k] = json.loads(v)
        except json.JSONDecodeError:
            extra[k] = v
    t0 = time.perf_counter()
    build = Path(args.build_dir).resolve()
    src = stage(build)
    from persona_axis.viz.figdata import SITE_DATA_ENV

    os.environ[SITE_DATA_ENV] = str(src / "notebooks" / SITE_DATA)  # the kernels inherit it
    cals: list[Calibration] = []
    if args.calibrate > 0:
        _take_speed(build, cals, args.calibrate)
    chosen = [nb for nb in notebooks() if not args.only or nb.stem in args.only]
    if args.only and len(chosen) != len(args.only):
        known = ", ".join(nb.stem for nb in notebooks())
        raise SystemExit(f"unknown notebook in --only {args.only}; known: {known}")
    records = []
    toc = yaml.safe_load((src / "_toc.yml").read_text())
    for nb in chosen:
        runs = [(variant_name(nb.stem, v), {**extra, **v}) for v in ([] if extra else VARIANTS.get(nb.stem, []))]
        for name, params in runs + [(nb.stem, extra)]:
            print(f"executing {name} (preset {args.preset}) ...", flush=True)
            rec = execute(nb, src, args.preset, params, name=name)
            print(f"  {'ok' if rec['ok'] else 'FAILED'} in {rec['seconds']} s", flush=True)
            records.append(rec)
        if runs:
            _add_sections(toc, f"notebooks/{nb.stem}", [f"notebooks/{n}" for n, _ in runs])
    if args.calibrate > 0 and records:  # a second figure: one disturbed moment cannot pass unseen
        _take_speed(build, cals, args.calibrate, end=True)
    machine = machine_sentence(cals)  # printed once, under the time per chapter
    dropped = _prune_toc(toc, src)
    if dropped:
        print(f"not in this build (left out of the table of contents): {', '.join(dropped)}")
    (src / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    (build / "execution.json").write_text(json.dumps(records, indent=1))
    status = src / "book" / "status.md"
    if status.exists():
        status.write_text(status.read_text().replace("<!-- EXECUTION-TABLE -->", _status_table(records, args.preset, machine)))
    course = src / "book" / "course.md"
    if course.exists():  # the plan of sessions, with this machine's measured run times per preset
        from persona_axis.site.course import record_times, render_plan

        plan = render_plan(ROOT / "notebooks", {r["name"] for r in records if r["ok"]}, record_times(records, args.preset))
        course.write_text(course.read_text().replace("<!-- COURSE-PLAN -->", plan))
    dashboard = src / "book" / "dashboard.md"
    if dashboard.exists():  # from every saved result, also those of chapters this build did not run
        table = render_dashboard(notebooks_dir=src / "notebooks", preset=args.preset)
        dashboard.write_text(dashboard.read_text().replace("<!-- DASHBOARD -->", table))
    sample_size = src / "book" / "sample-size.md"
    if sample_size.exists():  # what would decide each inconclusive claim, timed at this build's speed figure
        from persona_axis.claims.samplesize import render_sample_size

        tok_s = json.loads((build / "machine.json").read_text())["tok_s"] if (build / "machine.json").exists() else None
        sample_size.write_text(sample_size.read_text().replace(
            "<!-- SAMPLE-SIZE -->", render_sample_size(preset=args.preset, tok_s=tok_s)))
    failed = [r for r in records if not r["ok"]]
    if failed:
        for r in failed:
            print(f"\n{r['name']} failed; executed copy with the traceback: {src / 'notebooks' / (r['name'] + '.ipynb')}\n{r['error']}", file=sys.stderr)
        return 1
    if not args.no_site:
        t_site = time.perf_counter()
        build_site(src, build)
        records.append({"name": "(jupyter-book site)", "seconds": round(time.perf_counter() - t_site, 1)})
        print(f"site: {build / 'html' / 'index.html'}")
    print("\ntime per chapter (s):\n" + "\n".join(f"  {r['seconds']:8.1f}  {r['name']}" for r in records))
    if machine:
        print(machine)
    print(f"book build finished in {time.perf_counter() - t0:.0f} s (preset {args.preset})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
