"""Sphinx extension: each inline script of the theme's extensions written once per page.

Enabled in ``_config.yml``::

    sphinx:
      extra_extensions:
        - persona_axis.site.sphinx_assets

Sphinx 7.x (the series Jupyter Book 1.x requires) writes an inline script that an extension
adds after the builder has started (``app.add_js_file(None, body=...)``, as sphinx-thebe and
sphinx-togglebutton do) twice into every page: once as given (file name ``None``) and once more
from the registry when writing starts (file name ``''``); the two do not compare equal, so the
builder's check for duplicates lets both through (sphinx-doc/sphinx#13402, fixed in 8.2). The
second ``const THEBE_JS_URL = ...`` then throws ``SyntaxError: Identifier 'THEBE_JS_URL' has
already been declared`` in the browser console of every page.

This extension gives those scripts the file name ``''`` once reading is done, so the builder
finds them already present when it adds the registry's copies. It does nothing on a Sphinx
that has the fix, or whose builder keeps its scripts elsewhere.
"""

from __future__ import annotations

from typing import Any

__all__ = ["setup"]


def _normalise_inline_scripts(app: Any, env: Any) -> None:
    """Rename inline scripts (file name ``None``) to ``''`` in the HTML builder's list of scripts."""
    scripts = getattr(app.builder, "_js_files", None)
    if not isinstance(scripts, list):
        return
    for i, js in enumerate(scripts):
        if getattr(js, "filename", "") is None:
            scripts[i] = type(js)("", priority=js.priority, **js.attributes)


def setup(app: Any) -> dict[str, Any]:
    import sphinx

    if sphinx.version_info < (8, 2):
        # env-updated: after every extension has added its scripts, before pages are written
        app.connect("env-updated", _normalise_inline_scripts)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
