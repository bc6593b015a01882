"""Where the cache lives: the lowest layer, standard library only.

``cache_dir()`` holds the models and, unless ``$PERSONA_AXIS_ARTIFACTS`` says otherwise, the
results (``artifacts_dir()``). Nothing here knows the checkout: the book's sources are found by
the build from the folder it runs in.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "artifacts_dir"]


def cache_dir() -> Path:
    """Root of the model and results cache (created on demand): ``$PERSONA_AXIS_CACHE``, else
    ``$XDG_CACHE_HOME/persona-axis``, else ``~/.cache/persona-axis``."""
    env = os.environ.get("PERSONA_AXIS_CACHE")
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "persona-axis"
    root.mkdir(parents=True, exist_ok=True)
    return root


def artifacts_dir() -> Path:
    """Root folder of cached results (created on demand): ``$PERSONA_AXIS_ARTIFACTS``, else
    ``<cache_dir()>/artifacts``."""
    env = os.environ.get("PERSONA_AXIS_ARTIFACTS")
    root = Path(env).expanduser() if env else cache_dir() / "artifacts"
    root.mkdir(parents=True, exist_ok=True)
    return root
