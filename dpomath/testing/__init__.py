"""A conformance kit for other people's preference-loss code.

Call :func:`check_preference_loss` from your own test suite, on your function or module as it
is::

    from torchtune.rlhf.loss import DPOLoss
    from dpomath.testing import check_preference_loss

    def test_torchtune_dpo():
        print(check_preference_loss(DPOLoss(beta=0.1), kind="sigmoid", beta=0.1))

or make each check its own pytest item (scikit-learn's ``parametrize_with_checks`` is the
model)::

    from dpomath.testing import parametrize_with_checks

    @parametrize_with_checks(DPOLoss(beta=0.1), kind="sigmoid", beta=0.1)
    def test_torchtune_dpo(check):
        check()

The kit finds out how to call the function (:mod:`~dpomath.testing._calling`): plain functions
and ``torch.nn.Module`` instances; the inputs by name in TRL's, torchtune's, OpenRLHF's and
liger-kernel's spellings (``policy_chosen_logps`` or ``chosen_logps``, ``ref_chosen_logps``, ...)
or by position, ``argmap=`` for other names; β passed where the function takes it, else fixed
inside it (then give the kit that β); the member's parameters passed under the spelling the
function takes (``label_smoothing``, ``discopop_tau``, ``simpo_gamma``, ...); a tuple or dict
return read at ``output=`` (default: element 0, key ``"losses"``/``"loss"``); per-sample losses
or their mean. The kinds cover what users have: DPO (optionally with a target margin γ), cDPO,
robust, IPO (both forms), hinge (= torchtune's RSO), SimPO, CPO, ORPO, DPO-Positive, the
reward-model loss on two rewards, TRL's other loss types (:data:`dpomath.losses.LOSSES`).

It drives the function with Hypothesis-generated batches (run inside the kit with its own explicit
settings, so your Hypothesis profile does not change what it checks) and compares it with
dpomath's definition of the loss (:func:`dpomath.losses.preference_loss`). **Every check runs**;
one ``AssertionError`` lists each failing check with, in words, what is wrong on the smallest
batch Hypothesis could shrink the failure to, the numbers and the likely cause (wrong sign, β
applied twice, reference left out, sum instead of mean, chosen and rejected exchanged, an
overflowing exponential or log(sigmoid) — with the margin where it starts —, a precision-only
difference, a parameter ignored, another member of the family). The call convention the kit
detected heads the message. ``raise_on_failure=False`` returns the :class:`ConformanceReport`
instead. The kit's own frames are hidden from pytest's tracebacks.

The checks, in order:

1. *probe*: the function runs, is deterministic, and returns one loss per sample or a scalar;
2. *reference point*: at πθ = π_ref (all log-ratios 0; a tie for reference-free and reward
   losses) the loss is f(0), log 2 for DPO;
3. *value*: equal to dpomath's definition on generated batches (tolerance from the output's
   floating-point precision and the conditioning of the loss at the batch);
4. *extreme margins*: finite values (and finite gradients) for margins up to ±max_margin;
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

The kit's parts: :mod:`~dpomath.testing._calling` (the call convention),
:mod:`~dpomath.testing._checks` (the checks, one module-level function each, chosen for a member
by :func:`~dpomath.testing._checks.yield_checks` from its :class:`~dpomath.losses.spec.LossSpec`),
:mod:`~dpomath.testing._harness` (calling your function, the reference, the tolerances, the
messages, the Hypothesis driver), :mod:`~dpomath.testing._diagnose` (the likely cause of a
failure) and :mod:`~dpomath.testing.strategies` (the Hypothesis strategies, also
``dpomath.strategies``).
"""
from __future__ import annotations

import importlib.util
from typing import Any, Callable, Mapping

from .._optional import require as _require

_require("hypothesis", "dpomath.testing (the conformance kit)")  # an ImportError naming the extra

from .. import _args  # noqa: E402
from .. import losses as L  # noqa: E402
from .._torch import num_threads  # noqa: E402
from ._calling import detect  # noqa: E402
from ._checks import run_checks, run_one, symmetries, yield_checks  # noqa: E402
from ._harness import CHECK_NAMES, ConformanceReport, Fail, Harness  # noqa: E402

__all__ = ["check_preference_loss", "parametrize_with_checks", "ConformanceReport", "symmetries",
           "SHIFT_INVARIANT", "SWAP_IDENTITIES", "CHECK_NAMES"]

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
#: truncated-quadratic, flex, sft, nca-pair, discopop, simpo, dpop, dpop-outside); their swap
#: behaviour is covered by the value check alone.
SWAP_IDENTITIES: dict[str, tuple[str, Callable]] = {k: s.swap for k, s in L.LOSSES.items() if s.swap}


