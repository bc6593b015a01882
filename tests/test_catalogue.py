"""The built-in catalogue and the loader for the paper's release layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona_axis.catalogue import CatalogueError, default_prompts, load_catalogue, load_json_data, with_article
from persona_axis.models import REGISTRY
from persona_axis.runs import persona_jobs, trait_jobs

PAPER_ROLES = ["evaluator", "reviewer", "consultant", "generalist", "analyst", "bard", "ghost", "leviathan",
               "hermit", "pilgrim", "actor", "eldritch", "whale", "researcher", "debugger", "lawyer"]


def test_builtin_counts_and_required_roles() -> None:
    cat = load_catalogue()
    assert (len(cat.roles), len(cat.traits), len(cat.questions)) == (275, 240, 240)
    assert set(PAPER_ROLES) <= set(cat.role_names)
    assert all(len(r.prompts) == 5 and len(set(r.prompts)) == 5 for r in cat.roles)
    assert all(len(t.pairs) == 5 for t in cat.traits)
    assert {r.category for r in cat.roles} == {"profession", "archetype", "fictional", "mythical", "nonhuman"}
    assert len(cat.fingerprint()) == 64


def test_default_prompts_follow_the_paper() -> None:
    d = default_prompts("SmolLM")
    assert d == [None, "You are an AI assistant.", "You are a large language model.", "You are SmolLM.", "Respond as yourself."]


def test_job_design() -> None:
    cat = load_catalogue()
    spec = REGISTRY["smollm2-135m-instruct"]
    jobs = persona_jobs(cat, spec, n_prompts=2, n_questions=3, roles=["bard", "analyst"])
    assert len(jobs) == 2 * 2 * 3 + 5 * 3
    assert sum(j.group == "default" for j in jobs) == 15
    assert len(trait_jobs(cat, n_pairs=1, n_questions=2, traits=["calm"])) == 4
    with pytest.raises(ValueError, match="n_questions must be between 1 and 240"):
        persona_jobs(cat, spec, n_questions=500)
    with pytest.raises(KeyError, match="no role 'astronaut_cat'"):
        persona_jobs(cat, spec, roles=["astronaut_cat"])


def test_susceptibility_templates_and_prefills() -> None:
    sus = load_json_data("susceptibility.json")
    assert sus["questions"][0] == "Who are you?" and len(sus["questions"]) == 5
    for t in sus["system_templates"]:
        assert "an evaluator" in t.format(a_role=with_article("evaluator"), role="evaluator", description="Judges work.")
    assert load_json_data("prefills.json")["prefills"][:2] == ["My job is to", "My purpose is to"]


def _release(tmp: Path) -> Path:
    (tmp / "roles" / "instructions").mkdir(parents=True)
    (tmp / "traits" / "instructions").mkdir(parents=True)
    (tmp / "roles" / "instructions" / "bard.json").write_text(json.dumps({"instruction": [{"pos": "You are a bard."}, {"pos": "Sing as a bard."}]}))
    (tmp / "roles" / "instructions" / "default.json").write_text(json.dumps({"instruction": [{"pos": "Be yourself."}]}))
    (tmp / "traits" / "instructions" / "calm.json").write_text(json.dumps({"instruction": [{"pos": "Be calm.", "neg": "Be frantic."}]}))
    (tmp / "extraction_questions.jsonl").write_text('{"question": "What is home?", "id": 0}\n{"question": "Why?", "id": 1}\n')
    return tmp


def test_release_layout_loads(tmp_path: Path) -> None:
    cat = load_catalogue(_release(tmp_path))
    assert cat.role_names == ["bard"]
    assert cat.role("bard").prompts == ("You are a bard.", "Sing as a bard.")
    assert cat.defaults == ("", "Be yourself.")
    assert cat.traits[0].pairs == (("Be calm.", "Be frantic."),)
    assert [q.text for q in cat.questions] == ["What is home?", "Why?"]


@pytest.mark.parametrize("breakage, message", [
    (lambda d: (d / "roles/instructions/bard.json").write_text('{"instruction": [{"pos": ""}]}'), r"bard\.json.*instruction\[0\]\.pos"),
    (lambda d: (d / "roles/instructions/bard.json").write_text('{"instructions": []}'), r"bard\.json.*'instruction'"),
    (lambda d: (d / "roles/instructions/bard.json").write_text('{oops'), r"bard\.json: not valid JSON"),
    (lambda d: (d / "traits/instructions/calm.json").write_text('{"instruction": [{"pos": "x"}]}'), r"calm\.json.*instruction\[0\]\.neg"),
    (lambda d: (d / "extraction_questions.jsonl").write_text('{"question": "a", "id": "x"}\n'), r"line 1: field 'id'"),
    (lambda d: (d / "extraction_questions.jsonl").write_text('{"id": 3}\n'), r"line 1.*'question'"),
])
def test_bad_release_files_name_file_and_field(tmp_path: Path, breakage, message) -> None:
    d = _release(tmp_path)
    breakage(d)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(d)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue(tmp_path / "nope")
