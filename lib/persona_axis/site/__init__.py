"""Layer 11, site: the book. The only layer that knows about chapters.

``build`` (every chapter executed by papermill, then Jupyter Book), ``timing`` (each page's measured
cost, the estimate and the progress lines of a build), ``pages`` (what the build writes into pages:
banner, download link, the page of a failed chapter), ``course`` (the teachers' plan), ``check``
(the built site in headless Chromium) with ``serve``, ``report`` and ``plotcheck``, ``smoke`` (the
run to try first on a GPU machine), ``rehearse`` (the publishing workflow's jobs run here), and
``sphinx_assets`` and ``sphinx_plotly`` (Sphinx extensions).
"""
