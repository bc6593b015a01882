"""The rubric as a prompt for a chat model: a local model or an OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .rubric import AI_CUES, REFUSAL_CUES, RUBRIC, Judgement, JudgeError, find_cue

__all__ = ["JUDGE_TEMPLATE", "parse_label", "LLMJudge"]

JUDGE_TEMPLATE = """\
You are grading whether an AI model played the role it was asked to play.

Role: {role_name}
Role description: {role_description}
{question_line}Response:
\"\"\"
{response}
\"\"\"

{rubric}

Answer with the single digit of the label (0, 1, 2 or 3) and nothing else."""


def parse_label(text: str) -> int:
    """The first digit 0-3 in a judge's answer that stands alone (not part of a longer number); -1 if none."""
    m = re.search(r"(?<![\d.])([0-3])(?![\d.]\d|\d)", text)
    return int(m.group(1)) if m else -1


class LLMJudge:
    """The rubric as a prompt for a chat model; the label is the first digit 0-3 of its answer.

    Build it with ``LLMJudge.from_model(model, tok, spec)`` (a local model from
    ``models.load_model``, greedy decoding) or ``LLMJudge.from_endpoint(url, model_name)`` (an
    OpenAI-compatible ``/chat/completions`` endpoint, called with urllib). Or give any function
    ``complete(prompts) -> answers`` to the constructor (tests use a stub).
    """

    def __init__(self, complete: Callable[[list[str]], list[str]], *, rubric: str = RUBRIC,
                 source: Mapping[str, Any] | None = None) -> None:
        self.complete = complete
        self.rubric = rubric
        self.source = dict(source) if source is not None else None

    def identity(self) -> dict[str, Any]:
        """Everything that decides its labels, for cache keys: the rubric, the prompt template
        and ``source`` (the model and its weights, or the endpoint and model name, and the
        decoding settings). A judge built from a bare function must be given ``source``."""
        if self.source is None:
            raise JudgeError("this LLMJudge has no source, so its labels cannot be cached apart from another "
                             "judge's: build it with from_model / from_endpoint, or pass source={'model': ...}")
        return {"rubric": self.rubric, "template": JUDGE_TEMPLATE, "source": self.source}

    def prompt(self, role_name: str, role_description: str, response: str, question: str | None = None) -> str:
        """The judge prompt for one response."""
        q = f"Question the model was asked: {question}\n" if question else ""
        return JUDGE_TEMPLATE.format(role_name=role_name.replace("_", " "), role_description=role_description,
                                     question_line=q, response=response.strip(), rubric=self.rubric)

    def judge(self, role_name: str, role_description: str, responses: Sequence[str],
              questions: Sequence[str] | None = None) -> list[Judgement]:
        """Label each response to a role; ``questions`` (optional, one per response) go into the prompt."""
        qs: list[str | None] = list(questions) if questions is not None else [None] * len(responses)
        if len(qs) != len(responses):
            raise ValueError("give one question per response")
        prompts = [self.prompt(role_name, role_description, r, q) for r, q in zip(responses, qs)]
        answers = self.complete(prompts) if prompts else []
        if len(answers) != len(prompts):
            raise JudgeError(f"the judge returned {len(answers)} answers for {len(prompts)} prompts")
        return [Judgement(parse_label(a), find_cue(r, REFUSAL_CUES), find_cue(r, AI_CUES), raw=a)
                for a, r in zip(answers, responses)]

    @classmethod
    def from_model(cls, model: Any, tok: Any, spec: Any, *, max_new_tokens: int = 4, batch_size: int = 16,
                   system: str | None = None) -> LLMJudge:
        """A judge backed by a local model (greedy decoding through ``rollouts.generate``)."""
        from ..chat import prompt_ids
        from ..fingerprint import model_id
        from ..rollouts import Sampling, generate

        def complete(prompts: list[str]) -> list[str]:
            ids = [prompt_ids(tok, spec, system, [p]) for p in prompts]
            res = generate(model, tok, ids, Sampling(temperature=0.0, max_new_tokens=max_new_tokens),
                           batch_size=batch_size, layers=[0])
            return list(res.texts)

        return cls(complete, source={"model": model_id(spec), "system": system, "max_new_tokens": max_new_tokens,
                                     "decoding": "greedy"})

    @classmethod
    def from_endpoint(cls, url: str, model_name: str, api_key_env: str | None = "OPENAI_API_KEY", *,
                      timeout: float = 60.0, max_tokens: int = 4) -> LLMJudge:
        """A judge backed by an OpenAI-compatible endpoint: ``url`` is its base (``.../v1``).

        The key is read from the environment variable ``api_key_env`` when the judge runs (none is
        sent if it is unset or ``api_key_env`` is ``None``). One request per response, temperature 0.
        Network and HTTP errors raise ``JudgeError`` naming the URL.
        """
        endpoint = url.rstrip("/")
        if not endpoint.endswith("/chat/completions"):
            endpoint += "/chat/completions"

        def complete(prompts: list[str]) -> list[str]:
            headers = {"Content-Type": "application/json"}
            key = os.environ.get(api_key_env) if api_key_env else None
            if key:
                headers["Authorization"] = f"Bearer {key}"
            answers = []
            for p in prompts:
                body = json.dumps({"model": model_name, "temperature": 0, "max_tokens": max_tokens,
                                   "messages": [{"role": "user", "content": p}]}).encode()
                req = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(req, timeout=timeout) as resp:
                        data = json.loads(resp.read().decode("utf-8"))
                except urllib.error.HTTPError as e:
                    detail = e.read().decode("utf-8", "replace")[:300]
                    raise JudgeError(f"judge endpoint {endpoint} answered HTTP {e.code}: {detail}") from e
                except (urllib.error.URLError, TimeoutError, OSError) as e:
                    raise JudgeError(f"cannot reach the judge endpoint {endpoint}: {e}") from e
                try:
                    answers.append(str(data["choices"][0]["message"]["content"]))
                except (KeyError, IndexError, TypeError) as e:
                    raise JudgeError(f"unexpected answer from {endpoint}: {str(data)[:300]}") from e
            return answers

        return cls(complete, source={"endpoint": endpoint, "model": model_name, "max_tokens": max_tokens,
                                     "temperature": 0})
