"""What the build writes into the pages: labels of a variant, the banner, the download link, the failure page.

Every function here edits an ``nbformat`` notebook (or a MyST page's text) in memory; the build
(``persona_axis.site.build``) reads and writes the files.

- :func:`suffix_labels` gives a variant page's labels a suffix, so two copies of a chapter can share a site.
- :func:`banner` is the line at the top of every page: preset, commit, date and the machine's speed
  figure of the run the page shows (:func:`add_banner` for a chapter, :func:`banner_markdown` for a prose page).
- :func:`add_download_link` links the executed notebook under the chapter's title.
- :func:`failure_page` is the page a chapter gets when it failed: its title, that it failed, the error,
  the executed copy to download, and a stand-in for each of its labels that other pages point at, so
  that the site still builds with warnings as errors.
"""

from __future__ import annotations

import base64
import re
import struct
import subprocess
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "suffix_labels",
    "defined_labels",
    "referenced",
    "commit_of",
    "banner",
    "add_banner",
    "banner_markdown",
    "add_download_link",
    "png",
    "failure_page",
]

#: Lines that define a label in a chapter's markdown: ``:label: x`` (exercises, definitions)
#: and ``(x)=`` targets. Figure names live in cell metadata (``mystnb.figure.name``).
_LABEL_LINES = (re.compile(r"^:label:\s*(\S+)\s*$", re.M), re.compile(r"^\((\S+)\)=\s*$", re.M))

#: A directive's opening line and its options, to tell which directive a ``:label:`` belongs to.
_DIRECTIVE = re.compile(r"^(?::{3,}|`{3,})\{([\w:-]+)\}[^\n]*\n((?:[ \t]*:[\w-]+:[^\n]*\n)*)", re.M)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def suffix_labels(nb: NotebookNode, suffix: str) -> set[str]:
    """Give every label a notebook defines the suffix ``suffix``, and its references with them.

    A variant page is a second copy of a chapter, so without this each of its figure names,
    exercise and definition labels and targets would clash with the main page's (Sphinx:
    "duplicate label"). References in the notebook's markdown to those labels are renamed
    too, so the variant's text cites its own figures; references to labels defined in other
    pages are left alone. Returns the labels that were renamed.
    """
    labels = set(defined_labels(nb))
    if not labels:
        return labels
    word = re.compile(
        r"(?<![\w.-])("
        + "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True))
        + r")(?![\w-])"
    )
    for cell in nb.cells:
        fig = cell.metadata.get("mystnb", {}).get("figure", {})
        if fig.get("name") in labels:
            fig["name"] = f"{fig['name']}{suffix}"
        if cell.cell_type == "markdown":
            cell.source = word.sub(lambda m: m.group(1) + suffix, cell.source)
    return labels


def defined_labels(nb: NotebookNode) -> dict[str, str]:
    """``label -> kind`` of every label a notebook defines: ``"figure"`` (a figure name in a cell's
    metadata), the directive's name for a ``:label:`` option (``"prf:definition"``, ``"exercise"``),
    ``"target"`` for a ``(label)=`` line."""
    found: dict[str, str] = {}
    for cell in nb.cells:
        name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
        if name:
            found[str(name)] = "figure"
        if cell.cell_type != "markdown":
            continue
        for label in _LABEL_LINES[1].findall(cell.source):
            found[label] = "target"
        for kind, options in _DIRECTIVE.findall(cell.source):
            for label in _LABEL_LINES[0].findall("\n".join(line.strip() for line in options.splitlines())):
                found[label] = kind
        for label in _LABEL_LINES[0].findall(cell.source):
            found.setdefault(label, "target")
    return found


def referenced(labels: Mapping[str, str], texts: list[str]) -> dict[str, str]:
    """The labels (of ``labels``) that a role in one of ``texts`` points at: ``{ref}`x```,
    ``{numref}`text <x>```, ``{prf:ref}`x``` and the like."""
    joined = "\n".join(texts)
    return {
        label: kind
        for label, kind in labels.items()
        if re.search(r"\}`(?:[^`]*<)?" + re.escape(label) + r">?`", joined)
    }


def commit_of(root: Path) -> str:
    """The checkout's commit, short (``"d29b704"``), with ``" + local changes"`` when tracked files
    of the book differ from it; ``"unknown commit"`` outside a git checkout."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "--short=7", "HEAD")
        if head.returncode != 0:
            return "unknown commit"
        dirty = git(
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "lib",
            "notebooks",
            "book",
            "_config.yml",
            "_toc.yml",
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown commit"
    return head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")


def banner(preset: str, commit: str, when: str, speed: str, *, built: bool = False) -> str:
    """The banner's text: ``preset`` of the run, ``commit``, ``when`` (UTC) and the speed figure
    (``Calibration.short()``; empty: not measured). ``built``: for a prose page, which shows the build."""
    what = "This book was built" if built else "This page was run"
    figure = (
        f"machine speed {speed}"
        if speed
        else "machine speed not measured (the build ran without `--calibrate`)"
    )
    return (
        f":::{{admonition}} {'This build' if built else 'This run'}\n:class: note build-banner\n{what} at the "
        f"**{preset}** preset from commit `{commit}` on {when}; {figure}.\n:::"
    )


def _after_title(cells_or_lines: list[Any], is_title: Any) -> int:
    return next((i + 1 for i, c in enumerate(cells_or_lines) if is_title(c)), 0)


def add_banner(nb: NotebookNode, text: str) -> None:
    """Put the banner ``text`` (from :func:`banner`) under the chapter's title (tag ``build-banner``)."""
    import nbformat

    at = _after_title(nb.cells, lambda c: c.cell_type == "markdown" and c.source.startswith("# "))
    nb.cells.insert(at, nbformat.v4.new_markdown_cell(text, metadata={"tags": ["build-banner"]}))


