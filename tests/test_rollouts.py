"""The rollout engine: activations recorded while generating, caching, resume."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from helpers import CharTokenizer, tiny_spec
from persona_axis.core.store import CacheError
from persona_axis.engine.rollouts import Sampling, generate, sample_next, score
from persona_axis.persona.runs import Job, collect


def _prompts(n: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(5)
    return [
        torch.randint(2, 128, (int(torch.randint(3, 9, (1,), generator=g)),), generator=g).tolist()
        for _ in range(n)
    ]


def test_generation_activations_match_teacher_forced_pass(model) -> None:
    """fp32 tiny model: recording during generation equals a teacher-forced pass (to rounding)."""
    tok = CharTokenizer()
    prompts = _prompts(6)
    res = generate(model, tok, prompts, Sampling(max_new_tokens=10, seed=1), batch_size=4)
    seqs = [p + t for p, t in zip(prompts, res.tokens)]
    spans = [[(len(p), len(p) + len(t))] for p, t in zip(prompts, res.tokens)]
    tf = score(model, seqs, spans, pad_id=tok.pad_token_id)
    nonempty = torch.tensor([n > 0 for n in res.n_tokens])
    assert nonempty.any()
    torch.testing.assert_close(res.acts[nonempty], tf[nonempty], rtol=1e-4, atol=1e-4)
    assert res.acts.shape == (6, 4, 64)


def test_greedy_is_deterministic_and_independent_of_batching(model) -> None:
    tok = CharTokenizer()
    prompts = _prompts(5)
    a = generate(model, tok, prompts, Sampling(temperature=0, max_new_tokens=8), batch_size=5)
    b = generate(model, tok, prompts, Sampling(temperature=0, max_new_tokens=8), batch_size=2)
    assert a.tokens == b.tokens
    torch.testing.assert_close(a.acts, b.acts, rtol=1e-4, atol=1e-4)


def test_rows_stop_at_eos_and_eos_is_not_a_response_token(model) -> None:
    tok = CharTokenizer()
    tok.eos_token_id = 7
    res = generate(
        model,
        tok,
        _prompts(8),
        Sampling(temperature=1.0, top_p=1.0, top_k=128, max_new_tokens=30, seed=2),
        batch_size=8,
    )
    for toks, fin, n in zip(res.tokens, res.finished, res.n_tokens):
        assert 7 not in toks
        assert n == len(toks)
        assert fin or n == 30


def test_top_p_keeps_the_nucleus_only() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    gen = torch.Generator().manual_seed(0)
    seen = {
        int(sample_next(logits, Sampling(temperature=1.0, top_p=0.75, top_k=4), gen)[0]) for _ in range(300)
    }
    assert seen == {0, 1}
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=0)


def _jobs(n: int) -> list[Job]:
    return [Job("role", f"r{i % 3}", 0, i, f"You are {i}.", f"Question {i}?") for i in range(n)]


def test_collect_resumes_to_the_same_result(model, tmp_path) -> None:
    tok, spec = CharTokenizer(), tiny_spec()
    jobs = _jobs(10)
    samp = Sampling(max_new_tokens=6, seed=4)
    full = collect(
        model, tok, spec, jobs, samp, batch_size=2, chunk_size=3, root=tmp_path / "a", progress=False
    )
    with pytest.raises(KeyboardInterrupt):
        collect(
            model,
            tok,
            spec,
            jobs,
            samp,
            batch_size=2,
            chunk_size=3,
            root=tmp_path / "b",
            progress=False,
            stop_after=lambda c: c == 1,
        )
    assert len(list((tmp_path / "b").rglob("chunk-*.jsonl"))) == 2
    resumed = collect(
        model, tok, spec, jobs, samp, batch_size=2, chunk_size=3, root=tmp_path / "b", progress=False
    )
    assert resumed.table["response"].tolist() == full.table["response"].tolist()
    assert torch.equal(resumed.acts, full.acts)
    assert resumed.key == full.key


def test_other_configuration_never_reads_cached_results(model, tmp_path) -> None:
    tok, spec = CharTokenizer(), tiny_spec()
    jobs = _jobs(4)
    a = collect(model, tok, spec, jobs, Sampling(max_new_tokens=4, seed=0), root=tmp_path, progress=False)
    b = collect(model, tok, spec, jobs, Sampling(max_new_tokens=4, seed=1), root=tmp_path, progress=False)
    # as many jobs, one other
    other = [*jobs[:3], replace(jobs[3], question="Question three, asked otherwise?")]
    c = collect(model, tok, spec, other, Sampling(max_new_tokens=4, seed=0), root=tmp_path, progress=False)
    assert len({a.key, b.key, c.key}) == 3 and a.path != b.path
    again = collect(model, tok, spec, jobs, Sampling(max_new_tokens=4, seed=0), root=tmp_path, progress=False)
    assert again.path == a.path and torch.equal(again.acts, a.acts)


def test_corrupt_chunk_gives_clear_error(model, tmp_path) -> None:
    tok, spec = CharTokenizer(), tiny_spec()
    ro = collect(model, tok, spec, _jobs(3), Sampling(max_new_tokens=3), root=tmp_path, progress=False)
    (ro.path / "chunk-00000.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(CacheError, match="Delete it and rerun"):
        collect(model, tok, spec, _jobs(3), Sampling(max_new_tokens=3), root=tmp_path, progress=False)


def test_store_keeps_unicode_line_separators(tmp_path) -> None:
    from persona_axis.core.store import Store

    s = Store("x", {"a": 1}, tmp_path)
    rows = [{"response": "one\u2028two\x85three"}, {"response": "four"}]
    s.save_chunk(0, {"t": torch.zeros(2)}, rows)
    assert s.load_chunk(0)[1] == rows


# --- the decode loop (decode.py) against the loop of engine version 1 (decode_reference.py) ---


def test_greedy_tokens_equal_the_reference_loop_with_refill_and_early_ends(model) -> None:
    """Greedy: the continuous-batching engine gives the old loop's tokens exactly.

    9 prompts in 4 slots (rows are refilled and, at the end, dropped); EOS id 7 ends some rows
    early. The reference runs with batch size 1 (no padding at all) and with batch size 4.
    """
    tok = CharTokenizer()
    tok.eos_token_id = 7
    prompts = _prompts(9)
    s = Sampling(temperature=0, max_new_tokens=12)
    new = generate(model, tok, prompts, s, batch_size=4)
    for bs in (1, 4):
        ref = generate(model, tok, prompts, s, batch_size=bs, engine="reference")
        assert new.tokens == ref.tokens
        assert new.finished == ref.finished and new.n_tokens == ref.n_tokens
        torch.testing.assert_close(new.acts, ref.acts, rtol=1e-4, atol=1e-4)


def test_greedy_equals_the_reference_loop_under_steering(model) -> None:
    """Hooks of ``steer`` act in the new engine's forward passes as in the old loop's."""
    from persona_axis.model.hooks import steer

    tok = CharTokenizer()
    prompts = _prompts(5)
    s = Sampling(temperature=0, max_new_tokens=8)
    vec = torch.randn(64, generator=torch.Generator().manual_seed(3))
    with steer(model, vec, 4.0, [1, 2]):
        new = generate(model, tok, prompts, s, batch_size=2, layers=[0, 3])
        ref = generate(model, tok, prompts, s, batch_size=2, layers=[0, 3], engine="reference")
    plain = generate(model, tok, prompts, s, batch_size=2, layers=[0, 3])
    assert new.tokens == ref.tokens
    torch.testing.assert_close(new.acts, ref.acts, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(new.acts, plain.acts)  # the steering did act


def test_finished_rows_are_never_fed_and_refill_keeps_prompt_order(model) -> None:
    """Every decode-step row is a response token (no pad fed for a finished row); rows come back
    in prompt order with activations equal to a teacher-forced pass."""
    from persona_axis.engine.decode import decode

    prompts = _prompts(11)
    gen = torch.Generator().manual_seed(4)
    s = Sampling(temperature=1.0, top_p=1.0, top_k=128, max_new_tokens=10)
    d = decode(
        model,
        prompts,
        eos=set(range(2, 14)),
        max_new_tokens=10,
        batch_size=3,
        layers=[1, 3],
        pad_id=1,
        sample=lambda logits: sample_next(logits, s, gen),
    )
    assert any(d.finished) and not all(d.finished)
    assert d.fed_rows == sum(len(t) for t in d.tokens)
    seqs = [p + t for p, t in zip(prompts, d.tokens)]
    spans = [[(len(p), len(p) + len(t))] for p, t in zip(prompts, d.tokens)]
    tf = score(model, seqs, spans, layers=[1, 3], pad_id=1)
    n = torch.tensor([max(len(t), 1) for t in d.tokens], dtype=torch.float32)[:, None]
    acts = torch.stack([d.sums[1] / n, d.sums[3] / n], dim=1)
    torch.testing.assert_close(acts, tf, rtol=1e-4, atol=1e-4)


def test_score_reads_shortest_first_and_answers_in_the_order_given(model) -> None:
    """Batched reading (sorted by length inside) equals reading each transcript alone, in the given order,
    with several spans per transcript and an empty span."""
    g = torch.Generator().manual_seed(11)
    lengths = [23, 4, 17, 9, 30, 6, 12]
    seqs = [torch.randint(2, 128, (n,), generator=g).tolist() for n in lengths]
    spans = [[(1, n // 2), (n // 2, n)] if n > 8 else [(2, 2), (0, n)] for n in lengths]
    batched = score(model, seqs, spans, batch_size=3, pad_id=1)
    alone = torch.cat([score(model, [s], [sp], batch_size=1, pad_id=1) for s, sp in zip(seqs, spans)])
    assert batched.shape == (14, 4, 64)
    torch.testing.assert_close(batched, alone, rtol=1e-4, atol=1e-5)
    assert torch.equal(batched[2], torch.zeros(4, 64))  # the empty span of transcript 1


def test_score_stops_at_the_deepest_layer_read(model) -> None:
    """Reading layers 0 and 1 runs no layer above 1, and gives exactly the all-layer pass's values there."""
    from persona_axis.model.hooks import add_layer_hooks

    g = torch.Generator().manual_seed(12)
    seqs = [torch.randint(2, 128, (n,), generator=g).tolist() for n in (5, 9, 7)]
    spans = [[(1, len(s))] for s in seqs]
    calls = {2: 0, 3: 0}

    def count(layer: int):  # noqa: ANN202
        def fn(h: torch.Tensor) -> None:
            calls[layer] += 1

        return fn

    with add_layer_hooks(model, {2: count(2), 3: count(3)}):
        low = score(model, seqs, spans, layers=[1, 0], batch_size=2, pad_id=1)
    assert calls == {2: 0, 3: 0}
    full = score(model, seqs, spans, batch_size=2, pad_id=1)
    assert torch.equal(low, full[:, [1, 0]])


