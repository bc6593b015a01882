"""An OpenAI-compatible chat endpoint for the LLM judges: concurrent requests, retries, clear errors.

The paper labels its rollouts with gpt-4.1-mini through the OpenAI API. ``Endpoint`` sends one
single-turn chat request per prompt to any server that speaks the OpenAI chat-completions
protocol (the OpenAI API, vLLM's ``vllm serve``, llama.cpp's ``llama-server``, Ollama ...), with
the ``openai`` client (``pip install 'persona-axis[llm]'``):

- ``concurrency`` requests in flight at once (threads sharing one client); answers come back in
  the order of the prompts;
- transient failures (connection errors, timeouts, HTTP 408 / 409 / 429 / 5xx) are retried
  ``max_retries`` times, waiting ``backoff * 2**attempt`` seconds (at most ``max_backoff``);
- a bad key (HTTP 401 / 403), a wrong URL or model name (HTTP 404) or a malformed request (400)
  fail at once with an ``EndpointError`` that says what to check.

Example (a local server started with ``vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000``):
    >>> ep = Endpoint("http://localhost:8000/v1", "Qwen/Qwen2.5-7B-Instruct", api_key_env=None)  # doctest: +SKIP
    >>> ep.complete(["Answer with one digit: 1 + 2 = ?"])
    ['3']
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

__all__ = ["Endpoint", "EndpointError", "RETRY_STATUS"]

#: HTTP statuses worth another try.
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class EndpointError(RuntimeError):
    """The endpoint could not answer: the message names the URL and what to check."""


@dataclass(frozen=True)
class Endpoint:
    """One model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Attributes:
        base_url: the API base, e.g. ``"https://api.openai.com/v1"`` or ``"http://localhost:8000/v1"``
            (a trailing ``/chat/completions`` is dropped).
        model: the model name the server expects (``"gpt-4.1-mini"``).
        api_key_env: environment variable holding the key, read when requests are sent;
            ``None`` (or an unset variable) sends the placeholder key ``"EMPTY"``, which local
            servers accept.
        concurrency: requests in flight at once.
        max_retries: further tries of a request after a transient failure.
        backoff, max_backoff: seconds to wait before retry ``k`` are ``min(backoff * 2**k, max_backoff)``.
        timeout: seconds per request.
        max_tokens, temperature: generation settings of every request (a judge answers briefly,
            greedily).
        sleep: the wait function (tests pass a fake); not part of the identity.
    """

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 8
    max_retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    timeout: float = 60.0
    max_tokens: int = 8
    temperature: float = 0.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def __post_init__(self) -> None:
        url = self.base_url.rstrip("/")
        if url.endswith("/chat/completions"):
            url = url[: -len("/chat/completions")]
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"the judge endpoint must be an http(s) URL such as http://localhost:8000/v1, got {self.base_url!r}"
            )
        object.__setattr__(self, "base_url", url)
        if not self.model.strip():
            raise ValueError("give the endpoint's model name (e.g. 'gpt-4.1-mini')")
        if self.concurrency < 1 or self.max_retries < 0:
            raise ValueError("concurrency must be >= 1 and max_retries >= 0")

    def identity(self) -> dict[str, Any]:
        """What decides the answers: URL, model and generation settings (no key, no timing)."""
        return {
            "endpoint": self.base_url,
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def _client(self) -> Any:
        try:
            import openai
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise EndpointError(
                "the LLM judge needs the openai client: pip install 'persona-axis[llm]'"
            ) from e
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return openai.OpenAI(
            base_url=self.base_url, api_key=key or "EMPTY", max_retries=0, timeout=self.timeout
        )

    def _one(self, client: Any, prompt: str, stop: threading.Event) -> str:
        import openai

        for attempt in range(self.max_retries + 1):
            if stop.is_set():
                raise EndpointError("cancelled after another request failed")
            try:
                out = client.chat.completions.create(
                    model=self.model,
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                )
            except openai.AuthenticationError as e:
                where = f"the environment variable {self.api_key_env}" if self.api_key_env else "api_key_env"
                raise EndpointError(f"{self.base_url} rejected the API key (HTTP 401); check {where}") from e
            except openai.PermissionDeniedError as e:
                raise EndpointError(
                    f"{self.base_url} refused access to model {self.model!r} (HTTP 403); "
                    "check the key's permissions"
                ) from e
            except openai.NotFoundError as e:
                raise EndpointError(
                    f"{self.base_url}/chat/completions answered HTTP 404 for model {self.model!r}: "
                    "check the URL (it should end in /v1) and the model name"
                ) from e
            except openai.APIStatusError as e:
                if e.status_code not in RETRY_STATUS or attempt == self.max_retries:
                    raise EndpointError(
                        f"{self.base_url} answered HTTP {e.status_code} "
                        f"(after {attempt + 1} tries): {str(e)[:300]}"
                    ) from e
            except openai.APIConnectionError as e:  # also timeouts
                if attempt == self.max_retries:
                    raise EndpointError(
                        f"cannot reach the judge endpoint {self.base_url} after {attempt + 1} tries "
                        f"({type(e).__name__}: {e}); is the server running, is the URL right?"
                    ) from e
            else:
                try:
                    return str(out.choices[0].message.content or "")
                except (AttributeError, IndexError, TypeError) as e:
                    raise EndpointError(f"unexpected answer from {self.base_url}: {str(out)[:300]}") from e
            self.sleep(min(self.backoff * 2**attempt, self.max_backoff))
        raise AssertionError("unreachable")  # pragma: no cover

    def complete(self, prompts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[str]:
        """One answer per prompt, in order. Raises ``EndpointError`` on the first failure that
        retries did not cure (requests not yet sent are cancelled)."""
        prompts = list(prompts)
        if not prompts:
            return []
        client = self._client()
        stop = threading.Event()
        answers: list[str | None] = [None] * len(prompts)
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            futures = {pool.submit(self._one, client, p, stop): i for i, p in enumerate(prompts)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    err = f.exception()
                    if err is not None:
                        stop.set()
                        for g in pending:
                            g.cancel()
                        raise err
                    answers[futures[f]] = f.result()
                    if progress is not None:
                        progress(1)
        return [a if a is not None else "" for a in answers]
