"""The kit's checks, one module-level function each (scikit-learn's
``utils/estimator_checks.py`` is the model): ``check_xxx(h)`` runs once on fixed batches,
``check_xxx(h, case)`` (and ``check_xxx(h, case, c)`` with a drawn constant c) is a property run
by the :class:`~dpomath.testing._harness.Harness` on Hypothesis-generated batches. A failure
raises :class:`~dpomath.testing._harness.Fail` with the explanation.

:func:`yield_checks` chooses the checks of a member from the facts on its
:class:`~dpomath.losses.spec.LossSpec` (shift invariance, swap identity, margin member, kinks,
reference-free) and from what the probe found (backend, output precision); :func:`run_checks`
runs every one of them and reports each failure.
"""
from __future__ import annotations

import inspect
import math
from functools import partial
from typing import Callable, Iterator, NamedTuple

import numpy as np

from .. import losses as L
from .._args import is_torch
from ..losses.ops import numpy_ops
from ._calling import _SelectError
from ._diagnose import diagnose, nonfinite_cause, rows_at_fault
from ._harness import NAMES, SHORT, Case, ConformanceReport, Fail, Harness, LeftOut, fmt

__all__ = ["symmetries", "check_probe", "check_reference_point", "check_value",
           "check_extreme_margins", "check_reduction", "check_log_ratio", "check_shift",
           "check_swap", "check_gradients", "Check", "yield_checks", "run_checks", "run_one"]


def symmetries(kind: str) -> dict[str, str]:
    """The symmetries of member ``kind`` that the kit checks, in words.

    >>> symmetries("sigmoid")["swap"]
    'L(swap) − L = softplus(γ + ρ) − softplus(γ − ρ), which is ρ at γ = 0'
    >>> symmetries("nca-pair")["shift"]
    'no: depends on h_w and h_l separately'
    """
    spec = L.get_loss(kind)
    k = spec.kind
    if spec.reference_free:
        lr = "no reference: L depends on the policy's log-probabilities alone"
    elif k == "sft":
        lr = "rejected side only: −γ log πθ(y_w) sees the policy"
    else:
        lr = "yes: L depends on πθ and π_ref only through h = log πθ − log π_ref"
    out = {"log-ratio": lr}
    if spec.shift_invariant:
        out["shift"] = ("yes: L(h_w + c, h_l + c) = L for every c" + (
            " (c added through the reference)" if k == "sft" else ""))
    elif "chosen_lengths" in spec.params:
        out["shift"] = "no: h_w/n_w − h_l/n_l changes unless n_w = n_l"
    else:
        out["shift"] = "no: depends on h_w and h_l separately"
    out["swap"] = spec.swap[0] if spec.swap else "no closed form"
    out["gradient"] = ("equal and opposite: ∂L/∂h_w = −∂L/∂h_l = β f′(ρ); "
                       "x₁ ∂L/∂x₁ = −x₂ ∂L/∂x₂" if spec.is_margin_loss else
                       "not equal and opposite (not a function of the margin alone)")
    return out


# ---------------------------------------------------------------- helpers of the checks

def _compare(h, got, eps, ref_ps, case: Case, check: str, expected_words: str,
             explain: bool = True):
    """Fail unless ``got`` equals the reduced ``ref_ps`` within the tolerance."""
    _check_shape(h, got, case)
    want = h.reduce(ref_ps)
    tol_ps = h.tolerance(case, ref_ps, eps)
    tol = tol_ps if h.reduction == "per-sample" else np.mean(tol_ps)
    g, w = np.atleast_1d(got), np.atleast_1d(want)
    both_inf = np.isinf(w) & (np.isinf(g) | (np.abs(g) >= np.finfo(np.float32).max)) & (np.sign(g) == np.sign(w))
    with np.errstate(invalid="ignore"):
        bad = ~both_inf & ~(np.abs(g - w) <= np.atleast_1d(tol))
    if not bad.any():
        return
    i = int(np.argmax(np.where(bad, np.nan_to_num(np.abs(g - w), nan=np.inf), -1)))
    if g.size > 8:  # a long fixed batch: show the worst sample alone
        msg = (h.head(f"the {check} check failed") +
               f"Sample {i} of a batch of {case.n} (the worst):\n" + h.describe(h.sub(case, i)) +
               f"Your function returned {g[i]:.10g}; {expected_words} {w[i]:.10g}.\n"
               f"They differ by {abs(g[i] - w[i]):.3g} (tolerance {np.atleast_1d(tol)[i]:.3g}).\n")
    else:
        msg = (h.head(f"the {check} check failed") + h.describe(case) +
               f"Your function returned {h.shown(got)}\n"
               f"{expected_words} {fmt(want)}\n"
               f"They differ by {abs(g[i] - w[i]):.3g} "
               f"{'at sample ' + str(i) if h.reduction == 'per-sample' else 'in the batch mean'}"
               f" (tolerance {np.atleast_1d(tol)[i]:.3g}).\n")
    if h.reduction == "mean" and case.n > 1:
        msg += rows_at_fault(h, case, ref_ps)
    if not np.all(np.isfinite(g)):
        h.nonfinite_seen = True
    if explain:
        causes = diagnose(h, got, eps, case)
        if causes:
            msg += "Likely cause: " + "; or ".join(causes) + ("" if causes[-1][-1] in ".?)" else ".") + "\n"
    raise Fail(msg)