def banner_markdown(page: str, text: str) -> str:
    """A MyST page's text with the banner ``text`` under its title (the first ``# `` line)."""
    lines = page.split("\n")
    at = _after_title(lines, lambda line: line.startswith("# "))
    return "\n".join(lines[:at] + ["", text, ""] + lines[at:])


def add_download_link(nb: NotebookNode, filename: str) -> None:
    """Put a link to the executed notebook itself (``filename``) under the chapter's title.

    Sphinx copies the file into the site's ``_downloads`` (the ``{download}`` role), so a
    reader gets the notebook with every output, as this build ran it.
    """
    import nbformat

    text = (
        f"{{download}}`Download this chapter as an executed notebook <{filename}>` (`.ipynb`, with the outputs "
        "of this build; open it in JupyterLab, or rerun it with `make lab`)."
    )
    at = _after_title(nb.cells, lambda c: c.cell_type == "markdown" and c.source.startswith("# "))
    nb.cells.insert(at, nbformat.v4.new_markdown_cell(text, metadata={"tags": ["download-link"]}))


def png(width: int, height: int, rgb: tuple[int, int, int] = (225, 225, 225)) -> bytes:
    """A valid PNG of one colour (8-bit RGB), made without an imaging library: the stand-in of a figure
    not made (and the tests' images)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def failure_page(
    executed: NotebookNode,
    record: Mapping[str, Any],
    failed_copy: str,
    stand_ins: Mapping[str, str],
    *,
    status_page: str | None = None,
    banner_text: str = "",
) -> NotebookNode:
    """The page of a chapter that failed, as a notebook of its own.

    Args:
        executed: the executed notebook (papermill's copy, with the outputs up to the error); its
            title is kept.
        record: the build's record of the run: ``name``, ``error`` (one line), ``traceback`` (text),
            ``cell`` (the failing cell's execution count, if known), ``parameters``.
        failed_copy: file name of the executed copy beside the page, linked for download.
        stand_ins: ``label -> kind`` (:func:`defined_labels`) of the chapter's labels that other
            pages point at; each gets a stand-in of its kind (a figure, a ``prf`` directive, a
            section), so that their references resolve.
        status_page: the docname of the status page (``"../book/status"``) to link, if the build has one.
        banner_text: the banner (:func:`banner`) of the run that failed.
    """
    import nbformat

    title = next(
        (
            c.source.partition("\n")[0]
            for c in executed.cells
            if c.cell_type == "markdown" and c.source.startswith("# ")
        ),
        f"# {record['name']}",
    )
    params = ", ".join(f"`{k}={v!r}`" for k, v in record.get("parameters", {}).items())
    status = (
        f" The {{doc}}`status page <{status_page}>` lists every page of this build and how it ended."
        if status_page
        else ""
    )
    trace = _ANSI.sub("", str(record.get("traceback") or record.get("error") or "no error recorded")).strip()
    trace = "\n".join(trace.splitlines()[-60:])
    where = f" in the cell it ran as number {record['cell']}" if record.get("cell") else ""
    cells = [
        title,
        banner_text,
        f":::{{error}}\nThis chapter failed in this build{where}, so its results, figures and verdicts are not on "
        f"this page; the other chapters ran.{status}\n:::",
        f"**The error:** `{_ANSI.sub('', str(record.get('error', ''))).splitlines()[0] if record.get('error') else 'unknown'}`"
        f"\n\n````text\n{trace}\n````",
        f"{{download}}`The executed notebook, with its outputs up to the error <{failed_copy}>` (parameters: {params}).\n\n"
        f"To run it again alone: `python -m persona_axis.site.build --pages {record['name']} "
        f"--preset {record.get('preset', 'book')} --no-site`; what the chapters before it made is read from the cache.",
    ]
    nb = nbformat.v4.new_notebook(metadata=executed.metadata)
    nb.cells = [nbformat.v4.new_markdown_cell(c) for c in cells if c]
    if stand_ins:
        nb.cells.append(
            nbformat.v4.new_markdown_cell(
                "## Not made in this build\n\nOther pages of the book point at these parts of the chapter; "
                "they come back when the chapter runs."
            )
        )
    grey = base64.b64encode(png(240, 60)).decode()
    for label, kind in stand_ins.items():
        if kind == "figure":
            nb.cells.append(
                nbformat.v4.new_code_cell(  # a cell without source would be skipped by myst-nb
                    f"# {label}: not made in this build",
                    metadata={
                        "tags": ["remove-input"],
                        "mystnb": {
                            "figure": {
                                "name": label,
                                "caption": f"`{label}`: not made, the chapter failed in this build.",
                            }
                        },
                    },
                    outputs=[
                        nbformat.v4.new_output(
                            "display_data", data={"image/png": grey, "text/plain": "<figure>"}
                        )
                    ],
                )
            )
        elif kind.startswith("prf:"):
            nb.cells.append(
                nbformat.v4.new_markdown_cell(
                    f":::{{{kind}}} Not made in this build\n:label: {label}\n\n`{label}` is defined by this chapter, "
                    "which failed in this build.\n:::"
                )
            )
        else:
            nb.cells.append(
                nbformat.v4.new_markdown_cell(f"({label})=\n### `{label}`\n\nNot made: the chapter failed.")
            )
    return nb
