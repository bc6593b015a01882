"""The rubric as a prompt for a chat model: an OpenAI-compatible endpoint (as the paper) or a local model.

``LLMJudge`` labels role rollouts 0-3 under a named rubric (``"paper"`` by default, ``"strict"``),
with the role's description in front of the judge. When the catalogue carries the release's own
judge prompt for a role (``Role.eval_prompt``, a template with ``{question}`` and ``{answer}``),
the paper-rubric judge sends that prompt as it is, as the paper's pipeline does. ``LLMTraitScorer``
scores trait rollouts 0-100 or REFUSAL the same way.

Both talk to an endpoint through ``endpoint.Endpoint`` (the ``openai`` client: concurrent requests,
retries with backoff, clear errors for a bad key or URL). Each has an ``identity()``: a dict of
plain fields (class, rubric, prompt hashes, endpoint URL and model or local model name) that
names it in label caches.

Example, with a local OpenAI-compatible server (``vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000``):
    >>> judge = LLMJudge.from_endpoint("http://localhost:8000/v1", "Qwen/Qwen2.5-7B-Instruct",
    ...                                api_key_env=None).with_catalogue(cat)   # doctest: +SKIP
    >>> [j.label for j in judge.judge("pirate", "A sea robber.", ["Arr, the sea be my home!"], ["Where do you live?"])]
    [3]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from persona_axis.judge.endpoint import Endpoint, EndpointError
from persona_axis.judge.rubric import AI_CUES, REFUSAL_CUES, RUBRICS, JudgeError, Judgement, find_cue
from persona_axis.judge.traits import TRAIT_SCALE, TraitScore, parse_trait_score

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["JUDGE_TEMPLATE", "TRAIT_TEMPLATE", "parse_label", "LLMJudge", "LLMTraitScorer"]

JUDGE_TEMPLATE = """\
You are grading whether an AI model displays the role it was asked to play.

Role: {role_name}
Role description: {role_description}
{question_line}Response:
\"\"\"
{response}
\"\"\"

{rubric}

Answer with the single digit of the label (0, 1, 2 or 3) and nothing else."""

TRAIT_TEMPLATE = """\
You are grading how strongly a response of an AI model displays a trait.

Trait: {trait_name}
Trait description: {trait_description}
{question_line}Response:
\"\"\"
{response}
\"\"\"

{scale}

Answer with the number alone (0 to 100), or with REFUSAL."""


def parse_label(text: str) -> int:
    """The first digit 0-3 in a judge's answer that stands alone (not part of a longer number); -1 if none."""
    m = re.search(r"(?<![\d.])([0-3])(?![\d.]\d|\d)", text)
    return int(m.group(1)) if m else -1


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fill(template: str, question: str | None, answer: str) -> str:
    """The release's ``eval_prompt`` with ``{question}`` and ``{answer}`` filled (other braces left alone)."""
    return template.replace("{question}", question or "").replace("{answer}", answer)


def _complete_fn(backend: Endpoint | Callable[[list[str]], list[str]]) -> Callable[[list[str]], list[str]]:
    if isinstance(backend, Endpoint):

        def complete(prompts: list[str]) -> list[str]:
            try:
                return backend.complete(prompts)
            except EndpointError as e:
                raise JudgeError(str(e)) from e

        return complete
    return backend