def _check_shape(h, got, case):
    if h.reduction == "per-sample" and got.shape != (case.n,):
        raise Fail(h.head("its output shape changed") + h.describe(case) +
                   f"On the first batch it returned one loss per sample; here it returned shape "
                   f"{got.shape} for a batch of {case.n}.\n")
    if h.reduction == "mean" and got.ndim != 0 and got.size != 1:
        raise Fail(h.head("its output shape changed") + h.describe(case) +
                   f"On the first batch it returned a scalar; here shape {got.shape}.\n")


def _invariance(h, case, moved: Case, what: str, why: str, want_delta=None):
    """The output changes by ``want_delta`` (per sample; 0 by default) from case to moved."""
    got, eps = h.call(case)
    got2, _ = h.call(moved)
    if h.nonfinite_seen and not (np.all(np.isfinite(got)) and np.all(np.isfinite(got2))):
        raise LeftOut  # inf/NaN where the loss is finite: reported by the value checks
    delta = np.zeros(case.n) if want_delta is None else want_delta
    tol = h.tolerance(case, h.ref(case), eps) + h.tolerance(moved, h.ref(moved), eps)
    tol = tol if h.reduction == "per-sample" else np.mean(tol)
    change, want = got2 - got, h.reduce(delta)
    if not np.all(np.abs(change - want) <= tol):
        raise Fail(h.head(f"the {what} check failed") + h.describe(case) + why +
                   f"\nYour function returned {h.shown(got)} on this batch and "
                   f"{h.shown(got2)} after the change:\na change of {fmt(change)} "
                   f"where it must be {fmt(want)}.\n")


_PROBE_X = (np.array([-1.0, -2.5, -0.3]), np.array([-2.0, -1.0, -4.0]),
            np.array([-1.5, -2.0, -0.8]), np.array([-1.7, -1.2, -3.1]))


