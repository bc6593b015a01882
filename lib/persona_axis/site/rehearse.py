"""Run the publishing workflow's jobs on this machine, in the order GitHub runs them.

``.github/workflows/publish.yml`` splits the book into jobs that hand each other the artifact
store through the actions cache and the executed pages through workflow artifacts. This module
reads that file and runs it here: each job (each matrix row) in a workspace of its own (a copy of
the commit, dated back, with the checkout's venvs linked in), its ``run:`` steps in bash with the workflow's
environment, and the actions it uses played by local stand-ins:

- ``actions/cache``, ``actions/cache/restore`` and ``actions/cache/save``: a folder per key; a
  restore takes the exact key, else the newest key that starts with a ``restore-keys`` prefix,
  as the actions do; ``actions/cache`` saves at the end of a successful job when its key missed.
  A cache whose path is outside the workspace (``~/.cache/...``) is this machine's own folder.
- ``actions/upload-artifact`` and ``actions/download-artifact``: a folder per artifact, the
  uploaded paths stored below their least common ancestor as the action stores them, a download
  by ``pattern`` into ``<path>/<artifact name>/``.
- checkout, setup-python and the Pages actions are skipped (the workspace is the checkout; there
  is nothing to deploy).

Run (tiny: minutes; the workflow's own preset is ``book``)::

    python -m persona_axis.site.rehearse --preset tiny --out /tmp/rehearsal

Expressions are the subset the workflow uses: contexts (``env``, ``matrix``, ``inputs``,
``github``, ``steps``), ``hashFiles``, ``cancelled()``/``failure()``/``success()``/``always()``,
``==``, ``!=``, ``&&``, ``||``, ``!`` and string literals. Anything else raises.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

import yaml

from persona_axis.site.build import find_root

__all__ = [
    "WORKFLOW",
    "Ctx",
    "evaluate",
    "substitute",
    "job_order",
    "lowest_common_parent",
    "Rehearsal",
    "main",
]

ROOT = find_root()
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"

#: A workflow step, job and file as far as the rehearsal reads them (``if``, ``with`` and
#: ``continue-on-error`` are not Python names, hence the functional form).
Step = TypedDict(
    "Step",
    {
        "name": str,
        "id": str,
        "uses": str,
        "run": str,
        "if": str,
        "with": dict[str, str],
        "continue-on-error": bool,
    },
    total=False,
)


class Job(TypedDict, total=False):
    needs: str | list[str]
    env: dict[str, str]
    strategy: dict[str, dict[str, list[dict[str, str]]]]
    steps: list[Step]


class Workflow(TypedDict, total=False):
    env: dict[str, str]
    jobs: dict[str, Job]


#: The contexts an expression reads (``env``, ``matrix``, ``steps``...) and its functions.
Contexts = Mapping[str, object]
Functions = Mapping[str, Callable[..., object]]

_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\)|,)|(?P<name>[A-Za-z_][\w.-]*))"
)


class Ctx(dict[str, Any]):
    """A context (``env``, ``matrix``...): ``ctx.key`` reads ``ctx["key"]``; a missing key is ``None``."""

    def __getattr__(self, name: str) -> object:
        value = self.get(name)
        return Ctx(value) if isinstance(value, dict) and not isinstance(value, Ctx) else value


def _lookup(path: str, contexts: Contexts) -> object:
    head, *rest = path.split(".")
    if head not in contexts:
        raise ValueError(f"unknown context {head!r} in {path!r}: the rehearsal knows {sorted(contexts)}")
    value = contexts[head]
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def evaluate(expr: str, contexts: Contexts, functions: Functions | None = None) -> object:
    """The value of one ``${{ }}`` expression (without the braces) in ``contexts``.

    ``a || b`` is ``a`` if truthy else ``b``, ``a && b`` is ``b`` if ``a`` is truthy else ``a``,
    as in GitHub's expressions; a missing property is ``None``.

    >>> evaluate("inputs.preset || 'book'", {"inputs": {}})
    'book'
    >>> evaluate("!cancelled() && steps.own.outputs.new == 'true'",
    ...          {"steps": {"own": {"outputs": {"new": "true"}}}})
    True
    """
    funcs = {
        "cancelled": lambda: False,
        "failure": lambda: False,
        "success": lambda: True,
        "always": lambda: True,
        **(functions or {}),
    }
    tokens: list[tuple[str, str]] = []
    pos, text = 0, expr.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read the expression {expr!r} at {text[pos:]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    i = 0

    def peek() -> str:
        return tokens[i][1] if i < len(tokens) else ""

    def take() -> tuple[str, str]:
        nonlocal i
        i += 1
        return tokens[i - 1]

    def primary() -> Any:
        kind, tok = take()
        if tok == "!":
            return not primary()
        if tok == "(":
            v = disjunction()
            take()
            return v
        if kind == "str":
            return tok[1:-1].replace("''", "'")
        if kind == "name" and peek() == "(":
            take()
            args = []
            while peek() != ")":
                args.append(disjunction())
                if peek() == ",":
                    take()
            take()
            if tok not in funcs:
                raise ValueError(f"unknown function {tok}() in {expr!r}")
            return funcs[tok](*args)
        if kind == "name" and tok in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[tok]
        if kind == "name":
            return _lookup(tok, contexts)
        raise ValueError(f"unexpected {tok!r} in {expr!r}")

    def comparison() -> Any:
        v = primary()
        while peek() in ("==", "!="):
            op = take()[1]
            w = primary()
            v = (v == w) if op == "==" else (v != w)
        return v

    def conjunction() -> Any:
        v = comparison()
        while peek() == "&&":
            take()
            w = comparison()
            v = w if v else v
        return v

    def disjunction() -> Any:
        v = conjunction()
        while peek() == "||":
            take()
            w = conjunction()
            v = v if v else w
        return v

    value = disjunction()
    if i != len(tokens):
        raise ValueError(f"trailing tokens in {expr!r}: {tokens[i:]}")
    return value


def substitute(text: str, contexts: Contexts, functions: Functions | None = None) -> str:
    """``text`` with each ``${{ expr }}`` replaced by its value (``None`` as an empty string)."""

    def one(m: re.Match[str]) -> str:
        v = evaluate(m.group(1), contexts, functions)
        return "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)

    return _EXPR.sub(one, text)


def _condition(cond: object, contexts: Contexts, functions: Functions) -> bool:
    if cond is None:
        return True
    text = str(cond).strip()
    m = _EXPR.fullmatch(text)
    return bool(evaluate(m.group(1) if m else text, contexts, functions))


def job_order(workflow: Workflow) -> list[str]:
    """The jobs in an order that respects ``needs`` (file order among independent jobs)."""
    jobs = workflow["jobs"]
    done: list[str] = []
    while len(done) < len(jobs):
        ready = [j for j in jobs if j not in done and all(n in done for n in _needs(jobs[j]))]
        if not ready:
            raise ValueError(f"the jobs' needs form a cycle among {sorted(set(jobs) - set(done))}")
        done.append(ready[0])
    return done


def _needs(job: Job) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def lowest_common_parent(paths: list[Path]) -> Path:
    """The folder that ``actions/upload-artifact`` strips from uploaded paths: the least common
    ancestor of the files' folders (of a single file: its folder)."""
    parents = [p.parent if p.is_file() else p for p in paths]
    common = Path(os.path.commonpath([str(p) for p in parents]))
    return common


