"""Layer 2, model: a language model and what reads or moves its activations.

``models`` (the registry, fetching and dequantising the embedded models, loading), ``fingerprint``
(which weights a model has, for cache keys), ``chat`` (chat templates and response spans),
``hooks`` (``record``, ``steer``, ``cap``: context managers that always come off).
"""
