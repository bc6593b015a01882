"""Layer 3, engine: generation that records activations.

``rollouts`` (``generate``, ``teacher_force``), ``decode`` (continuous batching over a
preallocated KV cache), ``prefix_share`` (shared prompt prefixes prefilled once),
``decode_reference`` (engine version 1's loop: the tests' and the benchmark's oracle),
``engine_vllm`` and ``vllm_worker`` (vLLM for the texts, a teacher-forced pass for the activations),
``speed`` (the matmul ceiling and the machine's speed figure).
"""
