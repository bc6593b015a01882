"""The library's docstring examples, run as doctests on the tests' tiny random models.

Every module in ``RUN`` has its ``Example:`` executed with ``model``, ``tok`` and ``spec`` (a 4-layer
random llama of hidden size 64, its byte tokenizer and spec) and ``torch`` in its namespace. The
examples that still carry ``# doctest: +SKIP`` need what the tests do not have: a real model from
the cache, a GPU cluster, a judge's endpoint, or a minute of machine-speed measurement.
"""

from __future__ import annotations

import doctest
import importlib

import pytest
import torch
from helpers import tiny_llama_factory

RUN = [
    "model.hooks",
    "model.chat",
    "engine.decode",
    "engine.rollouts",
    "persona.axis",
    "analysis.measures",
    "claims.samplesize",
    "claims.rules",
    "claims.registry",
    "site.timing",
    "site.rehearse",
]


@pytest.mark.parametrize("name", RUN)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"persona_axis.{name}")
    model, tok, spec = tiny_llama_factory()
    result = doctest.testmod(
        module,
        extraglobs={"model": model, "tok": tok, "spec": spec, "torch": torch},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted > 0, f"{name} has no example to run"
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples of {name} failed (output above)"
    )
