"""Render a system prompt and a conversation for any model, and find its assistant responses.

Three cases, chosen from the model's ``ModelSpec``:

- chat template with a system role (SmolLM2, Qwen2.5): the template as the model was trained;
- chat template without a system role (Gemma 2 in the paper): the system prompt is put in front
  of the first user message, separated by a blank line;
- no chat template (base models): ``base_transcript``, the one plain format the book uses for
  base models.

Note that some templates insert their own default system prompt when none is given (SmolLM2:
"You are a helpful AI assistant named SmolLM...", Qwen2.5: "You are Qwen..."). The book keeps
that behaviour: "no system prompt" means whatever the model sees by default.

Example:
    >>> r = render(tok, spec, "You are a pirate.", ["Hello", "Arr, hello."])
    >>> tok.decode(r.input_ids[slice(*r.spans[0])])
    'Arr, hello.'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from persona_axis.model.models import ModelSpec

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["Rendered", "messages", "render", "prompt_ids", "base_transcript", "BASE_USER", "BASE_REPLY"]

BASE_USER = "User:"
BASE_REPLY = "Reply:"


@dataclass(frozen=True)
class Rendered:
    """A rendered conversation.

    Attributes:
        text: the full text the model reads.
        input_ids: its token ids, ``(seq,)`` as a list.
        spans: ``[start, end)`` token indices of each assistant response, in order, template
            tokens excluded (``input_ids[start:end]`` decodes to exactly the response).
    """

    text: str
    input_ids: list[int]
    spans: list[tuple[int, int]]


def messages(system: str | None, turns: Sequence[str], *, system_role: bool = True) -> list[dict[str, str]]:
    """Chat messages from a system prompt and alternating user / assistant turns.

    ``turns[0]`` is the first user message, ``turns[1]`` the first response, and so on. Where
    ``system_role`` is false, a non-empty system prompt is folded into the first user turn.
    """
    if not turns:
        raise ValueError("a conversation needs at least one user turn")
    out: list[dict[str, str]] = []
    first = turns[0]
    if system:
        if system_role:
            out.append({"role": "system", "content": system})
        else:
            first = f"{system}\n\n{first}"
    for i, content in enumerate([first, *turns[1:]]):
        out.append({"role": "user" if i % 2 == 0 else "assistant", "content": content})
    return out


def base_transcript(system: str | None, turns: Sequence[str], *, add_generation_prompt: bool = False) -> str:
    """The plain transcript used for base models (no chat template).

    Format: the system prompt (if any), then one block per turn, ``"User:\n<text>"`` and
    ``"Reply:\n<text>"``, blocks separated by blank lines. The label sits on its own line so
    that the text starts at a token boundary. With ``add_generation_prompt`` it ends with
    ``"Reply:\n"`` so that a base model continues as the reply.
    """
    parts = [system.strip()] if system else []
    for i, content in enumerate(turns):
        parts.append(f"{BASE_USER if i % 2 == 0 else BASE_REPLY}\n{content}")
    if add_generation_prompt:
        if len(turns) % 2 == 0:
            raise ValueError("add_generation_prompt needs a conversation that ends with a user turn")
        parts.append(BASE_REPLY + "\n")
    return "\n\n".join(parts)


def _text(tok: Any, spec: ModelSpec, system: str | None, turns: Sequence[str], gen: bool) -> str:
    if spec.kind == "base" or not getattr(tok, "chat_template", None):
        return base_transcript(system, turns, add_generation_prompt=gen)
    msgs = messages(system, turns, system_role=spec.system_role)
    return str(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen))


def _encode(tok: Any, spec: ModelSpec, text: str, offsets: bool = False) -> Any:
    # chat templates carry their own special tokens; base transcripts get the tokenizer's BOS
    add_special = spec.kind == "base" or not getattr(tok, "chat_template", None)
    return tok(text, add_special_tokens=add_special, return_offsets_mapping=offsets)


def prompt_ids(
    tok: PreTrainedTokenizerBase, spec: ModelSpec, system: str | None, turns: Sequence[str]
) -> list[int]:
    """Token ids of a conversation that ends with a user turn, ready for the reply to be generated."""
    if len(turns) % 2 == 0:
        raise ValueError("the conversation must end with a user turn to generate a reply")
    return list(_encode(tok, spec, _text(tok, spec, system, turns, True))["input_ids"])


def render(
    tok: PreTrainedTokenizerBase, spec: ModelSpec, system: str | None, turns: Sequence[str]
) -> Rendered:
    """Render a conversation and locate every assistant response in tokens.

    Args:
        tok: a fast tokenizer (offsets are needed).
        spec: the model's spec (chat template or base transcript, system role or not).
        system: system prompt, or ``None`` / ``""`` for none.
        turns: alternating user / assistant texts, starting with a user turn.

    Raises:
        ValueError: if a response cannot be located exactly in tokens (for instance a response
            with leading or trailing whitespace that the template strips).
    """
    text = _text(tok, spec, system, turns, False)
    enc = _encode(tok, spec, text, offsets=True)
    ids: list[int] = list(enc["input_ids"])
    offs: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    spans: list[tuple[int, int]] = []
    cursor = 0
    for i in range(1, len(turns), 2):
        content = turns[i]
        prefix = _text(tok, spec, system, turns[:i], True)
        start_char = len(prefix) if text.startswith(prefix) and text.startswith(content, len(prefix)) else -1
        if start_char < 0:
            start_char = text.find(content, cursor)
        if start_char < 0 or not content:
            raise ValueError(f"response {i // 2} not found in the rendered text: {content[:60]!r}")
        end_char = start_char + len(content)
        cursor = end_char
        toks = [j for j, (a, b) in enumerate(offs) if b > a and a >= start_char and b <= end_char]
        if not toks:
            raise ValueError(f"response {i // 2} has no tokens of its own: {content[:60]!r}")
        span = (toks[0], toks[-1] + 1)
        if tok.decode(ids[span[0] : span[1]]) != content:
            raise ValueError(
                f"response {i // 2} does not align with token boundaries: {content[:60]!r}. "
                "Strip leading and trailing whitespace from responses."
            )
        spans.append(span)
    return Rendered(text=text, input_ids=ids, spans=spans)