def _harness(fn, kind, beta, examples, backend, dtype, rtol, max_size, max_margin, argmap,
             output, params) -> Harness:
    """The arguments checked and the call convention detected: a ready :class:`Harness`."""
    if not callable(fn):
        raise _args.BadType(f"fn: expected a callable loss function or torch.nn.Module, got "
                            f"{type(fn).__name__}")
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
    if output is not None and not isinstance(output, (int, str)):
        raise _args.BadType(f"output: a position (int) or a key (str), got {type(output).__name__}")
    if argmap is not None and not isinstance(argmap, Mapping):
        raise _args.BadType(f"argmap: a mapping from the kit's inputs to your argument names, got "
                            f"{type(argmap).__name__}")
    params = spec.canonical(params)
    for name, p in spec.params.items():
        if p.array and name in params:
            raise _args.BadValue(f"{name}: supplied by the kit (drawn per batch, or the policy "
                                 f"log-probabilities), not a parameter of check_preference_loss")
    checked = spec.check_params(params, arrays=False)
    if backend == "torch" and importlib.util.find_spec("torch") is None:
        raise _args.BadValue("backend: 'torch' asked for but torch is not installed")
    conv = detect(fn, spec, beta, checked, argmap, output, given=tuple(params))
    if conv.module and backend == "numpy":
        raise _args.BadValue("backend: a torch.nn.Module is called with torch tensors; "
                             "backend='numpy' is not possible")
    h = Harness(fn, spec.kind, beta, checked, examples, backend, dtype, rtol, max_size,
                max_margin, conv)
    h.report.params = {k: v for k, v in checked.items()  # given, or a default that is not "none"
                       if k in params or spec.params[k].default}
    h.given = set(params)
    return h


def check_preference_loss(fn: Callable, kind: str = "sigmoid", beta: float | None = None, *,
                          examples: int = 50, backend: str = "auto", dtype: str = "float64",
                          rtol: float | None = None, max_size: int = 8,
                          max_margin: float = 1e4, argmap: Mapping[str, str] | None = None,
                          output: int | str | None = None, raise_on_failure: bool = True,
                          **params: Any) -> ConformanceReport:
    """Check a preference loss against dpomath's member ``kind``; run every check and raise one
    AssertionError listing each failing check with its explanation.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        The loss, as it is. Its inputs are found by name (``policy_chosen_logps`` /
        ``chosen_logps``, ``reference_chosen_logps`` / ``ref_chosen_logps``, ... — TRL's,
        torchtune's, OpenRLHF's and liger-kernel's spellings; OpenRLHF's ``chosen_reward`` /
        ``reject_reward`` for the reward-model loss) or else by position in the classic order
        (policy chosen, policy rejected, reference chosen, reference rejected). Reference-free
        members (``simpo``, ``cpo``, ``orpo``) get the policy's two only; ``reward-model`` with a
        two-input function gets (r₊, r₋). It returns per-sample losses or their mean, or a tuple
        or dict holding them (``output``).
    kind : str
        The member of :data:`dpomath.losses.LOSSES` (or an alias: ``dpo``, ``rso``, TRL's names).
    beta : float, optional
        A fixed β; None (default) draws β ∈ [0.01, 10] per batch. Required when ``fn`` takes no
        β (fixed inside it); for a reward loss on two rewards β is then 1.
    examples : int
        Generated batches per property (50).
    backend : {"auto", "torch", "numpy"}
        "auto": torch tensors if torch is installed and the function returns a tensor for them
        (always for a Module), else numpy arrays.
    dtype : {"float64", "float32"}
        Of the input arrays.
    rtol : float, optional
        Override the relative tolerance (default: 64 × the output's machine epsilon, scaled by
        the loss's conditioning at the batch).
    max_size : int
        The largest batch drawn (8).
    max_margin : float
        The largest margin the checks reach: the extreme-margin check goes to ±max_margin and
        generated batches are scaled so that β(|h_w| + |h_l|) ≤ max_margin, whatever β is drawn
        (1e4: long sequences reach such margins; lower it only knowingly).
    argmap : mapping, optional
        The kit's input or parameter → ``fn``'s argument name, for names the kit does not know
        (``{"policy_chosen_logps": "logp_w", "beta": "temperature"}``).
    output : int or str, optional
        Which element of a tuple/list (position) or dict (key) holds the losses; default 0 and
        ``"losses"``/``"loss"``.
    raise_on_failure : bool
        False: return the :class:`ConformanceReport` with its ``failures`` instead of raising.
    **params
        The member's parameters (``label_smoothing=``, ``tau=`` or ``discopop_tau=``,
        ``gamma=``, ``cpo_alpha=``, ...), passed to ``fn`` too under the name it takes them by.

    Returns
    -------
    ConformanceReport
        What was seen and checked; ``str()`` of it is the report.

    Raises
    ------
    AssertionError
        A check failed (every failing check is listed, with the call convention first).
    dpomath.BadValue, dpomath.BadType
        A bad argument, or ``fn`` cannot be called (an argument the kit cannot fill, β fixed
        inside and not given) — naming the parameter.

    >>> import numpy as np
    >>> from scipy.special import log_expit
    >>> def dpo(pc, pr, rc, rr, beta):
    ...     return -log_expit(beta * ((pc - rc) - (pr - rr)))
    >>> print(check_preference_loss(dpo, "sigmoid", beta=0.1, examples=10).reduction)
    per-sample (one loss per pair)
    """
    __tracebackhide__ = True
    h = _harness(fn, kind, beta, examples, backend, dtype, rtol, max_size, max_margin, argmap,
                 output, params)
    if h.torch is None:
        return run_checks(h, raise_on_failure)
    with num_threads(1):  # tiny tensors: thread hand-offs would cost 1000× the work
        return run_checks(h, raise_on_failure)