@dataclass
class StepRecord:
    """What one step did: its job, name, outcome (``ran``, ``skipped``, ``failed``, ``played``) and time."""

    job: str
    step: str
    outcome: str
    seconds: float = 0.0
    note: str = ""


@dataclass
class Rehearsal:
    """Runs the workflow's jobs in ``out``: ``workspaces/<job>``, ``cache/<key>``, ``artifacts/<name>``.

    Attributes:
        out: a scratch folder (created).
        preset: the ``preset`` input (``tiny``, ``quick``, ``book``).
        env: environment overrides for every job (e.g. ``PERSONA_AXIS_CHROMIUM`` for the site
            job, whose runner has Chrome preinstalled).
        source: the checkout whose ``HEAD`` each workspace copies and whose venvs it links.
        only: run these jobs only (by id; ``None``: all but ``deploy``).
    """

    out: Path
    preset: str = "tiny"
    env: dict[str, str] = field(default_factory=dict)
    source: Path = ROOT
    only: list[str] | None = None
    records: list[StepRecord] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: str(int(time.time())))

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        for d in ("workspaces", "cache", "artifacts"):
            (self.out / d).mkdir(parents=True, exist_ok=True)

    # -- workspaces -------------------------------------------------------------------------------------------

    def workspace(self, name: str) -> Path:
        """A fresh copy of the commit for job ``name``, with the checkout's venvs linked in."""
        ws = self.out / "workspaces" / name
        if ws.exists():
            shutil.rmtree(ws)
        ws.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(self.source), "archive", "HEAD"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(ws)], input=archive.stdout, check=True)
        # the checkout's venvs stand for the job's set-up: its files are dated back, so that make finds
        # the venvs' stamps newer than pyproject.toml and does not rebuild them in place
        old = 946684800.0  # 2000-01-01
        for p in ws.rglob("*"):
            os.utime(p, (old, old), follow_symlinks=False)
        for venv in (".venv", ".venv-vllm"):
            if (self.source / venv).exists():
                (ws / venv).symlink_to((self.source / venv).resolve())
        return ws

    def hash_files(self, ws: Path) -> Callable[..., str]:
        def h(*patterns: str) -> str:
            digest = hashlib.sha256()
            files = sorted(
                p
                for p in ws.rglob("*")
                if p.is_file()
                and not any(part.startswith(".venv") for part in p.relative_to(ws).parts)
                and any(fnmatch.fnmatch(p.relative_to(ws).as_posix(), pat) for pat in patterns)
            )
            for p in files:
                digest.update(p.relative_to(ws).as_posix().encode())
                digest.update(p.read_bytes())
            return digest.hexdigest()

        return h

    # -- the actions' stand-ins ---------------------------------------------------------------------------------

    def _cache_dir(self, key: str) -> Path:
        return self.out / "cache" / re.sub(r"[^\w.-]", "_", key)

    def cache_restore(self, ws: Path, path: str, key: str, restore_keys: list[str]) -> str:
        """Restore ``path`` from the cache: ``"hit"``, ``"restored <key>"`` or ``"miss"``."""
        entries = sorted(
            (d for d in (self.out / "cache").iterdir() if d.is_dir()),
            key=lambda d: d.stat().st_mtime,
            reverse=True,
        )
        found = self._cache_dir(key) if self._cache_dir(key).is_dir() else None
        how = "hit" if found else "miss"
        if found is None:
            for prefix in restore_keys:
                slug = re.sub(r"[^\w.-]", "_", prefix)
                found = next((d for d in entries if d.name.startswith(slug)), None)
                if found is not None:
                    how = f"restored {found.name}"
                    break
        if found is not None:
            shutil.copytree(found, ws / path, dirs_exist_ok=True, symlinks=True)
        return how

    def cache_save(self, ws: Path, path: str, key: str) -> str:
        target = self._cache_dir(key)
        if target.exists():
            return f"not saved: {key} exists (caches are immutable)"
        if not (ws / path).exists():
            return f"not saved: {path} does not exist"
        shutil.copytree(ws / path, target, symlinks=True)
        return f"saved {key}"

    def upload(self, ws: Path, name: str, paths: list[str]) -> str:
        found = [ws / p for p in paths if (ws / p).exists()]
        if not found:
            return f"nothing to upload for {name}"
        base = lowest_common_parent(found)
        target = self.out / "artifacts" / name
        if target.exists():
            shutil.rmtree(target)
        for p in found:
            dest = target / p.relative_to(base)
            if p.is_dir():
                shutil.copytree(p, dest, dirs_exist_ok=True)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, dest)
        return f"uploaded {name}: {len(found)} paths below {base.relative_to(ws)}"

    def download(self, ws: Path, pattern: str, path: str) -> str:
        names = sorted(d.name for d in (self.out / "artifacts").iterdir() if fnmatch.fnmatch(d.name, pattern))
        for n in names:
            shutil.copytree(self.out / "artifacts" / n, ws / path / n, dirs_exist_ok=True)
        return f"downloaded {', '.join(names) or 'nothing'}"

    # -- jobs ---------------------------------------------------------------------------------------------------

    def run(self, workflow_path: Path = WORKFLOW) -> bool:
        """Run every job (each matrix row) in order; ``True`` when no job failed."""
        wf = cast(Workflow, yaml.safe_load(Path(workflow_path).read_text()))
        ok = True
        for job_id in job_order(wf):
            if (self.only is not None and job_id not in self.only) or (
                self.only is None and job_id == "deploy"
            ):
                continue
            job = wf["jobs"][job_id]
            rows = job.get("strategy", {}).get("matrix", {}).get("include", [None])
            for row in rows:
                ok = self.run_job(wf, job_id, job, row) and ok
        return ok

    def run_job(self, wf: Workflow, job_id: str, job: Job, row: Mapping[str, str] | None) -> bool:
        name = job_id if row is None else f"{job_id}-{row.get('group', len(self.records))}"
        ws = self.workspace(name)
        temp = Path(tempfile.mkdtemp(prefix=f"runner-{name}-", dir=self.out))
        contexts: dict[str, Any] = {
            "inputs": {"preset": self.preset},
            "matrix": dict(row or {}),
            "steps": {},
            "github": {"workspace": str(ws), "run_id": self.run_id, "run_attempt": "1"},
            "env": {},
        }
        functions = {"hashFiles": self.hash_files(ws)}
        env = {k: substitute(str(v), contexts, functions) for k, v in (wf.get("env") or {}).items()}
        contexts["env"] = env
        env |= {k: substitute(str(v), contexts, functions) for k, v in (job.get("env") or {}).items()}
        env |= self.env
        contexts["env"] = env
        print(f"\n=== job {name} ({ws})", flush=True)
        failed = False
        post_saves: list[tuple[str, str]] = []
        for step in job["steps"]:
            title = step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]
            if not _condition(
                step.get("if"),
                contexts,
                {**functions, "failure": lambda: failed, "success": lambda: not failed},
            ):
                self.records.append(StepRecord(name, title, "skipped", note="its if: is false"))
                continue
            if failed and "if" not in step:
                self.records.append(StepRecord(name, title, "skipped", note="an earlier step failed"))
                continue
            t0 = time.perf_counter()
            outcome, note = "played", ""
            with_ = {k: substitute(str(v), contexts, functions) for k, v in (step.get("with") or {}).items()}
            uses = step.get("uses", "")
            if uses:
                action = uses.split("@")[0]
                path = with_.get("path", "")
                local = not path.startswith(("~", "/"))
                if action in ("actions/cache", "actions/cache/restore"):
                    if not local:
                        note = f"{path}: this machine's own folder"
                    else:
                        keys = [k for k in with_.get("restore-keys", "").splitlines() if k.strip()]
                        note = self.cache_restore(ws, path, with_["key"], [k.strip() for k in keys])
                        if action == "actions/cache" and note != "hit":
                            post_saves.append((path, with_["key"]))
                elif action == "actions/cache/save":
                    note = (
                        self.cache_save(ws, path, with_["key"])
                        if local
                        else f"{path}: this machine's own folder"
                    )
                elif action == "actions/upload-artifact":
                    note = self.upload(ws, with_["name"], [p.strip() for p in path.splitlines() if p.strip()])
                elif action == "actions/download-artifact":
                    note = self.download(ws, with_["pattern"], path)
                else:
                    outcome, note = "skipped", "not needed here"
            else:
                script = substitute(step["run"], contexts, functions)
                output = temp / f"output-{len(self.records)}"
                output.touch()
                step_env = {
                    **os.environ,
                    **env,
                    "GITHUB_WORKSPACE": str(ws),
                    "RUNNER_TEMP": str(temp),
                    "GITHUB_OUTPUT": str(output),
                    "CI": "true",
                }
                print(f"--- {name}: {title}", flush=True)
                rc = subprocess.run(
                    ["bash", "-eo", "pipefail", "-c", script], cwd=ws, env=step_env
                ).returncode
                outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
                if step.get("id"):
                    contexts["steps"][step["id"]] = {
                        "outputs": outputs,
                        "outcome": "success" if rc == 0 else "failure",
                    }
                outcome = "ran" if rc == 0 else "failed"
                note = f"exit {rc}" + (" (continue-on-error)" if rc and step.get("continue-on-error") else "")
                if rc and not step.get("continue-on-error"):
                    failed = True
            self.records.append(StepRecord(name, title, outcome, time.perf_counter() - t0, note))
            print(f"    {outcome}: {title}: {note} ({time.perf_counter() - t0:.0f} s)", flush=True)
        for path, key in post_saves if not failed else []:
            self.records.append(
                StepRecord(name, f"post: save {path}", "played", 0.0, self.cache_save(ws, path, key))
            )
        return not failed

    def summary(self) -> str:
        """One line per step: job, outcome, seconds, step, note."""
        return "\n".join(
            f"{r.job:<18} {r.outcome:<8} {r.seconds:>6.0f} s  {r.step}: {r.note}" for r in self.records
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny", help="the workflow's preset input (default tiny)")
    ap.add_argument("--out", default=None, help="scratch folder (default: a new temporary one)")
    ap.add_argument("--jobs", nargs="*", default=None, help="run only these job ids")
    ap.add_argument(
        "--chromium",
        default=os.environ.get("PERSONA_AXIS_CHROMIUM", "/usr/bin/chromium"),
        help="the Chromium the site job uses in place of the runner's Chrome",
    )
    args = ap.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="rehearsal-"))
    r = Rehearsal(out, args.preset, {"PERSONA_AXIS_CHROMIUM": args.chromium}, only=args.jobs)
    ok = r.run()
    print("\n" + r.summary())
    print(f"\nrehearsal {'passed' if ok else 'FAILED'} in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