def check_probe(h):
    case = h.case(h.from_logps(_PROBE_X), 0.5 if h.beta is None else h.beta,
                  lengths=([3.0, 5.0, 2.0], [4.0, 1.0, 6.0]))
    tried = []
    order = ["torch", "numpy"] if h.backend == "auto" else [h.backend]
    if h.backend == "auto" and h.torch is None:
        order = ["numpy"]
    detached = False
    for backend in order:
        try:
            leaves = [h.to_backend(case.x[j], backend, grad=backend == "torch") for j in h.inputs]
            raw = h.conv.call(h.fn, h.values(case, backend, leaves), h.params, case.n, backend,
                              h.torch, select=False)
            h.conv.returned = h.conv.describe_output(raw)
            out = h.conv.select(raw)
        except _SelectError as e:
            raise Fail(h.head("its output could not be read") + str(e) + "\n") from None
        except Exception as e:
            tried.append((backend, f"raised {type(e).__name__}: {e}"))
            continue
        if backend == "torch" and h.backend == "auto" and not (
                is_torch(out) and out.requires_grad):
            # a numpy function can return tensors through __array_wrap__, without gradient
            detached = is_torch(out)
            tried.append((backend, "returned " + ("a tensor without gradient" if detached else
                                                  f"{type(out).__name__}, not a tensor")))
            continue
        h.backend = backend
        break
    else:
        if detached:
            raise Fail(h.head("its output carries no gradient") + h.describe(case) +
                       "Called with torch tensors that require grad it returned a tensor "
                       "without gradient (a .detach(), .item() or numpy round trip inside?)"
                       + (f"; it returned {h.conv.returned} — if the losses are another "
                          "element, say which with output=" if h.conv.returned else "")
                       + ". (With numpy arrays it " + tried[-1][1] + ".)\n")
        first = tried[0]
        others = [t for t in tried[1:] if t[1] != first[1]]
        raise Fail(h.head("calling it raised an exception" if first[1].startswith("raised")
                          else "it returned no tensor and does not run on numpy arrays") +
                   f"With {'torch tensors' if first[0] == 'torch' else 'numpy arrays'} it "
                   f"{first[1]}\n"
                   + "".join(f"(With {'numpy arrays' if b == 'numpy' else 'torch tensors'} it "
                             f"{m}.)\n" for b, m in others) + h.describe(case))
    got, eps = h.as_numpy(out, case)
    if got.shape == (case.n,):
        h.reduction = "per-sample"
    elif got.ndim == 0 or got.size == 1:
        h.reduction = "mean"
        got = got.reshape(())
    else:
        raise Fail(h.head("its output has the wrong shape") + h.describe(case) +
                   f"It returned shape {got.shape}; expected ({case.n},) (one loss per sample) "
                   "or a scalar (their mean)." + (f" It returned {h.conv.returned}: choose "
                                                  "another element with output=." if h.conv.returned else "") + "\n")
    x = case.x
    other = h.case((x[1], x[0], x[3] - (1.0 if h.mode == "log-ratios" else 0.0), x[2]),
                   case.beta, case.lengths)
    h.call(other, what="a second batch")  # a hidden state would move here
    again, _ = h.call(case)
    if not np.array_equal(np.asarray(again).reshape(got.shape), got, equal_nan=True):
        raise Fail(h.head("it is not deterministic") + h.describe(case) +
                   f"Two calls on the same batch (with another batch between them) returned "
                   f"{fmt(got)} and {fmt(again)}. "
                   "A loss with hidden state (such as the running reward mean δ of TRL ≤ 0.28's "
                   "`bco_pair`) cannot be checked; pass the state explicitly (dpomath's "
                   "`bco-pair` takes δ as the parameter `delta`).\n")
    h.out_eps = eps
    h.report.backend = h.backend + ("" if h.backend == "numpy" or h.torch is None
                                    else " (autograd)")
    if h.backend == "numpy":
        h.report.backend = "numpy (gradients by central differences)"
    h.report.reduction = ("per-sample (one loss per pair)" if h.reduction == "per-sample"
                          else "batch mean (a scalar)")
    h.report.checks.append(("probe", "runs, deterministic, shape understood", 1))


def check_reference_point(h):
    logp = np.array([-0.5, -3.0, -12.0, -40.0])
    beta = 0.1 if h.beta is None else h.beta
    if h.mode == "log-ratios":
        x = (logp, logp[::-1].copy(), logp.copy(), logp[::-1].copy())
        where, words = "πθ = π_ref", "At πθ = π_ref every log-ratio is 0"
    else:
        z = np.zeros(4)
        x = (logp, logp.copy(), z, z.copy())
        where, words = (("r₊ = r₋", "At r₊ = r₋ (a tie)") if h.mode == "rewards" else
                        ("πθ(y_w) = πθ(y_l)", "At a tie, πθ(y_w) = πθ(y_l)"))
    case = h.case(x, beta, lengths=([1.0, 2.0, 7.0, 30.0], [5.0, 1.0, 3.0, 9.0]))
    got, eps = h.call(case, what=f"a batch with {where}")
    ref = h.ref(case)
    f0 = (f"log 2 ≈ {math.log(2):.6f}" if np.allclose(ref, math.log(2), rtol=1e-15, atol=0)
          else f"f(0) = {fmt(ref[0]) if np.ptp(ref) == 0 else fmt(ref)}")
    _compare(h, got, eps, ref, case, "reference-point",
             f"{words}, so the `{h.kind}` loss must be {f0}; expected")
    h.report.checks.append(("reference point", f"L = {f0} at {where}", 1))


def check_value(h, case):
    got, eps = h.call(case)
    _compare(h, got, eps, h.ref(case), case, "value", "dpomath's definition gives")