def test_score_rejects_spans_that_do_not_fit(model) -> None:
    with pytest.raises(ValueError, match="outside transcript 1 of length 3"):
        score(model, [[2, 3, 4, 5], [2, 3, 4]], [[(0, 4)], [(1, 4)]], pad_id=1)
    with pytest.raises(ValueError, match="2 transcripts but 1 lists of spans"):
        score(model, [[2, 3], [4, 5]], [[(0, 1)]], pad_id=1)


def _alike_prompts() -> list[list[int]]:
    """Three 'system prompts' of 18-22 tokens, each before four 'questions' of 2-7 tokens, then two
    prompts that share nothing long (the plan must leave them whole), in a shuffled order."""
    g = torch.Generator().manual_seed(21)
    heads = [torch.randint(20, 128, (n,), generator=g).tolist() for n in (18, 22, 20)]
    out = [
        h + torch.randint(20, 128, (int(torch.randint(2, 8, (1,), generator=g)),), generator=g).tolist()
        for h in heads
        for _ in range(4)
    ]
    out += [torch.randint(20, 128, (n,), generator=g).tolist() for n in (9, 12)]
    perm = torch.randperm(len(out), generator=g).tolist()
    return [out[i] for i in perm]


def test_share_plan_finds_the_common_prefixes() -> None:
    from persona_axis.engine.prefix_share import share_plan

    prompts = _alike_prompts()
    plan = share_plan(prompts, 16, part_rows=4)
    assert plan is not None and len(plan.leaders) == 3
    for i, p in enumerate(prompts):
        if plan.shared[i]:
            mates = [q for j, q in enumerate(prompts) if plan.cluster_of[j] == plan.cluster_of[i]]
            assert len(mates) == 4 and all(q[: plan.shared[i]] == p[: plan.shared[i]] for q in mates)
            assert plan.shared[i] in (18, 22, 20) and len(p) > plan.shared[i]
    assert sorted(plan.shared).count(0) == 2
    assert sorted(i for part in plan.parts for i in part) == list(range(len(prompts)))
    assert share_plan(prompts, 0) is None and share_plan(prompts, 30) is None
    assert share_plan(_prompts(6), 16) is None  # random prompts share nothing


