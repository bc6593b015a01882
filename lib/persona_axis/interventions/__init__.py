"""Layer 7, interventions: what the Assistant Axis is used for.

``steering`` (adding the axis at a layer, and sweeps), ``capping`` (the floor on the axis, both
sign conventions, bands of layers), ``drift`` (conversations and the drift monitor).
"""
