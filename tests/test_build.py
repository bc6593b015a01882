"""The chapters' sources (a parameters cell first, no definitions) and the variant pages' labels:
renamed with the page's suffix, references to other pages left alone. Model-free: the fast tier."""

from __future__ import annotations

import nbformat

from persona_axis.site.build import notebooks, suffix_labels


def test_suffix_labels_renames_definitions_and_own_references_only() -> None:
    nb = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell(
        "(sec-a)=\n## A\n\nSee {numref}`fig-a`, {ref}`sec-a` and {ref}`judge-validation`.\n\n"
        ":::{exercise}\n:label: ex-a-1\n\nDo it.\n:::\n\n:::{solution} ex-a-1\n:class: dropdown\n\nDone.\n:::\n"
        "Also `fig-ab` and fig-a-like words stay.")
    code = nbformat.v4.new_code_cell("plot()", metadata={"mystnb": {"figure": {"name": "fig-a", "caption": "A."}}})
    nb.cells = [md, code]
    assert suffix_labels(nb, "--m") == {"sec-a", "fig-a", "ex-a-1"}
    assert code.metadata["mystnb"]["figure"]["name"] == "fig-a--m"
    src = nb.cells[0].source
    assert "(sec-a--m)=" in src and "{numref}`fig-a--m`" in src and "{ref}`sec-a--m`" in src
    assert "{ref}`judge-validation`" in src  # defined on another page
    assert ":label: ex-a-1--m" in src and "{solution} ex-a-1--m" in src
    assert "`fig-ab`" in src and "fig-a-like" in src
    empty = nbformat.v4.new_notebook()
    empty.cells = [nbformat.v4.new_markdown_cell("no labels")]
    assert suffix_labels(empty, "--m") == set() and empty.cells[0].source == "no labels"


def test_notebooks_start_with_a_parameters_cell_and_define_nothing() -> None:
    import jupytext

    for nb_path in notebooks():
        nb = jupytext.read(nb_path)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), nb_path
        for c in code:
            assert not any(line.startswith(("def ", "class ")) for line in c.source.splitlines()), nb_path
            assert "sys.path" not in c.source and "pip install" not in c.source
