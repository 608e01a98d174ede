"""Paper I's claims and Theorem 4.2 as a Hypothesis property (the CI profile bounds the
examples; HYPOTHESIS_PROFILE=full runs more)."""

import pytest
from hypothesis import given, strategies as st

from dpomath.verify import ledger
from dpomath.lastlayer.theorem42 import theorem42_conditions
from dpomath.lastlayer.runs import theorem42_outcome
from dpomath.strategies import theorem42_params

PAPER_I = ("I-L41", "I-T42", "I-T43", "I-LOGK", "I-875", "I-1.5X", "I-LOG3", "I-GPO", "I-DELTA",
           "I-RATE-THEORY")


@given(p=theorem42_params(max_K=3, max_Q=5, max_d=30))
def test_theorem42_window_holds_inside_the_conditions(p):
    assert all(c["holds"] for c in theorem42_conditions(p["K"], p["Q"], p["d"], p["v"], p["l_b"],
                                                        p["Z"]).values())
    out = theorem42_outcome(**p, grid=33)
    assert out.ok, out


@pytest.mark.parametrize("cond", ["Z", "d", "v", "l_b"])
@given(data=st.data())
def test_breaking_strategies_break_exactly_one_condition(cond, data):
    p = data.draw(theorem42_params(break_condition=cond))
    c = theorem42_conditions(p["K"], p["Q"], p["d"], p["v"], p["l_b"], p["Z"])
    assert [k for k, x in c.items() if not x["holds"]] == [cond]


def test_a_broken_condition_can_break_the_window():
    # d far above 5Q with v at its limit: the mean initial rate 1 + v²d/(2Q) passes 5
    out = theorem42_outcome(K=1, Q=1, d=12288, v=1 / 32, l_b=0.25)
    assert not out.ok_upper and out.slope0_max > 5


def test_derive_lemma_41_prints(capsys):
    from dpomath.verify.cli import main

    assert main(["derive", "lemma-4.1"]) == 0
    out = capsys.readouterr().out
    assert "log-partition" in out and "WARNING" not in out


def test_all_paper_i_claims_run_in_quick_mode():
    claims = {c.id: c for c in ledger.select(["I"], None)}
    assert set(PAPER_I) <= set(claims)
    for cid in PAPER_I:
        res = claims[cid].run(seed=0, quick=True)
        assert res.verdict.status.value not in ("ERROR", "SKIPPED"), (cid, res.verdict.summary,
                                                                      res.verdict.details)
        assert res.verdict.evidence.get("criterion"), cid


@pytest.fixture(scope="module")
def lemma41_mp():
    import sympy as sp

    from dpomath.lastlayer.derivations import lemma41_dpo_pair

    lhs, rhs, syms = lemma41_dpo_pair(1)
    return syms, sp.lambdify(syms, lhs, "mpmath"), sp.lambdify(syms, rhs, "mpmath")


@given(vals=st.lists(st.floats(-1.5, 1.5), min_size=20, max_size=20),
       bt=st.tuples(st.floats(0.05, 2.0), st.floats(0.05, 2.0)))
def test_lemma41_numeric_twin_at_50_digits(lemma41_mp, vals, bt):
    import mpmath as mp

    syms, f, g = lemma41_mp
    it = iter(vals)
    args = [bt[0] if s.name == "beta" else bt[1] if s.name == "tau" else next(it) for s in syms]
    with mp.workdps(50):
        a, b = f(*map(mp.mpf, args)), g(*map(mp.mpf, args))
        assert abs(a - b) <= mp.mpf(10) ** -40 * max(1, abs(a), abs(b))
