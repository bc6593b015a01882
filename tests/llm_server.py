"""A tiny OpenAI-compatible chat server on localhost for the LLM-judge tests (standard library only).

It answers ``POST /v1/chat/completions``. What it answers is decided by ``answer(prompt)``; it can
demand a key, fail the first requests with a chosen HTTP status, and records how many requests
were in flight at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from persona_axis.site.serve import running


@dataclass
class ServerState:
    answer: Callable[[str], str]
    key: str | None = None  # required bearer token, None: any
    fail_first: int = 0  # this many requests get fail_status first
    fail_status: int = 503
    delay: float = 0.02  # seconds per request, so that requests overlap
    by_model: dict[str, str] | None = None  # a fixed answer per requested model name, before ``answer``
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    prompts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            if state.key is not None and self.headers.get("Authorization") != f"Bearer {state.key}":
                self._send(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
                return
            with state.lock:
                state.requests += 1
                fail = state.requests <= state.fail_first
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(state.delay)
                if fail:
                    self._send(
                        state.fail_status, {"error": {"message": "try again later", "type": "server_error"}}
                    )
                    return
                prompt = body["messages"][-1]["content"]
                with state.lock:
                    state.prompts.append(prompt)
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "m"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {
                                    "role": "assistant",
                                    "content": (state.by_model or {}).get(body.get("model", ""), None)
                                    or state.answer(prompt),
                                },
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )
            finally:
                with state.lock:
                    state.in_flight -= 1

    return Handler


@contextmanager
def chat_server(state: ServerState) -> Iterator[str]:
    """Serve ``state`` on a free localhost port; yields the base URL (``http://127.0.0.1:PORT/v1``)."""
    with running(ThreadingHTTPServer(("127.0.0.1", 0), _handler(state)), "llm-server") as base:
        yield base + "/v1"
