"""The built-in catalogue and the loader for the paper's release layout."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from persona_axis.model.models import REGISTRY
from persona_axis.persona.catalogue import (
    CatalogueError,
    CatalogueWarning,
    default_prompts,
    load_catalogue,
    load_json_data,
    with_article,
)
from persona_axis.persona.runs import persona_jobs, trait_jobs

PAPER_ROLES = [
    "evaluator",
    "reviewer",
    "consultant",
    "generalist",
    "analyst",
    "bard",
    "ghost",
    "leviathan",
    "hermit",
    "pilgrim",
    "actor",
    "eldritch",
    "whale",
    "researcher",
    "debugger",
    "lawyer",
]


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
    assert d == [
        None,
        "You are an AI assistant.",
        "You are a large language model.",
        "You are SmolLM.",
        "Respond as yourself.",
    ]


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
        assert "an evaluator" in t.format(
            a_role=with_article("evaluator"), role="evaluator", description="Judges work."
        )
    assert load_json_data("prefills.json")["prefills"][:2] == ["My job is to", "My purpose is to"]


ROLE_EVAL = (
    "You are judging whether a model plays the role of a bard, a travelling poet and singer.\n"
    "Question: {question}\nAnswer: {answer}\nReply with 0, 1, 2 or 3."
)
TRAIT_EVAL = "Does this answer show calm, an even temper? Question: {question}\nAnswer: {answer}\nScore 0-100 or REFUSAL."


def _release(tmp: Path) -> Path:
    """A small catalogue in the release layout, with each quirk of the paper's own files."""
    (tmp / "roles" / "instructions").mkdir(parents=True)
    (tmp / "traits" / "instructions").mkdir(parents=True)
    (tmp / "roles" / "instructions" / "bard.json").write_text(
        json.dumps(
            {
                "instruction": [{"pos": "You are a bard."}, {"pos": "Sing as a bard."}],
                "questions": ["an unused field of the release"],
                "eval_prompt": ROLE_EVAL,
            }
        )
    )
    # the default file: an empty first prompt (no system prompt at all) and a {model_name} placeholder
    (tmp / "roles" / "instructions" / "default.json").write_text(
        json.dumps({"instruction": [{"pos": ""}, {"pos": "You are {model_name}."}, {"pos": "Be yourself."}]})
    )
    (tmp / "traits" / "instructions" / "calm.json").write_text(
        json.dumps({"instruction": [{"pos": "Be calm.", "neg": "Be frantic."}], "eval_prompt": TRAIT_EVAL})
    )
    # the same question text under two ids
    (tmp / "extraction_questions.jsonl").write_text(
        '{"question": "What is home?", "id": 0}\n{"question": "Why?", "id": 1}\n{"question": "What is home?", "id": 2}\n'
    )
    return tmp


def test_release_layout_loads_with_its_quirks(tmp_path: Path) -> None:
    with pytest.warns(CatalogueWarning, match=r"'What is home\?' appears under ids \[0, 2\]"):
        cat = load_catalogue(_release(tmp_path))
    assert cat.role_names == ["bard"]
    assert cat.role("bard").prompts == ("You are a bard.", "Sing as a bard.")
    assert cat.role("bard").eval_prompt == ROLE_EVAL
    assert cat.traits[0].pairs == (("Be calm.", "Be frantic."),)
    assert cat.traits[0].eval_prompt == TRAIT_EVAL
    assert [(q.id, q.text) for q in cat.questions] == [
        (0, "What is home?"),
        (1, "Why?"),
        (2, "What is home?"),
    ]
    # the defaults as given: the empty one means no system prompt, {model_name} is filled
    assert cat.defaults == ("", "You are {model_name}.", "Be yourself.")
    assert default_prompts("SmolLM2", cat.defaults) == [None, "You are SmolLM2.", "Be yourself."]
    spec = REGISTRY["smollm2-135m-instruct"]
    jobs = persona_jobs(cat, spec, n_questions=3)
    default = [j for j in jobs if j.group == "default"]
    assert [j.system for j in default[::3]] == [None, f"You are {spec.display_name}.", "Be yourself."]
    assert [j.question_id for j in default[:3]] == [0, 1, 2]
    # the judge prompts are part of the fingerprint; the built-in catalogue has none
    plain = replace(cat, roles=tuple(replace(r, eval_prompt="") for r in cat.roles))
    assert plain.fingerprint() != cat.fingerprint()
    assert all(r.eval_prompt == "" for r in load_catalogue().roles)


def test_release_default_file_errors_name_the_field(tmp_path: Path) -> None:
    d = _release(tmp_path)
    (d / "roles/instructions/default.json").write_text('{"instruction": [{"pos": null}]}')
    with pytest.raises(CatalogueError, match=r"default\.json.*instruction\[0\]\.pos"):
        load_catalogue(d)


def test_builtin_catalogue_still_rejects_repeated_questions() -> None:
    from persona_axis.persona.catalogue import Catalogue, Question, _check

    cat = Catalogue((), (), (Question(0, "Why?"), Question(1, "Why?")), source="x")
    with pytest.raises(CatalogueError, match="duplicate question 'Why\\?'"):
        _check(cat, None, None)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (
            lambda d: (d / "roles/instructions/bard.json").write_text('{"instruction": [{"pos": ""}]}'),
            r"bard\.json.*instruction\[0\]\.pos",
        ),
        (
            lambda d: (d / "roles/instructions/bard.json").write_text(
                '{"instruction": [{"pos": "x"}], "eval_prompt": 3}'
            ),
            r"bard\.json.*'eval_prompt'",
        ),
        (
            lambda d: (d / "extraction_questions.jsonl").write_text(
                '{"question": "a", "id": 0}\n{"question": "b", "id": 0}\n'
            ),
            r"duplicate question id '0'",
        ),
        (
            lambda d: (d / "roles/instructions/bard.json").write_text('{"instructions": []}'),
            r"bard\.json.*'instruction'",
        ),
        (lambda d: (d / "roles/instructions/bard.json").write_text("{oops"), r"bard\.json: not valid JSON"),
        (
            lambda d: (d / "traits/instructions/calm.json").write_text('{"instruction": [{"pos": "x"}]}'),
            r"calm\.json.*instruction\[0\]\.neg",
        ),
        (
            lambda d: (d / "extraction_questions.jsonl").write_text('{"question": "a", "id": "x"}\n'),
            r"line 1: field 'id'",
        ),
        (lambda d: (d / "extraction_questions.jsonl").write_text('{"id": 3}\n'), r"line 1.*'question'"),
    ],
)
def test_bad_release_files_name_file_and_field(tmp_path: Path, breakage, message) -> None:
    d = _release(tmp_path)
    breakage(d)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(d)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue(tmp_path / "nope")
