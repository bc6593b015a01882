"""Forward hooks on decoder layers, always behind context managers.

Every hook here reads or rewrites the *output* of a decoder layer, i.e. the residual stream
after that layer's attention and MLP blocks ("post-MLP residual", the activation the paper
uses). Layer ``i`` means ``find_layers(model)[i]``, counted from 0.

Three context managers, each registering its hooks inside ``try`` and removing all of them in
``finally`` (also when registering a later hook fails, and when the body raises):

- ``record(model, layers)``: collects each listed layer's output, keyed by the layer asked for.
- ``steer(model, vector, coeff, layers)``: ``h <- h + coeff * vector`` at every position.
- ``cap(model, vector, tau, layers)``: the paper's floor ``h <- h - v * min(<h, v> - tau, 0)``
  with ``v`` the unit vector; or, with ``kind="ceiling"``, ``h <- h - v * max(<h, v> - tau, 0)``.

Decoder layers return a plain tensor in transformers 5 and a tuple in 4.x; both are handled.

Example (``model``: a 4-layer random llama of hidden size 64, as the tests build it):
    >>> with record(model, [1, 3]) as rec:
    ...     _ = model(input_ids=torch.tensor([[5, 6, 7, 8]]))
    >>> tuple(rec.stacked(3).shape)                    # (batch, seq, hidden)
    (1, 4, 64)
    >>> model.model.layers[3]._forward_hooks          # the hooks came off with the block
    OrderedDict()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import torch
from torch import nn

__all__ = [
    "find_layers",
    "check_layers",
    "Recording",
    "record",
    "add_layer_hooks",
    "steer",
    "cap",
    "cap_transform",
]

PerLayer = Union[torch.Tensor, Mapping[int, torch.Tensor]]
Scalar = Union[float, Mapping[int, float]]

_LAYER_PATHS = (
    "model.layers",  # llama, qwen2, qwen3, mistral, gemma, gemma2, gemma3_text
    "model.language_model.layers",  # gemma3 multimodal wrappers
    "language_model.model.layers",
    "model.decoder.layers",  # opt
    "transformer.h",  # gpt2, gpt-j
    "gpt_neox.layers",
)


def find_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layers of a causal LM, in order.

    Supports the llama, qwen2, qwen3, gemma2 and gemma3 families (the book's and the paper's
    models) and a few others. This is the only place that knows where the layers live.
    """
    for path in _LAYER_PATHS:
        obj: Any = model
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0:
            return obj
    raise ValueError(
        f"cannot find the decoder layers of {type(model).__name__}; "
        f"looked for {', '.join(_LAYER_PATHS)}. Add its path to persona_axis.model.hooks._LAYER_PATHS."
    )


def check_layers(model: nn.Module, layers: int | Sequence[int] | None) -> list[int]:
    """Normalise ``layers`` to a list of valid indices (``None`` means all layers)."""
    n = len(find_layers(model))
    if layers is None:
        return list(range(n))
    if isinstance(layers, int):
        layers = [layers]
    out = []
    for layer in layers:
        if not isinstance(layer, int) or isinstance(layer, bool) or not 0 <= layer < n:
            raise ValueError(f"layer {layer!r} is out of range: this model has layers 0..{n - 1}")
        out.append(int(layer))
    if len(set(out)) != len(out):
        raise ValueError(f"layers listed twice: {out}")
    return out


