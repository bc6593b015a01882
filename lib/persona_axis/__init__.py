"""persona_axis: the library behind the book "The Assistant Axis, reproduced".

Modules: ``models`` (embedded models), ``chat`` (rendering and response spans), ``hooks``
(``record``, ``steer``, ``cap``), ``catalogue`` (roles, traits, questions), ``rollouts``
(generation that records activations), ``runs`` (cached persona-space rollouts), ``store``,
``judge`` (a package: ``rubric``, ``embedder``, ``offline``, ``llm``, ``agreement``,
``categories``), ``space`` (role vectors, PCA), ``axis`` (the Assistant Axis), ``steering``,
``capping`` (the intervention and its calibration), ``capping_eval`` (the capping chapter's
evaluation harness), ``drift``, ``evals`` (a package: ``items``, ``scoring``), ``results``,
``plots``, ``presets``, ``build`` (the book), ``sitecheck`` (the built site opened in headless
Chromium), ``sphinx_assets`` (a Sphinx extension for the book).
"""

import warnings as _warnings

# tqdm.auto (imported by transformers) warns in notebooks without ipywidgets; the book uses text bars
_warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"
