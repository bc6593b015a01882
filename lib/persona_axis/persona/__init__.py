"""Layer 6, persona: from the catalogue to persona space and the Assistant Axis.

``catalogue`` (roles, traits, questions; data in ``persona_axis/data``), ``runs`` (cached
rollouts, rescoring by another model), ``jobs`` (rollouts spread over Ray actors), ``labels``
(judge labels of the rollouts), ``stream`` (reductions streamed over a store), ``space`` (role
vectors, PCA), ``axis`` (the Assistant Axis, its calibration), ``pipeline`` (``persona_space``:
the whole data path in one call).
"""