def _hidden(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def _replace(output: Any, hidden: torch.Tensor) -> Any:
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


@contextmanager
def add_layer_hooks(
    model: nn.Module,
    fns: Mapping[int, Callable[[torch.Tensor], torch.Tensor | None]],
) -> Iterator[None]:
    """Run ``fns[layer](hidden)`` on each listed layer's output while the block runs.

    ``hidden`` has shape ``(batch, seq, hidden_size)``. A function that returns a tensor
    replaces the layer's output; one that returns ``None`` only observes it. All hooks are
    removed on exit, whatever happens inside.
    """
    layers = find_layers(model)
    check_layers(model, list(fns))
    handles: list[Any] = []
    try:
        for idx, fn in fns.items():

            def hook(_mod: nn.Module, _inp: Any, output: Any, fn: Callable = fn) -> Any:
                new = fn(_hidden(output))
                return None if new is None else _replace(output, new)

            handles.append(layers[idx].register_forward_hook(hook))
        yield
    finally:
        for h in handles:
            h.remove()


@dataclass
class Recording:
    """Layer outputs collected by ``record``.

    Attributes:
        layers: the layers asked for, in the order asked.
        outputs: ``outputs[layer]`` is the list of that layer's outputs, one per forward call,
            each ``(batch, seq, hidden)``, detached, on the model's device.
    """

    layers: list[int]
    outputs: dict[int, list[torch.Tensor]] = field(default_factory=dict)

    def stacked(self, layer: int) -> torch.Tensor:
        """All calls of one layer joined along the sequence: ``(batch, total_seq, hidden)``.

        With a KV cache, each decode step is one call of sequence length 1, so this gives the
        activations of the whole generated sequence in order.
        """
        if layer not in self.outputs:
            raise KeyError(f"layer {layer} was not recorded; recorded: {self.layers}")
        return torch.cat(self.outputs[layer], dim=1)

    def last(self) -> dict[int, torch.Tensor]:
        """The latest output of every layer, keyed by layer."""
        return {layer: self.outputs[layer][-1] for layer in self.layers}


@contextmanager
def record(model: nn.Module, layers: int | Sequence[int] | None = None) -> Iterator[Recording]:
    """Record layer outputs (the post-MLP residual stream) while the block runs.

    Args:
        model: a causal LM.
        layers: layer indices, or ``None`` for all layers.

    Yields:
        A ``Recording`` keyed by the layers asked for (not by hook execution order).
    """
    idx = check_layers(model, layers)
    rec = Recording(layers=idx, outputs={layer: [] for layer in idx})

    def make(layer: int) -> Callable[[torch.Tensor], None]:
        def fn(h: torch.Tensor) -> None:
            rec.outputs[layer].append(h.detach())

        return fn

    with add_layer_hooks(model, {layer: make(layer) for layer in idx}):
        yield rec


def _per_layer(value: PerLayer, layer: int) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if layer not in value:
        raise KeyError(f"no vector for layer {layer}; have layers {sorted(value)}")
    return value[layer]


def _per_layer_scalar(value: Scalar, layer: int) -> float:
    if isinstance(value, Mapping):
        if layer not in value:
            raise KeyError(f"no threshold for layer {layer}; have layers {sorted(value)}")
        return float(value[layer])
    return float(value)


@contextmanager
def steer(
    model: nn.Module,
    vector: PerLayer,
    coeff: float,
    layers: int | Sequence[int],
) -> Iterator[None]:
    """Additive steering: ``h <- h + coeff * vector`` at every position of each listed layer.

    Args:
        vector: ``(hidden,)`` tensor used at every layer, or a mapping ``layer -> (hidden,)``.
            It is used as given (not normalised): pass a unit vector and a coefficient in raw
            activation units, or see ``persona_axis.persona.axis`` for norm-relative coefficients.
        coeff: positive moves along ``vector``; with an Assistant Axis (which points toward the
            Assistant), positive steers toward the Assistant and negative away from it.
        layers: layer index or indices.
    """
    idx = check_layers(model, layers)

    def make(layer: int) -> Callable[[torch.Tensor], torch.Tensor]:
        v = _per_layer(vector, layer)

        def fn(h: torch.Tensor) -> torch.Tensor:
            return h + coeff * v.to(device=h.device, dtype=h.dtype)

        return fn

    with add_layer_hooks(model, {layer: make(layer) for layer in idx}):
        yield


def cap_transform(
    h: torch.Tensor, v: torch.Tensor, tau: float, kind: Literal["floor", "ceiling"] = "floor"
) -> torch.Tensor:
    """Clamp the projection of ``h`` on the unit vector ``v`` at ``tau``.

    ``floor`` (the paper's formula): ``h - v * min(<h, v> - tau, 0)``, so that afterwards
    ``<h, v> >= tau`` and rows already at or above ``tau`` are returned unchanged.
    ``ceiling``: ``h - v * max(<h, v> - tau, 0)``, so that ``<h, v> <= tau``.

    Args:
        h: ``(..., hidden)`` activations.
        v: ``(hidden,)`` direction; normalised here, so any positive rescaling gives the same result.
        tau: threshold in raw activation units, on the projection ``<h, v/|v|>``.

    The projection is computed in float32; only the rows that move are rewritten, so rows that
    already satisfy the bound are returned bit for bit.
    """
    u = v.to(device=h.device, dtype=torch.float32)
    u = u / u.norm()
    proj = h.float() @ u  # (...,)
    excess = (proj - tau).clamp(max=0.0) if kind == "floor" else (proj - tau).clamp(min=0.0)
    moved = excess != 0
    if not bool(moved.any()):
        return h
    new = (h.float() - excess.unsqueeze(-1) * u).to(h.dtype)
    return torch.where(moved.unsqueeze(-1), new, h)


@contextmanager
def cap(
    model: nn.Module,
    vector: PerLayer,
    tau: Scalar,
    layers: int | Sequence[int],
    kind: Literal["floor", "ceiling"] = "floor",
) -> Iterator[None]:
    """Activation capping at every position of each listed layer (see ``cap_transform``).

    Args:
        vector: the direction, ``(hidden,)`` or ``layer -> (hidden,)``; it is normalised.
            For the paper's formula pass the Assistant Axis (pointing toward the Assistant) and
            ``kind="floor"``: projections below ``tau`` are raised to ``tau``.
        tau: threshold on the projection onto the unit vector, one float or ``layer -> float``.
        kind: ``"floor"`` (paper text) or ``"ceiling"`` (what the paper's code does to the
            opposite vector; see ``persona_axis.persona.axis`` for the two conventions).
    """
    if kind not in ("floor", "ceiling"):
        raise ValueError(f"kind must be 'floor' or 'ceiling', not {kind!r}")
    idx = check_layers(model, layers)

    def make(layer: int) -> Callable[[torch.Tensor], torch.Tensor]:
        v = _per_layer(vector, layer)
        t = _per_layer_scalar(tau, layer)

        def fn(h: torch.Tensor) -> torch.Tensor:
            return cap_transform(h, v, t, kind)

        return fn

    with add_layer_hooks(model, {layer: make(layer) for layer in idx}):
        yield
