"""Nothing silent: every public function taking paired arrays refuses mismatched shapes with a
BadValue naming both parameters (nothing is broadcast: shapes (3, 1) and (3,) would give a 3×3
matrix whose mean looks plausible and is wrong)."""
import importlib.util

import numpy as np
import pytest

import dpomath as dm
from dpomath import BadValue

TORCH = importlib.util.find_spec("torch") is not None
_free_logit = pytest.importorskip("dpomath.toys.free_logit")
_field = pytest.importorskip("dpomath.gradients.field")

# (call on arrays a, b) and the two names the message must carry
CASES = {
    "preference_loss": (lambda a, b: dm.preference_loss("sigmoid", a, b, beta=0.1),
                        "chosen_logratios", "rejected_logratios"),
    "preference_loss ipo": (lambda a, b: dm.preference_loss("ipo", a, b, beta=0.1),
                            "chosen_logratios", "rejected_logratios"),
    "preference_loss sft chosen_logps": (
        lambda a, b: dm.preference_loss("sft", b, b, beta=0.1, chosen_logps=a, gamma=0.1),
        "chosen_logratios", "chosen_logps"),
    "loss_partials": (lambda a, b: dm.loss_partials("sigmoid", a, b, beta=0.1), "hw", "hl"),
    "loss_partials flex": (lambda a, b: dm.loss_partials("flex", a, b, beta=0.1, beta_minus=0.2),
                           "hw", "hl"),
    "gradient_field probability": (lambda a, b: dm.gradient_field(np.exp(a), np.exp(b), beta=0.1),
                                   "u", "v"),
    "gradient_field log": (lambda a, b: dm.gradient_field(a, b, beta=0.1, coords="log"), "u", "v"),
    "probability_ratios": (lambda a, b: dm.probability_ratios(np.exp(-np.abs(a)), np.exp(-np.abs(b))),
                           "policy_chosen", "policy_rejected"),
    "probability_ratios reference": (
        lambda a, b: dm.probability_ratios(np.exp(-np.abs(a)), np.exp(-np.abs(a)),
                                           reference_chosen=np.exp(-np.abs(b))),
        "policy_chosen", "reference_chosen"),
    "dpo_first_order": (lambda a, b: _free_logit.dpo_first_order(np.full(a.shape, 0.2),
                                                                 np.full(b.shape, 0.3)),
                        "p_chosen", "p_rejected"),
}
SHAPES = [((2,), (1,)), ((3, 1), (3,)), ((3,), (2,)), ((2,), ())]


@pytest.mark.parametrize("case, shapes", [
    (c, s) for c in CASES for s in SHAPES
    if not (c == "probability_ratios reference" and s[1] == ())  # a scalar reference is documented
], ids=lambda x: x if isinstance(x, str) else f"{x[0]}-{x[1]}")
def test_mismatched_shapes_are_refused_naming_both(case, shapes):
    fn, first, second = CASES[case]
    a, b = np.full(shapes[0], 0.3), np.full(shapes[1], -0.2)
    with pytest.raises(BadValue) as e:
        fn(a, b)
    msg = str(e.value)
    assert msg.startswith(f"{first}, {second}: shapes ") and "differ" in msg, msg


@pytest.mark.parametrize("case", list(CASES))
def test_equal_shapes_still_work(case):
    fn, _, _ = CASES[case]
    out = fn(np.full((3, 2), 0.3), np.full((3, 2), -0.2))
    first = out[0] if isinstance(out, tuple) else (out["chosen"] if isinstance(out, dict) else out)
    assert np.shape(first) == (3, 2)


def test_the_reviews_examples():
    with pytest.raises(BadValue, match=r"^chosen_logratios, rejected_logratios: shapes \(2,\) and \(1,\) differ"):
        dm.preference_loss("sigmoid", [1, 2], [1], beta=0.1)
    with pytest.raises(BadValue, match=r"shapes \(3, 1\) and \(3,\) differ"):
        dm.preference_loss("sigmoid", np.ones((3, 1)), np.ones(3), beta=0.1)
    with pytest.raises(BadValue, match=r"shapes \(3,\) and \(2,\) differ"):
        dm.preference_loss("sigmoid", [1, 2, 3], [1, 2], beta=0.1)


def test_a_scalar_reference_applies_to_every_pair():
    x1, x2 = dm.probability_ratios([0.5, 0.25], [0.5, 0.5], reference_chosen=0.5)
    np.testing.assert_allclose(x1, [1.0, 0.5]) and np.testing.assert_allclose(x2, [0.5, 0.5])


@pytest.mark.skipif(not TORCH, reason="torch not installed")
def test_torch_tensors_too():
    import torch

    with pytest.raises(BadValue, match=r"^chosen_logratios, rejected_logratios: shapes \(3, 1\) and \(3,\)"):
        dm.preference_loss("sigmoid", torch.zeros(3, 1, dtype=torch.float64),
                           torch.zeros(3, dtype=torch.float64), beta=0.1)
    out = dm.margin_weight("sigmoid", torch.zeros(4, dtype=torch.float64))
    assert tuple(out.shape) == (4,)
