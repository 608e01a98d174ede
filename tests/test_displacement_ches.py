"""CHES against an independent, line-by-line implementation of the formula of ches/ches.py
(princeton-nlp/unintentional-unalignment), written here in plain Python loops."""
import numpy as np
import pytest

import dpomath as dm
from dpomath.displacement.ches import ches_from_forward, ches_scores, normalized_edit_distance

torch = pytest.importorskip("torch")


def twin(pref, dispref, pref_last, dispref_last, normalize):
    """ches.py, step by step, for a left-padded batch given as nested lists:
    1. zero every position t < last prompt index (the last prompt token and all after it stay);
    2. drop the final position of the (padded) sequence;
    3. sum the remaining hidden states of each sequence;
    4. CHES = <s+, s-> - ||s+||^2; normalised: <s+, s->/(L+ L-) - ||s+||^2 / L+^2 with
       L = (padded length - 1) - last prompt index."""
    scores = []
    for b in range(len(pref)):
        masked = []
        for seq, last in ((pref[b], pref_last[b]), (dispref[b], dispref_last[b])):
            rows = []
            for t in range(len(seq)):
                keep = 1.0 if t >= last else 0.0
                rows.append([keep * v for v in seq[t]])
            masked.append(rows[:-1])
        sums = []
        for rows in masked:
            s = [0.0 for _ in rows[0]]
            for row in rows:
                for j in range(len(row)):
                    s[j] = s[j] + row[j]
            sums.append(s)
        dot = 0.0
        for j in range(len(sums[0])):
            dot = dot + sums[0][j] * sums[1][j]
        sq = 0.0
        for j in range(len(sums[0])):
            sq = sq + sums[0][j] ** 2
        if not normalize:
            scores.append(dot - sq)
        else:
            lp = len(masked[0]) - pref_last[b]
            ld = len(masked[1]) - dispref_last[b]
            scores.append(dot / (lp * ld) - sq / lp ** 2)
    return scores


def random_batch(rng, pad_value=None):
    B, d = int(rng.integers(1, 7)), int(rng.integers(1, 10))
    prompt = rng.integers(1, 8, B)
    lp, ld = rng.integers(1, 9, B), rng.integers(1, 9, B)
    Tp, Td = int((prompt + lp).max()), int((prompt + ld).max())
    Hp, Hd = rng.normal(0.3, 1.0, (B, Tp, d)), rng.normal(0.3, 1.0, (B, Td, d))
    for b in range(B):
        start_p, start_d = Tp - prompt[b] - lp[b], Td - prompt[b] - ld[b]
        Hp[b, :start_p] = rng.normal(0, 50, (start_p, d)) if pad_value is None else pad_value
        Hd[b, :start_d] = rng.normal(0, 50, (start_d, d)) if pad_value is None else pad_value
    return Hp, Hd, Tp - lp - 1, Td - ld - 1, prompt, lp, ld


@pytest.mark.parametrize("seed", range(25))
def test_ches_matches_line_by_line_twin(seed):
    rng = np.random.default_rng(seed)
    Hp, Hd, ip, id_, *_ = random_batch(rng)
    for as_torch in (False, True):
        a, b = (torch.tensor(Hp), torch.tensor(Hd)) if as_torch else (Hp, Hd)
        got = ches_scores(a, b, torch.tensor(ip) if as_torch else ip, id_)
        for norm, vals in ((False, got.ches), (True, got.length_normalized)):
            want = np.array(twin(Hp.tolist(), Hd.tolist(), ip.tolist(), id_.tolist(), norm))
            np.testing.assert_allclose(vals, want, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(want).max()))


def test_float32_inputs_match_the_twin_to_1e6():
    rng = np.random.default_rng(7)
    Hp, Hd, ip, id_, *_ = random_batch(rng, pad_value=0.0)
    Hp32, Hd32 = torch.tensor(Hp, dtype=torch.float32), torch.tensor(Hd, dtype=torch.float32)
    got = ches_scores(Hp32, Hd32, ip, id_)
    want = np.array(twin(Hp32.double().tolist(), Hd32.double().tolist(), ip.tolist(), id_.tolist(), False))
    np.testing.assert_allclose(got.ches, want, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(want).max()))


