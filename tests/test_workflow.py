"""The GitHub Pages workflow: valid against GitHub's workflow schema (offline), and it publishes the quick build.

It cannot run on this machine; ``check-jsonschema`` carries the schema of GitHub workflows
(``vendor.github-workflows``) in the package, so the check needs no network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def schema_check(*files: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    if exe is None:
        pytest.fail("check-jsonschema is not installed: pip install -e '.[test]'")
    return subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def test_workflows_match_githubs_schema(tmp_path: Path) -> None:
    assert WORKFLOWS, "no workflow in .github/workflows"
    res = schema_check(*WORKFLOWS)
    assert res.returncode == 0, res.stdout + res.stderr
    # the check can fail: a job without runs-on and a step that is a string are rejected
    broken = yaml.safe_load(WORKFLOWS[0].read_text())
    del broken["jobs"]["build"]["runs-on"]
    broken["jobs"]["deploy"]["steps"] = "deploy it"
    bad = tmp_path / "broken.yml"
    bad.write_text(yaml.safe_dump(broken))
    assert schema_check(bad).returncode != 0


def test_publish_workflow_builds_checks_and_deploys_the_site() -> None:
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "publish.yml").read_text())
    trigger = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as a boolean
    assert trigger["push"]["branches"] == ["main"] and "workflow_dispatch" in trigger
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    build = wf["jobs"]["build"]["steps"]
    runs = " ".join(s.get("run", "") for s in build)
    assert "persona_axis.site.build --preset quick" in runs and "persona_axis.site.check _build/html" in runs
    upload = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