def _extreme_case(h) -> Case:
    beta = 0.1 if h.beta is None else h.beta
    if h.mode == "reference-free":  # log-probabilities ≤ 0 (ORPO: < 0)
        top = 0.0 if h.spec.input_max is None else min(0.0, h.spec.input_max - 0.5)
        pairs = [(0, -1), (-1, 0), (-1, -1)]
    else:
        top = 0.0
        pairs = [(1, -1), (-1, 1), (1, 1), (-1, -1), (1, 0), (0, -1), (-1, 0), (0, 1)]
    hw, hl = [], []
    for m in (h.max_margin / 200, h.max_margin / 20, h.max_margin / 2):
        # |β h| up to max_margin/2, so |ρ| up to max_margin (1e4 by default)
        for a, b in pairs:
            hw.append(a * m / beta + top)
            hl.append(b * m / beta + top)
    hw, hl = np.array(hw), np.array(hl)
    if h.mode == "log-ratios":
        rc, rr = -np.abs(hw) - 1.0, -np.abs(hl) - 1.0
        return h.case((rc + hw, rr + hl, rc, rr), beta)
    z = np.zeros_like(hw)
    return h.case((hw, hl, z, z.copy()), beta)


def check_extreme_margins(h):
    case = _extreme_case(h)
    got, eps = h.call(case, what=f"a batch with margins up to ±{h.max_margin:g}")
    _check_shape(h, got, case)
    ref = h.ref(case)
    fin = np.isfinite(ref)
    bad = fin & ~np.isfinite(np.atleast_1d(got)) if h.reduction == "per-sample" else (
        np.array([not np.isfinite(got)]) if np.all(fin) else np.array([False]))
    if bad.any():
        h.nonfinite_seen = True
        if h.reduction == "per-sample":
            i = int(np.argmax(bad))
            rows = ""
        else:  # a batch mean: which rows are at fault, each called alone
            alone = [np.atleast_1d(h.call(h.sub(case, k), what=f"row {k} alone")[0])[0]
                     for k in range(case.n)]
            at_fault = [k for k in range(case.n) if fin[k] and not np.isfinite(alone[k])]
            i = at_fault[0] if at_fault else 0
            rows = (f"Called alone, {len(at_fault)} of the {case.n} rows return inf or NaN: rows "
                    f"{', '.join(map(str, at_fault[:12]))}{' …' if len(at_fault) > 12 else ''} "
                    f"(margins ρ = {fmt(case.rho[at_fault[:12]])}).\n" if at_fault else "")
        a, b = {"rewards": ("r₊", "r₋"), "reference-free": ("log πθ(y_w)", "log πθ(y_l)")}.get(
            h.mode, ("h_w", "h_l"))
        where = (f"at margin ρ = {case.rho[i]:g} ({a} = {case.hw[i]:g}, {b} = {case.hl[i]:g}), "
                 f"where the loss is {ref[i]:.6g}")
        shown = (fmt(np.atleast_1d(got)[i]) + " " + where if h.reduction == "per-sample"
                 else fmt(got) + " for the batch mean; the first row at fault is sample "
                 f"{i}, {where}")
        raise Fail(h.head("it is not finite at extreme margins") +
                   f"Sample {i} of a batch of {case.n}:\n" + h.describe(h.sub(case, i)) +
                   f"It returned {shown}.\n" + rows +
                   "Likely cause: " + nonfinite_cause(h, case, i) + "\n")
    _compare(h, got, eps, ref, case, "extreme-margin", "dpomath's definition gives")
    what = f"finite and equal to the definition for |ρ| up to {h.max_margin:g}"
    if h.backend == "torch":
        grads = h.torch_grads(case)
        for j in h.inputs:
            g = grads[j]
            ok = np.isfinite(g) | ~(np.isfinite(ref) if h.reduction == "per-sample" else fin.all())
            if not np.all(ok):
                k = int(np.argmax(~ok))
                raise Fail(h.head("its gradient is not finite at extreme margins") +
                           f"Sample {k} of a batch of {case.n}:\n" + h.describe(h.sub(case, k)) +
                           f"∂L/∂{h.input_names()[h.inputs.index(j)]} = {g[k]:.6g} where the loss "
                           f"is finite ({ref[k]:.6g}).\nLikely cause: " +
                           nonfinite_cause(h, case, k, gradient=True) + "\n")
        what += ", finite gradients"
    h.report.checks.append(("extreme margins", what, 1))


