"""The workflow rehearsal (``persona_axis.site.rehearse``) on a small workflow written here: the
expression subset, the jobs' order, and the stand-ins of the cache and artifact actions, with
exact expectations of what each job sees."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from persona_axis.site.rehearse import (
    WORKFLOW,
    Rehearsal,
    evaluate,
    job_order,
    lowest_common_parent,
    substitute,
)

WF = """
name: two stages
on: push
env:
  PRESET: ${{ inputs.preset || 'book' }}
jobs:
  last:
    needs: [first, middle]
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@v7
        with:
          pattern: pages-*
          path: got
      - run: cat got/pages-a/one.txt got/pages-b/one.txt > both.txt && cp both.txt "$RUNNER_TEMP/../both.txt"
  first:
    runs-on: ubuntu-latest
    env:
      GROUP: first
    steps:
      - uses: actions/checkout@v5
      - uses: actions/cache/restore@v5
        with:
          path: store
          key: st-${{ env.PRESET }}-${{ hashFiles('code/**') }}-${{ github.run_id }}
          restore-keys: |
            st-${{ env.PRESET }}-
      - id: make
        run: |
          mkdir -p store
          if [ -f store/made.txt ]; then echo "new=false" >> "$GITHUB_OUTPUT"; else
            echo "$PRESET $GROUP" > store/made.txt; echo "new=true" >> "$GITHUB_OUTPUT"; fi
      - if: ${{ !cancelled() && steps.make.outputs.new == 'true' }}
        uses: actions/cache/save@v5
        with:
          path: store
          key: st-${{ env.PRESET }}-${{ hashFiles('code/**') }}-${{ github.run_id }}
  middle:
    needs: first
    runs-on: ubuntu-latest
    strategy:
      matrix:
        include:
          - group: a
          - group: b
    steps:
      - uses: actions/cache/restore@v5
        with:
          path: store
          key: st-${{ env.PRESET }}-nothing
          restore-keys: |
            st-${{ env.PRESET }}-
      - if: matrix.group == 'b'
        run: echo "only b" > b-only.txt
      - run: mkdir -p out/x && cp store/made.txt out/x/one.txt && echo "${{ matrix.group }}" >> out/x/one.txt
      - uses: actions/upload-artifact@v6
        with:
          name: pages-${{ matrix.group }}
          path: |
            out/x/one.txt
"""


def test_expressions_follow_githubs_rules() -> None:
    ctx = {"inputs": {}, "env": {"A": "x"}, "matrix": {"group": "release"}, "steps": {"own": {"outputs": {}}}}
    assert evaluate("inputs.preset || 'book'", ctx) == "book"
    assert evaluate("env.A && 'yes'", ctx) == "yes" and evaluate("inputs.preset && 'yes'", ctx) is None
    assert (
        evaluate("matrix.group == 'release'", ctx) is True
        and evaluate("!(matrix.group != 'release')", ctx) is True
    )
    assert evaluate("!cancelled() && steps.own.outputs.new == 'true'", ctx) is False
    assert substitute("k-${{ env.A }}-${{ inputs.preset }}-", ctx) == "k-x--"
    with pytest.raises(ValueError, match="unknown context 'secrets'"):
        evaluate("secrets.TOKEN", ctx)
    with pytest.raises(ValueError, match="unknown function"):
        evaluate("toJSON(env)", ctx)


def test_jobs_run_after_what_they_need_and_uploads_strip_the_common_folder(tmp_path: Path) -> None:
    import yaml

    assert job_order(yaml.safe_load(WF)) == ["first", "middle", "last"]
    assert job_order(yaml.safe_load(WORKFLOW.read_text())) == ["persona", "chapters", "site", "deploy"]
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("x")
    (tmp_path / "a" / "g").write_text("y")
    assert lowest_common_parent([tmp_path / "a" / "b" / "f", tmp_path / "a" / "g"]) == tmp_path / "a"
    assert lowest_common_parent([tmp_path / "a" / "b" / "f"]) == tmp_path / "a" / "b"


def test_a_rehearsal_hands_the_store_and_the_pages_from_job_to_job(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "code").mkdir(parents=True)
    (repo / "code" / "x.py").write_text("print(1)\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
    )
    (tmp_path / "wf.yml").write_text(WF)
    r = Rehearsal(tmp_path / "out", preset="tiny", source=repo, run_id="7")
    assert r.run(tmp_path / "wf.yml")
    outcomes = [(rec.job, rec.outcome, rec.note.split(" ")[0]) for rec in r.records]
    assert ("first", "played", "miss") in outcomes and ("first", "played", "saved") in outcomes
    assert [o for o in outcomes if o[0] == "middle-a"][0] == (
        "middle-a",
        "played",
        "restored",
    )  # by its prefix
    assert ("middle-a", "skipped", "its") in outcomes and ("middle-b", "ran", "exit") in outcomes
    assert (r.out / "both.txt").read_text() == "tiny first\na\ntiny first\nb\n"
    assert sorted(p.name for p in (r.out / "artifacts").iterdir()) == ["pages-a", "pages-b"]
    assert (r.out / "artifacts" / "pages-a" / "one.txt").is_file()  # out/x/ stripped, as the action does
    # a second run of the same commit finds the cache of the first run's id and makes nothing new
    again = Rehearsal(tmp_path / "out", preset="tiny", source=repo, run_id="8")
    assert again.run(tmp_path / "wf.yml")
    first = [rec for rec in again.records if rec.job == "first"]
    assert first[1].note.startswith("restored") and any(rec.outcome == "skipped" for rec in first)
