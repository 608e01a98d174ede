"""A conformance kit for other people's preference-loss code.

Call :func:`check_preference_loss` from your own test suite::

    import torch.nn.functional as F
    from dpomath.testing import check_preference_loss

    def dpo_loss(policy_chosen_logps, policy_rejected_logps,
                 reference_chosen_logps, reference_rejected_logps, beta):
        logits = (policy_chosen_logps - policy_rejected_logps) \\
            - (reference_chosen_logps - reference_rejected_logps)
        return -F.logsigmoid(beta * logits)

    def test_my_dpo_loss():
        report = check_preference_loss(dpo_loss, kind="sigmoid")
        print(report)        # which backend and which reduction it saw, what it checked

Your function takes the four log-probability vectors of the classic ``dpo_loss`` signature
(torch tensors or numpy arrays) and ``beta`` as a keyword, and returns the per-sample losses or
their mean; the kit finds out which and says so. It drives the function with Hypothesis-generated
batches (run inside the kit with its own explicit settings, so your Hypothesis profile does not
change what it checks) and compares it with dpomath's definition of the loss
(:func:`dpomath.losses.preference_loss`). A failed check raises ``AssertionError`` that explains,
in words, what is wrong, on the smallest batch Hypothesis could shrink the failure to, with the
numbers and the likely cause (wrong sign, β applied twice, reference left out, sum instead of
mean, chosen and rejected exchanged, an unstable log σ, another member of the family).

The checks, in order:

1. *probe*: the function runs, is deterministic, and returns one loss per sample or a scalar;
2. *reference point*: at πθ = π_ref (all log-ratios 0) the loss is f(0), log 2 for DPO;
3. *value*: equal to dpomath's definition on generated batches (tolerance from the output's
   floating-point precision and the conditioning of the loss at the batch);
4. *extreme margins*: finite values (and finite gradients) for margins up to ±1e4;
5. *reduction*: a scalar output is the batch mean; every sample's loss depends on its own row only;
6. *log-ratio dependence*: adding a constant to a response's policy and reference log-probability
   changes nothing (the loss sees them only through h = log πθ − log π_ref);
7. *shift invariance*: adding a constant to both log-ratios changes nothing, for the members that
   depend on h_w − h_l only (see :func:`symmetries`);
8. *swap identity*: exchanging chosen and rejected changes the loss by the member's exact odd part
   (ρ for DPO), where the member has one in closed form (see :func:`symmetries`);
9. *gradients*: equal and opposite in the log-ratio coordinates (∂L/∂h_w = −∂L/∂h_l, margin
   members), x₁·∂L/∂x₁ = −x₂·∂L/∂x₂ in the probability-ratio coordinates x = πθ/π_ref (so
   |∂L/∂x₁| / |∂L/∂x₂| = x₂/x₁, paper F), ∂L/∂π_ref-logp = −∂L/∂πθ-logp, and the values of
   dpomath's gradient. Autograd with torch; central differences with numpy.

The kit's parts: :mod:`~dpomath.testing._checks` (the checks, one module-level function each,
chosen for a member by :func:`~dpomath.testing._checks.yield_checks` from its
:class:`~dpomath.losses.spec.LossSpec`), :mod:`~dpomath.testing._harness` (calling your
function, the reference, the tolerances, the messages, the Hypothesis driver),
:mod:`~dpomath.testing._diagnose` (the likely cause of a failure) and
:mod:`~dpomath.testing.strategies` (the Hypothesis strategies, also ``dpomath.strategies``).
"""
from __future__ import annotations

import importlib.util
from typing import Any, Callable

from .._optional import require as _require

_require("hypothesis", "dpomath.testing (the conformance kit)")  # an ImportError naming the extra

from .. import _args  # noqa: E402
from .. import losses as L  # noqa: E402
from .._torch import num_threads  # noqa: E402
from ._checks import run_checks, symmetries  # noqa: E402
from ._harness import ConformanceReport, Harness  # noqa: E402

__all__ = ["check_preference_loss", "ConformanceReport", "symmetries", "SHIFT_INVARIANT",
           "SWAP_IDENTITIES"]