def check_reduction(h, case):
    got, eps = h.call(case)
    singles = np.array([float(np.reshape(h.call(h.sub(case, i), what=f"sample {i} alone")[0], -1)[0])
                        for i in range(case.n)])
    if h.reduction == "per-sample":
        tol = h.tolerance(case, h.ref(case), eps)
        bad = ~(np.abs(got - singles) <= tol)
        if bad.any():
            i = int(np.argmax(bad))
            raise Fail(h.head("per-sample losses depend on the rest of the batch") +
                       h.describe(case) +
                       f"On the whole batch it returned {fmt(got)}, but sample {i} alone gives "
                       f"{singles[i]:.10g}. A per-sample loss must depend on its own pair only "
                       "(batch statistics such as a mean reward baseline break this).\n")
    else:
        want = float(np.mean(singles))
        tol = float(np.mean(h.tolerance(case, h.ref(case), eps)))
        if not abs(float(got) - want) <= tol:
            extra = (f" It equals their sum {np.sum(singles):.10g} instead."
                     if abs(float(got) - np.sum(singles)) <= tol * case.n else "")
            raise Fail(h.head("its scalar output is not the batch mean") +
                       h.describe(case) +
                       f"On the whole batch it returned {float(got):.10g}; the samples alone give "
                       f"{fmt(singles)}, whose mean is {want:.10g}.{extra}\n")


def check_log_ratio(h, case, c):
    x = case.x
    moved = h.case((x[0] + c, x[1], x[2] + c, x[3]) if h.kind != "sft" else
                   (x[0], x[1] + c, x[2], x[3] + c), case.beta, case.lengths)
    side = "chosen" if h.kind != "sft" else "rejected"
    _invariance(h, case, moved, "log-ratio dependence",
                f"Adding c = {c:g} to both the policy and the reference log-probability of "
                f"each {side} response leaves every log-ratio unchanged, so the loss must "
                "not change. (Reference log-probabilities left out, or used in another "
                "way than log πθ − log π_ref?)")


def check_shift(h, case, c):
    x = case.x
    if h.mode == "log-ratios":
        moved = h.case((x[0], x[1], x[2] - c, x[3] - c), case.beta, case.lengths)
        how = f"Lowering both reference log-probabilities by c = {c:g} adds c to both log-ratios"
    else:
        moved = h.case((x[0] + c, x[1] + c, x[2], x[3]), case.beta, case.lengths)
        how = f"Adding c = {c:g} to both inputs"
    _invariance(h, case, moved, "shift invariance",
                f"{how}; the `{h.kind}` loss depends on their difference only, so it must "
                "not change.")


def check_swap(h, case):
    words, g = h.spec.swap
    x = case.x
    moved = Case((x[1], x[0], x[3], x[2]), case.beta,
                 None if case.lengths is None else case.lengths[::-1])
    p = {k: v for k, v in h.ref_params(case).items() if k in inspect.signature(g).parameters}
    hw, hl = h.logratios(x)
    with np.errstate(over="ignore"):
        delta = np.asarray(g(numpy_ops(), hw, hl, case.beta, **p), dtype=np.float64)
    if not np.all(np.isfinite(delta)):
        return
    what = ["policy and reference"] if h.mode == "log-ratios" else []
    what += ["the lengths"] if h.conv.lengths else []
    _invariance(h, case, moved, "swap identity",
                "Exchanging chosen and rejected" + (f" ({' and '.join(what)})" if what else "")
                + f" must change the `{h.kind}` loss by exactly {words.split(' = ', 1)[1]}: "
                f"{words} (ρ = β(h_w − h_l)).", want_delta=delta)


