"""The OpenAI-compatible endpoint client, against a chat server on localhost started by the test."""

from __future__ import annotations

import socket

import pytest

from helpers import need_module
from llm_server import ServerState, chat_server
from persona_axis.judge.endpoint import Endpoint, EndpointError

need_module("openai")


def _echo_length(prompt: str) -> str:
    return str(len(prompt))


def test_answers_come_back_in_order_with_requests_in_parallel() -> None:
    state = ServerState(_echo_length, delay=0.05)
    prompts = ["x" * n for n in range(1, 13)]
    with chat_server(state) as url:
        ticks: list[int] = []
        out = Endpoint(url, "judge-model", api_key_env=None, concurrency=4).complete(
            prompts, progress=ticks.append
        )
    assert out == [str(n) for n in range(1, 13)]
    assert sum(ticks) == 12 and state.requests == 12
    assert 2 <= state.max_in_flight <= 4


def test_transient_failures_are_retried_with_backoff() -> None:
    waits: list[float] = []
    state = ServerState(_echo_length, fail_first=3, fail_status=503)
    with chat_server(state) as url:
        ep = Endpoint(
            url,
            "m",
            api_key_env=None,
            concurrency=1,
            max_retries=3,
            backoff=0.5,
            max_backoff=1.5,
            sleep=waits.append,
        )
        assert ep.complete(["abc"]) == ["3"]
    assert waits == [0.5, 1.0, 1.5]  # doubled each time, capped
    assert state.requests == 4


def test_retries_run_out_with_a_clear_error() -> None:
    state = ServerState(_echo_length, fail_first=10, fail_status=429)
    with chat_server(state) as url:
        ep = Endpoint(url, "m", api_key_env=None, max_retries=2, sleep=lambda s: None)
        with pytest.raises(EndpointError, match=r"answered HTTP 429 \(after 3 tries\)"):
            ep.complete(["abc"])


def test_a_bad_key_fails_at_once_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", "wrong")
    state = ServerState(_echo_length, key="right")
    with chat_server(state) as url:
        ep = Endpoint(
            url, "m", api_key_env="JUDGE_TEST_KEY", max_retries=5, sleep=lambda s: pytest.fail("no retry")
        )
        with pytest.raises(EndpointError, match="rejected the API key.*JUDGE_TEST_KEY"):
            ep.complete(["a", "b", "c"])
        monkeypatch.setenv("JUDGE_TEST_KEY", "right")
        assert ep.complete(["ab"]) == ["2"]


def test_a_wrong_url_path_says_to_check_the_url() -> None:
    state = ServerState(_echo_length)
    with chat_server(state) as url:
        ep = Endpoint(
            url.replace("/v1", "/api"), "m", api_key_env=None, sleep=lambda s: pytest.fail("no retry")
        )
        with pytest.raises(EndpointError, match="HTTP 404.*check the URL"):
            ep.complete(["a"])


def test_an_unreachable_server_is_retried_then_named() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    ep = Endpoint(
        f"http://127.0.0.1:{port}/v1", "m", api_key_env=None, max_retries=2, backoff=0.1, sleep=waits.append
    )
    with pytest.raises(
        EndpointError, match=rf"cannot reach the judge endpoint http://127.0.0.1:{port}/v1 after 3 tries"
    ):
        ep.complete(["a"])
    assert waits == [0.1, 0.2]


def test_bad_settings_are_refused_early() -> None:
    with pytest.raises(ValueError, match="http\\(s\\) URL"):
        Endpoint("localhost:8000", "m")
    with pytest.raises(ValueError, match="model name"):
        Endpoint("http://localhost:8000/v1", " ")
    ep = Endpoint("http://localhost:8000/v1/chat/completions/", "m")
    assert ep.base_url == "http://localhost:8000/v1"
    assert ep.identity() == {
        "endpoint": "http://localhost:8000/v1",
        "model": "m",
        "max_tokens": 8,
        "temperature": 0.0,
    }
