"""Numbers and verdicts placed in a chapter's prose with myst-nb's ``glue``.

A chapter computes in a cell and glues; its Markdown text pastes with ``{glue:}`name```,
``{glue:text}`name:.2f``` (a number with a format) or ``{glue:md}`name``` (Markdown, such as a
verdict). The glued values are kept in the executed notebook, so the built page shows the numbers
of the run it was built from and the prose holds no number typed by hand.

Example (in a chapter; ``glue`` is a no-op display outside a notebook):
    >>> glue_verdicts(["cos_axis_pc1_middle"], spec.name)     # doctest: +SKIP
    >>> # text cell: "{glue:md}`verdict-cos_axis_pc1_middle`"

Where a page rates several claims for models chosen by its parameters, ``together=`` glues all
the sentences as one Markdown block, pasted with the directive (``:format: myst`` keeps the
paragraphs)::

    ```{glue:md} verdicts-cross-model
    :format: myst
    ```
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["glue_numbers", "glue_text", "glue_verdicts", "verdict_key"]


def verdict_key(claim_key: str, model: str | None = None) -> str:
    """The glue name of a claim's verdict: ``verdict-<claim>``, or ``verdict-<claim>-<model>``
    where a page states it for several models."""
    return f"verdict-{claim_key}" + (f"-{model}" if model else "")


def glue_numbers(prefix: str = "", **values: float | int) -> None:
    """Glue each number under ``<prefix><name>`` (names with ``_`` become ``-``), not displayed.

    Whole numbers are glued as ``int``, others as ``float`` (a numpy scalar's text would be
    ``np.float64(...)``, which a ``{glue:text}`name:.2f``` format cannot read)."""
    import numbers

    from myst_nb import glue

    for name, value in values.items():
        plain = int(value) if isinstance(value, numbers.Integral) else float(value)
        glue(prefix + name.replace("_", "-"), plain, display=False)


def glue_text(**texts: str) -> None:
    """Glue each text as Markdown under its name (``_`` becomes ``-``), not displayed: names and
    lists that a sentence of the page quotes (``{glue:md}`shared-default-end```)."""
    from IPython.display import Markdown
    from myst_nb import glue

    for name, text in texts.items():
        glue(name.replace("_", "-"), Markdown(text), display=False)


def glue_verdicts(
    keys: Sequence[str], models: str | Sequence[str], *, together: str | None = None
) -> dict[str, str]:
    """Glue the registry's verdict sentence (``claims.sentence``) of each claim for each model.

    Args:
        keys: claim keys of ``persona_axis.claims.CLAIMS``.
        models: one model (glue names ``verdict-<claim>``) or several (``verdict-<claim>-<model>``).
        together: also glue every sentence, claim by claim and model by model, as one block of
            paragraphs under this name (for pages whose models are parameters).

    Returns:
        ``{glue name: sentence}``, the Markdown that the page pastes (without the block).
    """
    from IPython.display import Markdown
    from myst_nb import glue

    from persona_axis.claims import sentence

    many = not isinstance(models, str)
    names = list(models) if many else [models]
    out = {}
    for k in keys:
        for m in names:
            out[verdict_key(k, m if many else None)] = sentence(k, m)  # type: ignore[arg-type]
    for name, text in out.items():
        glue(name, Markdown(text), display=False)
    if together is not None:
        glue(together, Markdown("\n\n".join(out.values())), display=False)
    return out