#: Members with L(h_w + c, h_l + c) = L(h_w, h_l) for every c (``LossSpec.shift_invariant``):
#: those that depend on the pair only through h_w − h_l (the margin members), and SFT-DPO when c
#: enters through the reference log-probabilities (its extra term −γ log πθ(y_w) sees the policy
#: only). Proved with SymPy in tests/test_testing.py; every other member is shown not invariant
#: there by a counterexample.
SHIFT_INVARIANT = frozenset(k for k, s in L.LOSSES.items() if s.shift_invariant)

#: kind → (the identity in words, g(o, h_w, h_l, β, **params)) with
#: L(h_l, h_w) − L(h_w, h_l) = g (``LossSpec.swap``): what exchanging chosen and rejected does
#: to the loss (for the length-normalised members the lengths are exchanged too). Proved with
#: SymPy in the tests. Members without one have no short closed form (hinge,
#: truncated-quadratic, flex, sft, nca-pair, discopop); their swap behaviour is covered by the
#: value check alone.
SWAP_IDENTITIES: dict[str, tuple[str, Callable]] = {k: s.swap for k, s in L.LOSSES.items() if s.swap}


def check_preference_loss(fn: Callable, kind: str = "sigmoid", beta: float | None = None, *,
                          examples: int = 50, backend: str = "auto", dtype: str = "float64",
                          rtol: float | None = None, max_size: int = 8,
                          max_margin: float = 1e4, **params: Any) -> ConformanceReport:
    """Check a user's preference loss against dpomath's member ``kind``; raise AssertionError
    with an explanation and the smallest failing batch on the first check that fails.

    ``fn(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
    reference_rejected_logps, beta=β)`` returns per-sample losses or their mean. For the
    length-normalised members (``sigmoid-norm``, ``ipo-norm`` = TRL's ``sigmoid_norm`` and
    ``ipo``) it is also passed ``chosen_lengths=`` and ``rejected_lengths=`` (completion token
    counts, drawn by the kit). ``beta``: a fixed β, or None to draw β ∈ [0.01, 10] per batch.
    ``params``: the member's parameters (``label_smoothing=``, ``tau=``, ``delta=``, ...) as your
    function uses them. ``examples``: generated batches per property. ``backend``: "auto" (torch
    tensors if torch is installed and the function returns a tensor for them, else numpy
    arrays), "torch" or "numpy". ``dtype``: of the input arrays, "float64" or "float32".
    ``rtol``: override the relative tolerance (default: 64 × the output's machine epsilon,
    scaled by the loss's conditioning at the batch). ``max_margin``: the largest |ρ| of the
    extreme-margin check (1e4: long sequences reach such margins; lower it only knowingly).
    ``max_size``: the largest batch drawn. Returns a :class:`ConformanceReport`.

    >>> import numpy as np
    >>> from scipy.special import log_expit
    >>> def dpo(pc, pr, rc, rr, beta):
    ...     return -log_expit(beta * ((pc - rc) - (pr - rr)))
    >>> print(check_preference_loss(dpo, "sigmoid", beta=0.1, examples=10).reduction)
    per-sample (one loss per pair)
    """
    if not callable(fn):
        raise _args.BadType(f"fn: expected a callable loss function, got {type(fn).__name__}")
    spec = L.get_loss(kind)
    if beta is not None:
        beta = _args.positive("beta", beta)
    examples = _args.integer("examples", examples, lo=1)
    max_size = _args.integer("max_size", max_size, lo=1)
    max_margin = _args.positive("max_margin", max_margin)
    backend = _args.choice("backend", backend, ("auto", "torch", "numpy"))
    dtype = _args.choice("dtype", dtype, ("float64", "float32"))
    if rtol is not None:
        rtol = _args.positive("rtol", rtol)
    for name, p in spec.params.items():
        if p.array and name in params:
            raise _args.BadValue(f"{name}: supplied by the kit (drawn per batch, or the policy "
                                 f"log-probabilities), not a parameter of check_preference_loss")
    checked = spec.check_params(params, arrays=False)
    if backend == "torch" and importlib.util.find_spec("torch") is None:
        raise _args.BadValue("backend: 'torch' asked for but torch is not installed")

    h = Harness(fn, spec.kind, beta, checked, examples, backend, dtype, rtol, max_size, max_margin)
    if h.torch is None:
        return run_checks(h)
    with num_threads(1):  # tiny tensors: thread hand-offs would cost 1000× the work
        return run_checks(h)