@pytest.mark.parametrize("batch_size", [14, 5])
def test_shared_prefixes_give_the_reference_loop_tokens_and_means(model, batch_size: int) -> None:
    """Greedy, fp32: prefilling shared prefixes once (then every suffix against them) gives the tokens
    of the reference loop run one prompt at a time, and the same response means, with all prompts in
    one prefill group (14 slots) and with refills of 5 slots; sharing switched off gives them too."""
    from persona_axis.engine.decode import decode

    prompts = _alike_prompts()
    s = Sampling(temperature=0, max_new_tokens=6)
    tok = CharTokenizer()
    ref = generate(model, tok, prompts, s, batch_size=1, layers=[0, 3], engine="reference")

    def run(share: int):  # noqa: ANN202
        return decode(
            model,
            prompts,
            eos={int(tok.eos_token_id)},
            max_new_tokens=6,
            batch_size=batch_size,
            layers=[0, 3],
            pad_id=1,
            share_prefixes=share,
            sample=lambda logits: (logits.argmax(-1), 0),
        )

    shared, plain = run(16), run(0)
    if batch_size == len(prompts):
        # the shared path ran: a prefix pass, then one suffix pass
        assert shared.forwards == plain.forwards + 1
    for d in (shared, plain):
        assert d.tokens == ref.tokens
        n = torch.tensor([max(len(t), 1) for t in d.tokens], dtype=torch.float32)[:, None]
        got = torch.stack([d.sums[layer] / n for layer in (0, 3)], dim=1)
        torch.testing.assert_close(got, ref.acts, rtol=1e-4, atol=1e-4)
