"""Paper Y's algebra (Y-C1, Y-C2, Y-RM): verdicts, and the identities at Hypothesis points."""
import functools

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from dpomath.gradients import formulas as S
from dpomath.verify.ledger import Status, get_claim
from dpomath.strategies import betas


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    figs = tmp_path_factory.mktemp("figs")
    return {cid: get_claim(cid).run(seed=0, quick=True, figure_dir=figs).verdict
            for cid in ("Y-C1", "Y-C2", "Y-RM")}


@pytest.mark.parametrize("cid", ["Y-C1", "Y-C2", "Y-RM"])
def test_proved(verdicts, cid):
    assert verdicts[cid].status is Status.PROVED, verdicts[cid].summary


def test_c2_every_beta_case(verdicts):
    ev = verdicts["Y-C2"].evidence
    assert ev["lim dl/dpi- [beta<1]"] == "oo"
    assert ev["lim dl/dpi- [beta=1]"] == "alpha/pi_+"
    assert ev["lim dl/dpi- [beta>1]"] == "0"
    assert all(ev[f"lim dl/dpi+ [{c}]"] == "0" for c in ("beta<1", "beta=1", "beta>1"))
    assert ev["twin_ok"] is True
    assert verdicts["Y-C2"].figures and verdicts["Y-C2"].figures[0].endswith(".png")


P = st.floats(1e-8, 1.0)


@functools.lru_cache(maxsize=None)
def _evaluators():
    args = (S.pi_plus, S.pi_minus, S.pi0_plus, S.pi0_minus, S.beta)
    yan = sp.lambdify(args, S.yan_loss.subs(S.alpha, (S.pi0_plus / S.pi0_minus) ** S.beta), "mpmath")
    dpo = sp.lambdify(args, S.yan_loss_dpo, "mpmath")
    g_minus = sp.lambdify((S.pi_plus, S.pi_minus, S.alpha, S.beta), S.yan_gradient[1], "mpmath")
    return yan, dpo, g_minus


@given(pp=P, pm=P, p0p=P, p0m=P, b=betas(1e-2, 5.0))
def test_yan_loss_is_dpo_at_50_digits(pp, pm, p0p, p0m, b):
    yan, dpo, _ = _evaluators()
    with mp.workdps(50):
        v = [mp.mpf(t) for t in (pp, pm, p0p, p0m, b)]
        a, c = yan(*v), dpo(*v)
        assert abs(a - c) <= mp.mpf("1e-40") * max(1, abs(a))


@given(pm_exp=st.integers(20, 300), pp=st.floats(0.01, 1.0), a=st.floats(0.01, 100.0),
       b=st.sampled_from([0.25, 0.5, 0.9, 1.0, 1.1, 2.0, 4.0]))
def test_c2_limits_numerically(pm_exp, pp, a, b):
    g = _evaluators()[2]
    with mp.workdps(50):
        val = g(mp.mpf(pp), mp.mpf(10) ** -pm_exp, mp.mpf(a), mp.mpf(b))
        if b < 1:
            assert val > (mp.mpf(10) ** pm_exp) ** (1 - b) * a * b / (pp ** b + a) / 2
        elif b == 1:
            assert abs(val - mp.mpf(a) / mp.mpf(pp)) <= mp.mpf(a) / mp.mpf(pp) * mp.mpf(10) ** (4 - pm_exp)
        else:
            assert val < mp.mpf(10) ** (-pm_exp * (b - 1)) * a * b / pp ** b * 2