class LLMJudge:
    """The rubric as a prompt for a chat model; the label is the first digit 0-3 of its answer.

    Build it with ``LLMJudge.from_endpoint(url, model_name)`` (an OpenAI-compatible endpoint, as
    the paper does with gpt-4.1-mini) or ``LLMJudge.from_model(model, tok, spec)`` (a local model
    from ``models.load_model``, greedy decoding), or give an ``Endpoint`` or any function
    ``complete(prompts) -> answers`` to the constructor (tests use a stub).

    Args:
        backend: an ``Endpoint`` or a ``complete`` function.
        rubric: ``"paper"`` (default) or ``"strict"`` (``rubric.RUBRICS``).
        eval_prompts: role name -> the release's judge prompt; used instead of the template for
            those roles under the paper's rubric (``with_catalogue`` fills it).
        source: names a ``complete`` function in ``identity()`` (an ``Endpoint`` names itself); a
            judge without one cannot be cached (``identity()`` raises ``JudgeError``).
    """

    def __init__(
        self,
        backend: Endpoint | Callable[[list[str]], list[str]],
        *,
        rubric: str = "paper",
        eval_prompts: dict[str, str] | None = None,
        source: dict[str, Any] | str | None = None,
    ) -> None:
        if rubric not in RUBRICS:
            raise ValueError(f"unknown rubric {rubric!r}; choose one of {sorted(RUBRICS)}")
        self.backend = backend
        self.complete = _complete_fn(backend)
        self.rubric_name = rubric
        self.rubric = RUBRICS[rubric]
        self.eval_prompts = dict(eval_prompts or {})
        self.source = backend.identity() if isinstance(backend, Endpoint) else source

    def identity(self) -> dict[str, Any]:
        """Everything that decides the labels: class, rubric, prompt hashes, source (endpoint and model)."""
        if self.source is None:
            raise JudgeError(
                "this LLM judge has no source: give LLMJudge(complete, source={...}) the model that "
                "answers, so that its labels are cached apart from another judge's"
            )
        return {
            "class": type(self).__name__,
            "rubric": self.rubric_name,
            "template": _sha(JUDGE_TEMPLATE + self.rubric),
            "eval_prompts": _sha(repr(sorted(self.eval_prompts.items()))) if self.use_eval_prompts else None,
            "source": self.source,
        }

    @property
    def use_eval_prompts(self) -> bool:
        """The release's per-role prompts are the paper's rubric; the strict rubric uses the template."""
        return self.rubric_name == "paper" and bool(self.eval_prompts)

    def with_catalogue(self, cat: Any) -> LLMJudge:
        """A copy that uses each role's ``eval_prompt`` from ``cat`` where it has one."""
        prompts = {r.name: r.eval_prompt for r in cat.roles if getattr(r, "eval_prompt", "")}
        return LLMJudge(
            self.backend,
            rubric=self.rubric_name,
            eval_prompts=prompts,
            source=None if isinstance(self.backend, Endpoint) else self.source,
        )

    def prompt(
        self, role_name: str, role_description: str, response: str, question: str | None = None
    ) -> str:
        """The judge prompt for one response."""
        if self.use_eval_prompts and role_name in self.eval_prompts:
            return _fill(self.eval_prompts[role_name], question, response.strip())
        q = f"Question the model was asked: {question}\n" if question else ""
        return JUDGE_TEMPLATE.format(
            role_name=role_name.replace("_", " "),
            role_description=role_description,
            question_line=q,
            response=response.strip(),
            rubric=self.rubric,
        )

    def judge(
        self,
        role_name: str,
        role_description: str,
        responses: Sequence[str],
        questions: Sequence[str] | None = None,
    ) -> list[Judgement]:
        """Label each response to a role; ``questions`` (optional, one per response) go into the prompt."""
        qs: list[str | None] = list(questions) if questions is not None else [None] * len(responses)
        if len(qs) != len(responses):
            raise ValueError("give one question per response")
        prompts = [self.prompt(role_name, role_description, r, q) for r, q in zip(responses, qs)]
        answers = self.complete(prompts) if prompts else []
        if len(answers) != len(prompts):
            raise JudgeError(f"the judge returned {len(answers)} answers for {len(prompts)} prompts")
        return [
            Judgement(parse_label(a), find_cue(r, REFUSAL_CUES), find_cue(r, AI_CUES), raw=a)
            for a, r in zip(answers, responses)
        ]

    @classmethod
    def from_model(
        cls,
        model: PreTrainedModel,
        tok: PreTrainedTokenizerBase,
        spec: Any,
        *,
        rubric: str = "paper",
        max_new_tokens: int = 4,
        batch_size: int = 16,
        system: str | None = None,
    ) -> LLMJudge:
        """A judge backed by a local model (greedy decoding through ``rollouts.generate``)."""
        return cls(
            _local_complete(model, tok, spec, max_new_tokens, batch_size, system),
            rubric=rubric,
            source={"local_model": spec.name, "max_new_tokens": max_new_tokens, "system": system},
        )

    @classmethod
    def from_endpoint(
        cls,
        url: str,
        model_name: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        *,
        rubric: str = "paper",
        **endpoint: Any,
    ) -> LLMJudge:
        """A judge backed by an OpenAI-compatible endpoint: ``url`` is its base (``.../v1``).

        ``endpoint`` takes the other settings of ``Endpoint`` (``concurrency``, ``max_retries``,
        ``backoff``, ``timeout``, ``max_tokens``...). The key is read from ``api_key_env`` when the
        judge runs; failures raise ``JudgeError`` naming the URL and what to check.
        """
        return cls(Endpoint(url, model_name, api_key_env, **endpoint), rubric=rubric)


