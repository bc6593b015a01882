"""Bands of decoder layers: where capping acts, and which layers a persona-space run keeps."""

from __future__ import annotations

__all__ = ["band", "depth_band"]


def band(centre: int, width: int, n_layers: int) -> tuple[int, ...]:
    """``width`` consecutive layers around ``centre``, shifted to fit inside ``0..n_layers-1``.

    For an even width the band has one more layer below the centre than above, e.g.
    ``band(20, 4, 30) == (18, 19, 20, 21)``.
    """
    if not 1 <= width <= n_layers:
        raise ValueError(f"band width {width} must be between 1 and the number of layers ({n_layers})")
    if not 0 <= centre < n_layers:
        raise ValueError(f"band centre {centre} is out of range: the model has layers 0..{n_layers - 1}")
    start = min(max(centre - width // 2, 0), n_layers - width)
    return tuple(range(start, start + width))


def depth_band(centre: float, width: float, n_layers: int) -> tuple[int, ...]:
    """The band at a relative depth: centre layer ``round(centre * (n_layers - 1))`` and
    ``max(1, round(width * n_layers))`` layers, so the paper's Qwen 3 32B band (8 of 64 layers) is
    ``width = 0.125``. ``centre`` in [0, 1], ``width`` in (0, 1]."""
    if not (0 <= centre <= 1 and 0 < width <= 1):
        raise ValueError(
            f"centres must be in [0, 1] and widths in (0, 1]; got centre {centre}, width {width}"
        )
    return band(round(centre * (n_layers - 1)), max(1, round(width * n_layers)), n_layers)
