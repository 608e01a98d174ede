"""dpomath.strategies: one import for every strategy (general, paper I, paper Y); each draws
what it promises and refuses bad bounds by name."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dpomath.strategies as S
from dpomath._args import BadType, BadValue
from dpomath.lastlayer.theorem42 import theorem42_conditions
from dpomath.losses import LOSSES, get_loss


def test_facade_exports_every_strategy():
    from dpomath.lastlayer import strategies as A
    from dpomath.testing import strategies as B
    from dpomath.toys import strategies as C

    names = set(A.__all__) | set(B.__all__) | set(C.__all__)
    assert names == set(S.__all__)
    assert all(callable(getattr(S, n)) for n in names)


@given(batch=S.preference_batches(2, 5, -20.0), beta=S.betas(0.01, 1.0))
def test_batches_and_betas(batch, beta):
    n = {len(v) for v in batch.values()}
    assert len(n) == 1 and 2 <= n.pop() <= 5
    assert all(np.all((v <= 0) & (v >= -20.0)) for v in batch.values())
    assert 0.01 <= beta <= 1.0


@given(cfg=S.loss_configs(margin_only=True))
def test_loss_configs_are_valid(cfg):
    kind, params = cfg
    assert LOSSES[kind].is_margin_loss
    get_loss(kind).check_params(params, arrays=False)


@settings(max_examples=20)
@given(p=S.theorem42_params(max_K=3, max_Q=6))
def test_theorem42_params_inside(p):
    c = theorem42_conditions(p["K"], p["Q"], p["d"], p["v"], p["l_b"], p["Z"])
    assert all(x["holds"] for x in c.values())


@given(prompt=S.free_logit_prompts())
def test_free_logit_prompts(prompt):
    z, ref, rej, w = prompt
    assert 3 <= len(z) <= 9 and 0 not in set(rej.tolist())
    assert math.isclose(float(np.exp(ref).sum()), 1.0, rel_tol=1e-12)
    assert math.isclose(float(w.sum()), 1.0, rel_tol=1e-12) and np.all(w > 0)


@pytest.mark.parametrize("make, name", [
    (lambda: S.betas(0.0), "min_value"), (lambda: S.betas(1.0, 0.5), "max_value"),
    (lambda: S.logps(1.0), "min_value"), (lambda: S.probabilities(0.0), "min_value"),
    (lambda: S.preference_batches(0), "min_size"), (lambda: S.theorem42_params(max_K=0), "max_K"),
    (lambda: S.theorem42_params(break_condition="Q"), "break_condition"),
    (lambda: S.free_logit_prompts(2), "min_responses"),
])
def test_bad_bounds_name_the_parameter(make, name):
    with pytest.raises((BadValue, BadType)) as e:
        make()
    assert str(e.value).startswith(name)


@given(S.theorem42_params(break_condition="v"))
@settings(max_examples=10, deadline=None)
def test_a_strategy_can_draw_outside_when_asked(p):
    """Negative control of test_theorem42_params_inside: the breaking strategy breaks."""
    c = theorem42_conditions(p["K"], p["Q"], p["d"], p["v"], p["l_b"], p["Z"])
    assert not c["v"]["holds"]
    assert st  # hypothesis strategies module in scope for readers
