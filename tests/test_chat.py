"""Chat rendering: every assistant span decodes to exactly the response, for each embedded model."""

from __future__ import annotations

import pytest

from persona_axis.model.chat import base_transcript, messages, prompt_ids, render
from persona_axis.model.models import REGISTRY, dequantise

CONVERSATIONS = [
    [
        "Hello there, who are you?",
        "I am a pirate, matey! Arr.",
        "Where is the treasure?",
        "Buried on the island, under the palm tree.\nSecond line.",
    ],
    ["Qu'est-ce que c'est?", "C'est un chat. Voilà!", "Ok", "1. one\n2. two\n\n- three"],
    ["Write code", "```python\nprint('hi')\n```"],
]


@pytest.fixture(scope="module", params=sorted(REGISTRY))
def tokenizer_and_spec(request: pytest.FixtureRequest):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(dequantise(request.param)), REGISTRY[request.param]


@pytest.mark.real_model
@pytest.mark.parametrize("system", [None, "You are a lighthouse keeper."])
@pytest.mark.parametrize("conv", CONVERSATIONS)
def test_spans_decode_exactly(tokenizer_and_spec, system, conv) -> None:
    tok, spec = tokenizer_and_spec
    r = render(tok, spec, system, conv)
    assert len(r.spans) == len(conv) // 2
    for k, (a, b) in enumerate(r.spans):
        assert tok.decode(r.input_ids[a:b]) == conv[2 * k + 1]
    if system:
        assert system in r.text


@pytest.mark.real_model
def test_prompt_is_prefix_of_rendered_conversation(tokenizer_and_spec) -> None:
    tok, spec = tokenizer_and_spec
    conv = CONVERSATIONS[0]
    p = prompt_ids(tok, spec, "You are a whale.", conv[:1])
    r = render(tok, spec, "You are a whale.", conv)
    assert r.input_ids[: len(p)] == p
    assert r.spans[0][0] == len(p)


def test_system_prompt_folded_when_template_has_no_system_role() -> None:
    msgs = messages("You are a ghost.", ["Hi", "Boo", "Why?"], system_role=False)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == "You are a ghost.\n\nHi"
    msgs = messages("You are a ghost.", ["Hi"], system_role=True)
    assert msgs[0] == {"role": "system", "content": "You are a ghost."}
    assert messages("", ["Hi"])[0]["role"] == "user"


def test_base_transcript_format() -> None:
    text = base_transcript("You are a bard.", ["Sing", "La la"])
    assert text == "You are a bard.\n\nUser:\nSing\n\nReply:\nLa la"
    assert base_transcript(None, ["Sing"], add_generation_prompt=True).endswith("Reply:\n")
    with pytest.raises(ValueError, match="user turn"):
        base_transcript(None, ["Sing", "La"], add_generation_prompt=True)
    with pytest.raises(ValueError, match="at least one"):
        messages(None, [])