def check_gradients(h, case: Case):
    fd = h.backend == "numpy"
    grads = h.fd_grads(case) if fd else h.torch_grads(case)
    names = dict(zip(h.inputs, h.input_names()))
    rho = case.rho
    smooth = np.ones(case.n, bool)
    for k in h.spec.kinks:
        smooth &= np.abs(rho - k) > (1e-4 if fd else 1e-12) * max(1.0, abs(k))
    for k in h.spec.kinks_hw:
        smooth &= np.abs(case.hw - k) > (1e-4 if fd else 1e-12) * max(1.0, abs(k))
    rtol = h.rtol_user if h.rtol_user is not None else (
        1e-4 if fd else max(1000 * h.out_eps, 1e-9))
    gscale = max((float(np.max(np.abs(g))) for g in grads), default=0.0)
    atol = (1e-6 if fd else 100 * h.out_eps) * (1.0 + case.beta) + rtol * gscale

    def close(a, b):
        return (np.abs(a - b) <= rtol * np.abs(b) + atol) | ~smooth

    def fail(what, detail):
        raise Fail(h.head(f"the gradient check failed: {what}") + h.describe(case) +
                   detail + ("\n(Gradients by central differences of your numpy function.)" if fd else "")
                   + "\n")

    # the reference enters only through the log-ratios (a detached reference is fine: it is
    # a constant in training; the value check "log-ratio" covers how it enters then)
    log_ratios = h.mode == "log-ratios"
    pairs = ([(1, 3)] + ([] if h.kind == "sft" else [(0, 2)])) if log_ratios else []
    detached = log_ratios and not fd and not np.any(grads[2]) and not np.any(grads[3])
    for a, b in ([] if detached else pairs):
        if not np.all(close(grads[b], -grads[a])):
            fail("the reference does not enter through the log-ratio",
                 f"∂L/∂{NAMES[b]} = {fmt(grads[b])}\n∂L/∂{NAMES[a]} = {fmt(grads[a])}\n"
                 f"They must be equal and opposite: the loss sees {SHORT[a]} and {SHORT[b]} only "
                 f"through log {SHORT[a]} − log {SHORT[b]}. (Reference log-probabilities left "
                 "out, detached, or entering another way?)")
    if h.spec.is_margin_loss:
        if not np.all(close(grads[1], -grads[0])):
            fail("not equal and opposite in the log-ratios",
                 f"∂L/∂h_w = ∂L/∂{names[0]} = {fmt(grads[0])}\n∂L/∂h_l = ∂L/∂{names[1]} = "
                 f"{fmt(grads[1])}\nThe `{h.kind}` loss is a function of ρ = β(h_w − h_l) "
                 "alone, so ∂L/∂h_w = −∂L/∂h_l for every sample.")
        if log_ratios and np.all(np.abs(np.concatenate([case.hw, case.hl])) < 300):
            gx = h.fd_grads(case, xcoords=True) if fd else h.torch_grads(case, xcoords=True)
            x1, x2 = np.exp(case.hw), np.exp(case.hl)
            lhs, rhs = x1 * gx[0], -x2 * gx[1]
            if not np.all(close(lhs, rhs)):
                fail("the x₂/x₁ ratio in probability-ratio coordinates",
                     f"With x₁ = πθ(y_w)/π_ref(y_w) = {fmt(x1)} and x₂ = πθ(y_l)/π_ref(y_l) = "
                     f"{fmt(x2)}:\n∂L/∂x₁ = {fmt(gx[0])}\n∂L/∂x₂ = {fmt(gx[1])}\n"
                     "For a loss of the margin alone ∂L/∂x₁ / ∂L/∂x₂ = −x₂/x₁ (paper F); "
                     f"here x₁∂L/∂x₁ = {fmt(lhs)} but −x₂∂L/∂x₂ = {fmt(rhs)}.")
    ref = h.ref_grads(case)
    if ref is not None:
        for j in ((0, 1) if detached or not log_ratios else range(4)):
            ok = close(grads[j], ref[j])
            if not np.all(ok):
                i = int(np.argmax(~ok))
                rel = float(np.max(np.abs(grads[j] - ref[j]) / (np.abs(ref[j]) + atol)))
                hint = (f" They agree to {rel:.1g} relative: a precision difference (a float32 "
                        "constant or intermediate?), not another formula."
                        if rel < 1e-5 and np.all(np.isfinite(grads[j])) else
                        " The values differ too (see the value check)." if h.value_failed else
                        (" If the value check passes, the gradient is computed differently from "
                         "the value" if h.isolated else
                         " The loss values agree, so the gradient is computed differently from "
                         "the value") + " — a custom backward, a detached term or a "
                        "straight-through trick?")
                fail(f"∂L/∂{names[j]} differs from dpomath's",
                     f"∂L/∂{names[j]}: yours {fmt(grads[j])}\n"
                     f"{'':>{len(names[j]) + 5}}dpomath's {fmt(ref[j])}\n"
                     f"(first difference at sample {i}.){hint}")