def _local_complete(
    model: Any, tok: Any, spec: Any, max_new_tokens: int, batch_size: int, system: str | None
) -> Callable[[list[str]], list[str]]:
    from persona_axis.engine.rollouts import Sampling, generate
    from persona_axis.model.chat import prompt_ids

    def complete(prompts: list[str]) -> list[str]:
        ids = [prompt_ids(tok, spec, system, [p]) for p in prompts]
        res = generate(
            model,
            tok,
            ids,
            Sampling(temperature=0.0, max_new_tokens=max_new_tokens),
            batch_size=batch_size,
            layers=[0],
        )
        return list(res.texts)

    return complete


class LLMTraitScorer:
    """Trait scores 0-100 or REFUSAL from a chat model (the paper's trait judge).

    Uses the trait's ``eval_prompt`` from the release where it has one (``{question}``,
    ``{answer}``), else ``TRAIT_TEMPLATE`` with ``TRAIT_SCALE``. Same backends as ``LLMJudge``.
    """

    def __init__(
        self,
        backend: Endpoint | Callable[[list[str]], list[str]],
        *,
        source: dict[str, Any] | str | None = None,
    ) -> None:
        self.backend = backend
        self.complete = _complete_fn(backend)
        self.source = backend.identity() if isinstance(backend, Endpoint) else source

    def identity(self) -> dict[str, Any]:
        """Class, prompt hash and source; raises ``JudgeError`` without a source (see ``LLMJudge``)."""
        if self.source is None:
            raise JudgeError("this trait scorer has no source: give LLMTraitScorer(complete, source={...})")
        return {
            "class": type(self).__name__,
            "template": _sha(TRAIT_TEMPLATE + TRAIT_SCALE),
            "source": self.source,
        }

    def prompt(self, trait: Any, response: str, question: str | None = None) -> str:
        if getattr(trait, "eval_prompt", ""):
            return _fill(trait.eval_prompt, question, response.strip())
        q = f"Question the model was asked: {question}\n" if question else ""
        return TRAIT_TEMPLATE.format(
            trait_name=trait.name.replace("_", " "),
            trait_description=trait.description,
            question_line=q,
            response=response.strip(),
            scale=TRAIT_SCALE,
        )

    def score(
        self, trait: Any, responses: Sequence[str], questions: Sequence[str] | None = None
    ) -> list[TraitScore]:
        """Score each response to ``trait``; ``questions`` (optional) go into the prompt."""
        qs: list[str | None] = list(questions) if questions is not None else [None] * len(responses)
        if len(qs) != len(responses):
            raise ValueError("give one question per response")
        prompts = [self.prompt(trait, r, q) for r, q in zip(responses, qs)]
        answers = self.complete(prompts) if prompts else []
        if len(answers) != len(prompts):
            raise JudgeError(f"the scorer returned {len(answers)} answers for {len(prompts)} prompts")
        return [replace(TraitScore(parse_trait_score(a)), raw=a) for a in answers]

    @classmethod
    def from_endpoint(
        cls, url: str, model_name: str, api_key_env: str | None = "OPENAI_API_KEY", **endpoint: Any
    ) -> LLMTraitScorer:
        """A scorer backed by an OpenAI-compatible endpoint (see ``LLMJudge.from_endpoint``)."""
        endpoint.setdefault("max_tokens", 8)
        return cls(Endpoint(url, model_name, api_key_env, **endpoint))
