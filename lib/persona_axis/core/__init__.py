"""Layer 1, core: what every other layer stands on, and nothing about models.

``paths`` (the cache folders), ``hardware`` (threads, the compute dtype), ``store`` (the one cache
of expensive results, keyed by the configuration that made them), ``presets`` (the book's sizes),
``stats`` (bootstrap intervals, split-half reliability, noise ceilings).
"""