# ---------------------------------------------------------------- which checks, in which order

class Check(NamedTuple):
    """One check of the kit: ``mode`` is "once" (``fn(h)``), "property" (``fn(h, case)`` on
    generated batches) or "property+c" (``fn(h, case, c)``, c a drawn constant ≠ 0); a check
    with ``skip`` set is reported as skipped with that reason."""

    name: str
    what: str
    fn: Callable | None
    mode: str = "property"
    finite_only: bool = True
    skip: str = ""


def yield_checks(h: Harness) -> Iterator[Check]:
    """The checks for ``h``'s member, in order (the names of :data:`CHECK_NAMES`). Lazy: the
    later ones depend on what the probe (the first) found out about the function."""
    spec = h.spec
    yield Check("probe", "", check_probe, "once")
    yield Check("reference point", "", check_reference_point, "once")
    yield Check("value", "equals dpomath's definition", check_value, finite_only=False)
    yield Check("extreme margins", "", check_extreme_margins, "once")
    yield Check("reduction", "scalar = batch mean / each sample depends on its own pair only",
                check_reduction)
    if h.mode == "log-ratios":
        yield Check("log-ratio", "adding c to a response's policy and reference logp changes nothing",
                    check_log_ratio, "property+c")
    else:
        yield Check("log-ratio", "", None, skip=(
            "the inputs are rewards, not log-probabilities" if h.mode == "rewards" else
            f"`{spec.kind}` is reference-free: there is no reference log-probability"))
    if spec.shift_invariant:
        yield Check("shift invariance", "L(h_w + c, h_l + c) = L(h_w, h_l)", check_shift, "property+c")
    else:
        yield Check("shift invariance", "", None, skip=f"`{spec.kind}`: {symmetries(spec.kind)['shift']}")
    if spec.swap:
        yield Check("swap identity", spec.swap[0], check_swap)
    else:
        yield Check("swap identity", "", None, skip=f"`{spec.kind}` has no closed-form swap identity")
    if h.backend == "numpy" and h.out_eps > 1e-15:
        yield Check("gradients", "", None, skip="numpy function with a low-precision output: "
                                                "central differences would be noise")
    else:
        parts = (["∂ref = −∂policy"] if h.mode == "log-ratios" else []) + (
            ["∂h_w = −∂h_l"] if spec.is_margin_loss else []) + (
            ["x₁∂x₁ = −x₂∂x₂"] if spec.is_margin_loss and h.mode == "log-ratios" else []) + (
            ["= dpomath's gradient"] if h.torch is not None else [])
        what = ", ".join(parts) or "computed (no identity applies)"
        yield Check("gradients", what, check_gradients)


def run_one(h: Harness, c: Check) -> None:
    """Run check ``c`` (raises Fail on failure)."""
    __tracebackhide__ = True
    if c.mode == "once":
        c.fn(h)
    else:
        h.run(c.name, c.what, partial(c.fn, h), with_const=c.mode == "property+c",
              finite_only=c.finite_only)


def run_checks(h: Harness, raise_on_failure: bool = True) -> ConformanceReport:
    """Run every check of :func:`yield_checks` and report each failure with its explanation
    (a property's on the smallest batch Hypothesis shrank it to). If the probe fails, nothing
    else can run. With ``raise_on_failure`` one AssertionError lists every failing check."""
    __tracebackhide__ = True
    probe_failed = ""
    for c in yield_checks(h):
        if probe_failed:
            h.report.not_run.append((c.name, probe_failed))
            if c.name == "reference point":  # the rest depend on the probe's findings
                for name in _after("reference point"):
                    h.report.not_run.append((name, probe_failed))
                break
            continue
        if c.skip:
            h.report.skipped.append((c.name, c.skip))
            continue
        try:
            run_one(h, c)
        except Fail as e:
            h.report.failures.append((c.name, str(e)))
            h.value_failed |= c.name in ("reference point", "value", "extreme margins")
            if c.name == "probe":
                probe_failed = "the probe failed: the function could not be called or read"
    h.report.convention = h.conv.words(h.beta)
    if h.report.failures and raise_on_failure:
        raise AssertionError(str(h.report)) from None
    return h.report


def _after(name: str) -> list[str]:
    from ._harness import CHECK_NAMES

    return list(CHECK_NAMES[CHECK_NAMES.index(name) + 1:])
