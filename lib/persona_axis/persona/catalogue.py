"""The role and trait catalogue, the extraction questions and the default prompts.

The book ships its own catalogue (written for this project) as JSON inside the package:
275 roles with 5 system prompts each, 240 traits with 5 positive / negative prompt pairs,
240 extraction questions, and the paper's 5 default prompts. ``load_catalogue(path)`` also
reads the layout of the paper's public code release, so a reader who has that catalogue can
run every chapter on it by pointing one parameter at its folder:

    <path>/roles/instructions/<role>.json      {"instruction": [{"pos": "..."}, ...], "eval_prompt": "..."}
    <path>/traits/instructions/<trait>.json    {"instruction": [{"pos": "...", "neg": "..."}, ...], "eval_prompt": "..."}
    <path>/extraction_questions.jsonl          {"question": "...", "id": ...} per line

The release is read as it is, quirks included:

- ``roles/instructions/default.json`` holds the default prompts; an empty prompt there means *no
  system prompt at all* (the paper's first default condition). Empty prompts are allowed in that
  file only.
- A default prompt may contain ``{model_name}``; ``default_prompts`` fills it with the model's
  display name.
- The questions file may repeat a question text under two ids: ids must stay unique, the text may
  repeat, and the loader warns (``CatalogueWarning``) naming the ids.
- Each role's and trait's judge prompt (``eval_prompt``, a template with ``{question}`` and
  ``{answer}`` that carries the description the judge needs) is kept on ``Role.eval_prompt`` /
  ``Trait.eval_prompt`` for the LLM judge. Other fields (``questions``...) are ignored.

Every file is validated on load; an error names the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "Role",
    "Trait",
    "Question",
    "Catalogue",
    "CatalogueError",
    "CatalogueWarning",
    "fill_model_name",
    "DEFAULT_PROMPTS",
    "default_prompts",
    "load_catalogue",
    "load_json_data",
    "with_article",
    "pick_roles",
    "PAPER_ASSISTANT_END",
    "PAPER_FAR_END",
]

#: The paper's default set: no system prompt, then four prompts that ask the model to be itself.
DEFAULT_PROMPTS: tuple[str, ...] = (
    "",
    "You are an AI assistant.",
    "You are a large language model.",
    "You are {model_name}.",
    "Respond as yourself.",
)

CATEGORIES = ("profession", "archetype", "fictional", "mythical", "nonhuman")

#: Roles the paper reports at the Assistant end and at the far end of PC1.
PAPER_ASSISTANT_END = ("evaluator", "reviewer", "consultant", "generalist", "analyst")
PAPER_FAR_END = ("bard", "ghost", "leviathan", "hermit", "pilgrim", "actor", "eldritch", "whale")


class CatalogueError(ValueError):
    """A catalogue file is malformed; the message names the file and the field."""


class CatalogueWarning(UserWarning):
    """A catalogue file has a quirk the loader accepts (a question text under two ids)."""


@dataclass(frozen=True)
class Role:
    """A role: ``name`` (lowercase, underscores), ``category``, one-line ``description``, system ``prompts``.

    ``eval_prompt`` is the release's judge prompt for this role (a template with ``{question}``
    and ``{answer}``), ``""`` when the catalogue has none (the built-in one).
    """

    name: str
    category: str
    description: str
    prompts: tuple[str, ...]
    eval_prompt: str = ""

    @property
    def label(self) -> str:
        """The name as words: ``"tax_accountant"`` -> ``"tax accountant"``."""
        return self.name.replace("_", " ")


@dataclass(frozen=True)
class Trait:
    """A trait with ``pairs`` of (positive, negative) system prompts; ``eval_prompt`` as for ``Role``."""

    name: str
    description: str
    pairs: tuple[tuple[str, str], ...]
    eval_prompt: str = ""


@dataclass(frozen=True)
class Question:
    """An extraction question any role could answer."""

    id: int
    text: str


@dataclass(frozen=True)
class Catalogue:
    """Roles, traits, questions and default prompts, as loaded and validated."""

    roles: tuple[Role, ...]
    traits: tuple[Trait, ...]
    questions: tuple[Question, ...]
    defaults: tuple[str, ...] = DEFAULT_PROMPTS
    source: str = "persona_axis (built in)"

    def role(self, name: str) -> Role:
        for r in self.roles:
            if r.name == name:
                return r
        raise KeyError(f"no role {name!r} in the catalogue ({len(self.roles)} roles from {self.source})")

    @property
    def role_names(self) -> list[str]:
        return [r.name for r in self.roles]

    def fingerprint(self) -> str:
        """sha256 of the whole content: part of every cache key that depends on the catalogue.

        Judge prompts (``eval_prompt``) count where a catalogue has them; a catalogue without any
        (the built-in one) hashes as it did before they were read.
        """
        parts: list[Any] = [
            [(r.name, r.description, r.prompts) for r in self.roles],
            [(t.name, t.pairs) for t in self.traits],
            [(q.id, q.text) for q in self.questions],
            self.defaults,
        ]
        if any(r.eval_prompt for r in self.roles) or any(t.eval_prompt for t in self.traits):
            parts.append([[r.eval_prompt for r in self.roles], [t.eval_prompt for t in self.traits]])
        blob = json.dumps(parts, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def with_article(noun: str) -> str:
    """``"evaluator"`` -> ``"an evaluator"``, ``"tax accountant"`` -> ``"a tax accountant"``."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def pick_roles(cat: Catalogue, n: int | None) -> list[str] | None:
    """``n`` roles spread over the catalogue, always including the paper's PC1 end roles.

    ``None`` means all roles (returned as ``None`` so that job lists stay "all roles").
    """
    if n is None or n >= len(cat.roles):
        return None
    must = [r for r in PAPER_ASSISTANT_END + PAPER_FAR_END if r in cat.role_names][:n]
    rest = [r for r in cat.role_names if r not in must]
    step = max(1, len(rest) // max(1, n - len(must)))
    return sorted(must + rest[::step][: n - len(must)])


def fill_model_name(text: str, display_name: str) -> str:
    """``text`` with every ``{model_name}`` replaced by ``display_name`` (other braces left alone)."""
    return text.replace("{model_name}", display_name)


def default_prompts(display_name: str, defaults: tuple[str, ...] = DEFAULT_PROMPTS) -> list[str | None]:
    """The default prompts for one model, ``None`` standing for "no system prompt".

    An empty (or all-whitespace) prompt means no system prompt; ``{model_name}`` is filled with
    ``display_name``.
    """
    return [fill_model_name(p, display_name) if p.strip() else None for p in defaults]


# ----------------------------------------------------------------------------- validation
def _str(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where}: field {field!r} must be a non-empty string, got {value!r}")
    if value != value.strip():
        raise CatalogueError(f"{where}: field {field!r} has leading or trailing whitespace")
    return value


def _list(value: Any, where: str, field: str, n: int | None = None) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise CatalogueError(f"{where}: field {field!r} must be a non-empty list")
    if n is not None and len(value) != n:
        raise CatalogueError(f"{where}: field {field!r} must have {n} entries, has {len(value)}")
    return value


def _unique(items: list[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for x in items:
        if x in seen:
            raise CatalogueError(f"{where}: duplicate {what} {x[:80]!r}")
        seen.add(x)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CatalogueError(f"{path}: not valid JSON ({e})") from None


def load_json_data(name: str) -> Any:
    """A JSON file shipped in ``persona_axis/data`` (e.g. ``"prefills.json"``)."""
    return json.loads(
        resources.files("persona_axis").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    )


def _repeated_questions(questions: tuple[Question, ...]) -> dict[str, list[int]]:
    """Question texts that occur under more than one id, with their ids."""
    ids: dict[str, list[int]] = {}
    for q in questions:
        ids.setdefault(q.text, []).append(q.id)
    return {t: i for t, i in ids.items() if len(i) > 1}


def _check(
    cat: Catalogue,
    counts: tuple[int, int, int] | None,
    prompts_per_role: int | None,
    *,
    repeated_questions: str = "error",
) -> Catalogue:
    where = cat.source
    _unique([r.name for r in cat.roles], where, "role name")
    _unique([t.name for t in cat.traits], where, "trait name")
    _unique([str(q.id) for q in cat.questions], where, "question id")
    repeats = _repeated_questions(cat.questions)
    if repeats and repeated_questions == "error":
        text, ids = next(iter(repeats.items()))
        raise CatalogueError(f"{where}: duplicate question {text[:80]!r} (ids {ids})")
    for text, ids in repeats.items():
        warnings.warn(
            f"{where}: the question {text[:80]!r} appears under ids {ids}; each id is kept",
            CatalogueWarning,
            stacklevel=4,
        )
    _unique([p for r in cat.roles for p in r.prompts], where, "role prompt")
    if prompts_per_role is not None:
        for r in cat.roles:
            if len(r.prompts) != prompts_per_role:
                raise CatalogueError(
                    f"{where}: role {r.name!r} has {len(r.prompts)} prompts, expected {prompts_per_role}"
                )
    if counts is not None:
        got = (len(cat.roles), len(cat.traits), len(cat.questions))
        if got != counts:
            raise CatalogueError(f"{where}: expected {counts} roles/traits/questions, found {got}")
    return cat


def _builtin() -> Catalogue:
    base = resources.files("persona_axis").joinpath("data")
    roles_doc = json.loads(base.joinpath("roles.json").read_text(encoding="utf-8"))
    traits_doc = json.loads(base.joinpath("traits.json").read_text(encoding="utf-8"))
    roles = []
    for i, r in enumerate(_list(roles_doc.get("roles"), "roles.json", "roles")):
        where = f"roles.json, role {i} ({r.get('name', '?')})"
        cat = _str(r.get("category"), where, "category")
        if cat not in CATEGORIES:
            raise CatalogueError(f"{where}: field 'category' must be one of {CATEGORIES}, got {cat!r}")
        roles.append(
            Role(
                _str(r.get("name"), where, "name"),
                cat,
                _str(r.get("description"), where, "description"),
                tuple(_str(p, where, "prompts") for p in _list(r.get("prompts"), where, "prompts")),
            )
        )
    traits = []
    for i, t in enumerate(_list(traits_doc.get("traits"), "traits.json", "traits")):
        where = f"traits.json, trait {i} ({t.get('name', '?')})"
        pairs = tuple(
            (_str(p.get("pos"), where, "pairs.pos"), _str(p.get("neg"), where, "pairs.neg"))
            for p in _list(t.get("pairs"), where, "pairs", 5)
        )
        traits.append(
            Trait(_str(t.get("name"), where, "name"), _str(t.get("description"), where, "description"), pairs)
        )
    questions = []
    lines = base.joinpath("questions.jsonl").read_text(encoding="utf-8").split("\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        q = json.loads(line)
        where = f"questions.jsonl, line {n}"
        if not isinstance(q.get("id"), int):
            raise CatalogueError(f"{where}: field 'id' must be an integer")
        questions.append(Question(q["id"], _str(q.get("question"), where, "question")))
    return _check(Catalogue(tuple(roles), tuple(traits), tuple(questions)), (275, 240, 240), 5)


def _eval_prompt(doc: dict[str, Any], where: str) -> str:
    """The optional ``eval_prompt`` of a release file ("" when absent)."""
    value = doc.get("eval_prompt", "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CatalogueError(f"{where}: field 'eval_prompt' must be a string, got {type(value).__name__}")
    return value.strip()


def _description(doc: dict[str, Any], f: Path) -> str:
    """The file's ``description`` if it has one, else its name as words."""
    value = doc.get("description")
    return value.strip() if isinstance(value, str) and value.strip() else f.stem.replace("_", " ")


def _instructions(f: Path) -> tuple[dict[str, Any], list[Any]]:
    doc = _read_json(f)
    if not isinstance(doc, dict):
        raise CatalogueError(f"{f}: expected a JSON object with a field 'instruction'")
    return doc, _list(doc.get("instruction"), str(f), "instruction")


def _release_defaults(f: Path) -> tuple[str, ...]:
    """The default prompts of ``default.json``, as given; an empty prompt means no system prompt."""
    _, items = _instructions(f)
    out = []
    for k, it in enumerate(items):
        value = it.get("pos") if isinstance(it, dict) else None
        if not isinstance(value, str):
            raise CatalogueError(
                f"{f}: field 'instruction[{k}].pos' must be a string (empty for no system prompt), got {value!r}"
            )
        out.append(value.strip())
    return tuple(out)


def _release_questions(qfile: Path) -> tuple[Question, ...]:
    questions = []
    for n, line in enumerate(qfile.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            raise CatalogueError(f"{qfile}, line {n}: not valid JSON ({e})") from None
        if not isinstance(q, dict):
            raise CatalogueError(f"{qfile}, line {n}: expected an object with 'question' and 'id'")
        qid = q.get("id", n - 1)
        try:
            qid = int(qid)
        except (TypeError, ValueError):
            raise CatalogueError(f"{qfile}, line {n}: field 'id' must be an integer, got {qid!r}") from None
        questions.append(Question(qid, _str(q.get("question"), f"{qfile}, line {n}", "question")))
    return tuple(questions)


def _release(path: Path) -> Catalogue:
    """Read the layout of the paper's public code release (see the module docstring)."""
    role_dir, trait_dir = path / "roles" / "instructions", path / "traits" / "instructions"
    if not role_dir.is_dir():
        raise CatalogueError(f"{path}: no folder roles/instructions/ (expected the paper's release layout)")
    roles, defaults = [], DEFAULT_PROMPTS
    for f in sorted(role_dir.glob("*.json")):
        if f.stem == "default":
            defaults = _release_defaults(f)
            continue
        doc, items = _instructions(f)
        prompts = tuple(
            _str(it.get("pos") if isinstance(it, dict) else None, str(f), f"instruction[{k}].pos")
            for k, it in enumerate(items)
        )
        roles.append(Role(f.stem, "profession", _description(doc, f), prompts, _eval_prompt(doc, str(f))))
    traits = []
    if trait_dir.is_dir():
        for f in sorted(trait_dir.glob("*.json")):
            doc, items = _instructions(f)
            pairs = tuple(
                (
                    _str(it.get("pos") if isinstance(it, dict) else None, str(f), f"instruction[{k}].pos"),
                    _str(it.get("neg") if isinstance(it, dict) else None, str(f), f"instruction[{k}].neg"),
                )
                for k, it in enumerate(items)
            )
            traits.append(Trait(f.stem, _description(doc, f), pairs, _eval_prompt(doc, str(f))))
    qfile = path / "extraction_questions.jsonl"
    if not qfile.exists():
        found = sorted(path.rglob("extraction_questions.jsonl"))
        if not found:
            raise CatalogueError(f"{path}: no extraction_questions.jsonl found")
        qfile = found[0]
    questions = _release_questions(qfile)
    if not roles:
        raise CatalogueError(f"{role_dir}: no role files")
    cat = Catalogue(tuple(roles), tuple(traits), questions, defaults, str(path))
    return _check(cat, None, None, repeated_questions="warn")


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load the built-in catalogue (``path=None``) or one in the paper's release layout."""
    if path is None or str(path) in ("", "builtin"):
        return _builtin()
    p = Path(path).expanduser()
    if not p.is_dir():
        raise CatalogueError(f"{p}: catalogue folder not found")
    return _release(p)