def test_unpadded_lists_equal_the_padded_batch_and_lengths():
    rng = np.random.default_rng(11)
    Hp, Hd, ip, id_, prompt, lp, ld = random_batch(rng)
    batch = ches_scores(Hp, Hd, ip, id_)
    lists = ches_scores([Hp[b, Hp.shape[1] - prompt[b] - lp[b]:] for b in range(len(Hp))],
                        [Hd[b, Hd.shape[1] - prompt[b] - ld[b]:] for b in range(len(Hd))], prompt - 1, prompt - 1)
    np.testing.assert_allclose(lists.ches, batch.ches, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(batch.chosen_lengths, lp)
    np.testing.assert_array_equal(batch.rejected_lengths, ld)


def test_the_negative_controls_differ_from_the_twin():
    """Two wrong conventions must disagree with ches.py: keeping the final position (the repository's
    compute_preference_similarity_per_example.py) and not counting the last prompt token."""
    rng = np.random.default_rng(5)
    Hp, Hd, ip, id_, *_ = random_batch(rng, pad_value=0.0)
    want = np.array(twin(Hp.tolist(), Hd.tolist(), ip.tolist(), id_.tolist(), False))
    keep_last = ches_scores(np.concatenate([Hp, np.zeros_like(Hp[:, :1])], 1),
                            np.concatenate([Hd, np.zeros_like(Hd[:, :1])], 1), ip, id_)
    assert np.max(np.abs(keep_last.ches - want)) > 1e-3
    skip = [(Hp[b, ip[b] + 1:-1].sum(0), Hd[b, id_[b] + 1:-1].sum(0)) for b in range(len(Hp))]
    skip_prompt = np.array([sp @ sd - sp @ sp for sp, sd in skip])
    assert np.max(np.abs(skip_prompt - want)) > 1e-3


def test_identical_responses_have_zero_ches():
    rng = np.random.default_rng(2)
    H = rng.normal(0, 1, (3, 6, 4))
    s = ches_scores(H, H.copy(), [1, 2, 3], [1, 2, 3])
    np.testing.assert_allclose(s.ches, 0, atol=1e-12)
    np.testing.assert_allclose(s.length_normalized, 0, atol=1e-12)


def test_ches_from_forward_is_the_seam():
    """A tiny deterministic torch model stands in for the language model (a unit-test stub)."""
    torch.manual_seed(0)
    emb = torch.nn.Embedding(20, 5).double()
    mix = torch.nn.Linear(5, 5).double()

    @torch.no_grad()
    def forward(ids):
        x = emb(torch.tensor(ids))
        return torch.tanh(mix(torch.cumsum(x, 0)))      # causal: position t sees tokens ≤ t

    pairs = [([1, 2, 3], [4, 5], [6]), ([7], [8, 9, 10], [11, 12])]
    got = ches_from_forward(forward, pairs)
    hp = [forward(p + c).numpy() for p, c, _ in pairs]
    hd = [forward(p + r).numpy() for p, _, r in pairs]
    want = ches_scores(hp, hd, [2, 0], [2, 0])
    np.testing.assert_allclose(got.ches, want.ches, rtol=1e-12)
    np.testing.assert_array_equal(got.chosen_lengths, [2, 3])
    with pytest.raises(dm.BadValue, match=r"^pairs\[0\]: prompt, chosen and rejected need"):
        ches_from_forward(forward, [([], [1], [2])])
    with pytest.raises(dm.BadType, match="^forward: expected a callable"):
        ches_from_forward(None, pairs)


@pytest.mark.parametrize("args,exc,match", [
    ((np.zeros((2, 5, 3)), np.zeros((2, 5, 3)), [0, 4], [0, 0]), dm.BadValue,
     r"^chosen_last_prompt_index\[1\]: must lie in \[0, 3\]"),
    ((np.zeros((2, 5, 3)), np.zeros((3, 5, 3)), [0, 0], [0, 0, 0]), dm.BadValue, "^rejected_hidden: expected 2 pairs"),
    ((np.zeros((2, 5)), np.zeros((2, 5, 3)), [0, 0], [0, 0]), dm.BadValue, "^chosen_hidden: expected a left-padded"),
    ((np.zeros((2, 5, 3)), np.zeros((2, 5, 3)), [0.5, 0], [0, 0]), dm.BadType, "^chosen_last_prompt_index: expected integer"),
    ((np.zeros((2, 5, 3)), np.zeros((2, 5, 3)), [0], [0, 0]), dm.BadValue, "^chosen_last_prompt_index: expected 2 indices"),
    ((np.full((1, 3, 2), np.nan), np.zeros((1, 3, 2)), [0], [0]), dm.BadValue, "^chosen_hidden: must be finite"),
    (([np.zeros((3, 2)), np.zeros((3, 4))], [np.zeros((3, 2))] * 2, [0, 0], [0, 0]), dm.BadValue,
     r"^chosen_hidden\[1\]: expected hidden size 2"),
])
def test_bad_arguments(args, exc, match):
    with pytest.raises(exc, match=match):
        ches_scores(*args)


def test_normalized_edit_distance():
    assert normalized_edit_distance([1, 2, 3], [1, 2, 3]) == 0.0
    assert normalized_edit_distance([1, 2, 3], [4, 5]) == 1.0
    assert normalized_edit_distance("kitten", "sitting") == pytest.approx(3 / 7)
    with pytest.raises(dm.BadValue, match="^a, b: at least one"):
        normalized_edit_distance([], [])
