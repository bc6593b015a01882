"""Repository hygiene: environment.yml agrees with pyproject.toml, lib/ is tracked, outputs are not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

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
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert any(f.startswith("lib/persona_axis/") for f in files)
    assert not any(f.startswith("_build/") or f.endswith(".ipynb") for f in files)
    for name in ("book", "notebooks", "lib", "tests", "environment.yml", "_config.yml", "_toc.yml", "README.md", "Makefile", ".ci/run"):
        assert (ROOT / name).exists(), name
