"""Layer 8, analysis: the numbers the book rates, with their intervals.

``measures`` (persona-space numbers resampled over role vectors), ``two_level`` (role vectors,
then the sampled answers behind each), ``behaviour`` (drift, steering and capping intervals),
``cross_model`` (per-model spaces compared: centred compositions, the shared-text control),
``rubric_effect`` (persona space under several labellings), ``capping_eval`` (the capping sweep,
its harm and capability scores, the Pareto front).
"""