class _CheckItem:
    """One check of one loss, as a pytest parameter: calling it runs the probe and that check."""

    def __init__(self, name: str, args: tuple, kwargs: dict):
        self.name, self.args, self.kwargs = name, args, kwargs

    def __repr__(self) -> str:
        return f"<check {self.name!r} of {self.kwargs.get('kind', 'sigmoid')!r}>"

    def __call__(self) -> None:
        __tracebackhide__ = True
        import pytest

        kw = dict(self.kwargs)
        fn = kw.pop("fn")
        opts = {k: kw.pop(k) for k in ("kind", "beta", "examples", "backend", "dtype", "rtol",
                                       "max_size", "max_margin", "argmap", "output") if k in kw}
        h = _harness(fn, opts.get("kind", "sigmoid"), opts.get("beta"), opts.get("examples", 50),
                     opts.get("backend", "auto"), opts.get("dtype", "float64"), opts.get("rtol"),
                     opts.get("max_size", 8), opts.get("max_margin", 1e4), opts.get("argmap"),
                     opts.get("output"), kw)
        h.isolated = True  # the other checks' findings are not known here
        with num_threads(1):
            for c in yield_checks(h):
                if c.name != "probe" and c.name != self.name:
                    continue
                if c.skip:
                    pytest.skip(c.skip)
                try:
                    run_one(h, c)
                except Fail as e:
                    h.report.failures.append((c.name, str(e)))
                    head = h.report.headline() if c.name == self.name else (
                        f"{h.fname}: the probe failed, so the {self.name} check cannot run")
                    raise AssertionError(f"{head}\n{h.conv.words(h.beta)}\n{e}") from None
                if c.name == self.name:
                    return


def parametrize_with_checks(fn: Callable, kind: str = "sigmoid", **options: Any):
    """A ``pytest.mark.parametrize`` decorator making each check of the kit its own test item
    (modelled on scikit-learn's ``parametrize_with_checks``): the test receives ``check`` and
    calls it.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        The loss (see :func:`check_preference_loss`).
    kind : str
        The member.
    **options
        Any other argument of :func:`check_preference_loss` (``beta=``, ``dtype=``,
        ``label_smoothing=``, ...).

    Returns
    -------
    pytest.MarkDecorator
        Items named ``<kind>-<check>`` (``sigmoid-value``, ``sigmoid-gradients``, ...); a check
        that does not apply to the member or function is skipped with the reason.

    ::

        @parametrize_with_checks(DPOLoss(beta=0.1), "sigmoid", beta=0.1)
        def test_dpo(check):
            check()
    """
    import pytest

    if not callable(fn):
        raise _args.BadType(f"fn: expected a callable loss function or torch.nn.Module, got "
                            f"{type(fn).__name__}")
    spec = L.get_loss(kind)
    items = [pytest.param(_CheckItem(name, (), dict(options, fn=fn, kind=kind)),
                          id=f"{spec.kind}-{name.replace(' ', '-')}") for name in CHECK_NAMES]
    return pytest.mark.parametrize("check", items)
