"""Repository hygiene: environment.yml agrees with pyproject.toml, lib/ is tracked, outputs are not."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import missing, need_module

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs |= set(extra)
    return reqs


def test_environment_yml_agrees_with_pyproject() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert set(pip_block) == _pyproject_requirements()


def test_torch_is_pinned_and_the_installed_build_is_the_cpu_one() -> None:
    import torch

    assert "torch==2.13.0" in _pyproject_requirements()
    assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__
    # the CPU wheel: no CUDA or ROCm runtime compiled in (a CUDA build pulls gigabytes of libraries)
    assert torch.version.cuda is None and getattr(torch.version, "hip", None) is None, torch.__version__


def test_jupyter_book_is_1x() -> None:
    assert "jupyter-book>=1,<2" in _pyproject_requirements()


def test_lib_is_tracked_and_build_outputs_are_not() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert any(f.startswith("lib/persona_axis/") for f in files)
    assert not any(f.startswith("_build/") or f.endswith(".ipynb") for f in files)
    for name in (
        "book",
        "notebooks",
        "lib",
        "tests",
        "environment.yml",
        "_config.yml",
        "_toc.yml",
        "README.md",
        "Makefile",
        ".ci/run",
    ):
        assert (ROOT / name).exists(), name


def test_ci_sets_ci_before_the_tests() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^export CI=1$", run, re.M) and run.index("export CI=1") < run.index("make test")


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [
        ("", pytest.skip.Exception),
        ("0", pytest.skip.Exception),
        ("1", pytest.fail.Exception),
        ("true", pytest.fail.Exception),
    ],
)
def test_a_missing_environment_skips_but_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(
        outcome, match=r"the Python package 'no_such_module_here' is missing: pip install it"
    ) as e:
        need_module("no_such_module_here", "pip install it")
    assert ("CI runs every test" in str(e.value)) == (outcome is pytest.fail.Exception)
    with pytest.raises(outcome, match="^Chromium is missing: make chromium"):
        missing("Chromium", "make chromium")
    assert need_module("json").__name__ == "json"


def test_tests_ask_for_their_environment_through_one_helper() -> None:
    """No test skips by itself: every missing piece goes through ``helpers.missing``, which fails under CI."""
    for f in sorted((ROOT / "tests").glob("*.py")):
        if f.name == "helpers.py":
            continue
        text = f.read_text()
        for pattern in ("importorskip", "pytest.skip(", "mark.skip", "skipif", "xfail", 'environ.get("CI")'):
            assert pattern not in text or f.name == Path(__file__).name, (
                f"{f.name} uses {pattern}: use helpers.need_*"
            )


def test_license_and_citation() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "The persona-axis authors" in (ROOT / "LICENSE").read_text()
    exe = Path(sys.executable).parent / "check-jsonschema"
    res = subprocess.run(
        [str(exe), "--builtin-schema", "vendor.citation-file-format", str(ROOT / "CITATION.cff")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    paper = cff["references"][0]
    assert cff["license"] == "MIT" and cff["version"] == project["version"]
    assert [a["family-names"] for a in paper["authors"]] == ["Lu", "Gallagher", "Michala", "Fish", "Lindsey"]
    assert paper["year"] == 2026 and paper["identifiers"][0]["value"] == "arXiv:2601.10387"
