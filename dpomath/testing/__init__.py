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
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import _args
from .. import losses as L
from .._args import is_torch
from .._torch import num_threads
from ..losses.ops import NUMPY

__all__ = ["check_preference_loss", "ConformanceReport", "symmetries", "SHIFT_INVARIANT",
           "SWAP_IDENTITIES"]

NAMES = ("policy_chosen_logps", "policy_rejected_logps",
         "reference_chosen_logps", "reference_rejected_logps")
_SHORT = ("πθ(y_w)", "πθ(y_l)", "π_ref(y_w)", "π_ref(y_l)")

# ---------------------------------------------------------------- the symmetries of each member

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


def symmetries(kind: str) -> dict[str, str]:
    """The symmetries of member ``kind`` that the kit checks, in words.

    >>> symmetries("sigmoid")["swap"]
    'L(swap) − L = ρ'
    >>> symmetries("nca-pair")["shift"]
    'no: depends on h_w and h_l separately'
    """
    spec = L.get_loss(kind)
    k = spec.kind
    out = {"log-ratio": ("yes: L depends on πθ and π_ref only through h = log πθ − log π_ref"
                         if k != "sft" else "rejected side only: −γ log πθ(y_w) sees the policy")}
    if k in SHIFT_INVARIANT:
        out["shift"] = ("yes: L(h_w + c, h_l + c) = L for every c" + (
            " (c added through the reference)" if k == "sft" else ""))
    elif "chosen_lengths" in spec.params:
        out["shift"] = "no: h_w/n_w − h_l/n_l changes unless n_w = n_l"
    else:
        out["shift"] = "no: depends on h_w and h_l separately"
    out["swap"] = SWAP_IDENTITIES[k][0] if k in SWAP_IDENTITIES else "no closed form"
    out["gradient"] = ("equal and opposite: ∂L/∂h_w = −∂L/∂h_l = β f′(ρ); "
                       "x₁ ∂L/∂x₁ = −x₂ ∂L/∂x₂" if spec.is_margin_loss else
                       "not equal and opposite (not a function of the margin alone)")
    return out


# ---------------------------------------------------------------- the report

@dataclass
class ConformanceReport:
    """What :func:`check_preference_loss` saw and checked (all checks passed)."""

    function: str
    kind: str
    beta: str
    params: dict
    backend: str
    reduction: str
    dtype: str
    checks: list = field(default_factory=list)  # (name, what, how many batches)
    skipped: list = field(default_factory=list)  # (name, why)

    def __str__(self) -> str:
        lines = [f"{self.function} conforms to dpomath's `{self.kind}` loss "
                 f"({L.get_loss(self.kind).formula}), beta {self.beta}"
                 + (f", {', '.join(f'{k}={v}' for k, v in self.params.items())}" if self.params else ""),
                 f"  backend: {self.backend}, inputs {self.dtype}; reduction: {self.reduction}"]
        for name, what, n in self.checks:
            lines.append(f"  ok    {name:<20} {what} ({n} batch{'es' if n != 1 else ''})")
        for name, why in self.skipped:
            lines.append(f"  skip  {name:<20} {why}")
        return "\n".join(lines)


# ---------------------------------------------------------------- the kit

class _Fail(AssertionError):
    pass


@dataclass
class _Case:
    """One batch: the four log-probability vectors (float64, already rounded to the input
    dtype), β and the drawn lengths of the length-normalised members."""

    x: tuple
    beta: float
    lengths: tuple | None = None

    @property
    def n(self) -> int:
        return len(self.x[0])

    @property
    def hw(self):
        return self.x[0] - self.x[2]

    @property
    def hl(self):
        return self.x[1] - self.x[3]


def _fmt(a) -> str:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return f"{float(a):.10g}"
    return "[" + ", ".join(f"{v:.10g}" for v in a) + "]"


class _Kit:
    def __init__(self, fn, kind, beta, params, examples, backend, dtype, rtol, max_size, max_margin):
        self.fn = fn
        self.fname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
        self.spec = L.get_loss(kind)
        self.kind = self.spec.kind
        self.beta = beta
        self.params = params
        self.examples = examples
        self.dtype = dtype
        self.np_dtype = np.dtype(dtype)
        self.rtol_user = rtol
        self.max_size = max_size
        self.max_margin = max_margin
        self.uses_lengths = "chosen_lengths" in self.spec.params
        self.backend = backend
        self.reduction = None
        self.out_eps = None
        self.report = ConformanceReport(
            function=self.fname, kind=self.kind,
            beta="drawn from [0.01, 10]" if beta is None else f"{beta:g}",
            params=dict(params), backend="", reduction="", dtype=dtype)
        try:
            import torch  # noqa: F401
            self.torch = torch
        except ImportError:
            self.torch = None

    # -- calling the user's function

    def _to_backend(self, a, backend, grad=False):
        if backend == "torch":
            t = self.torch.tensor(np.asarray(a, dtype=self.np_dtype))
            return t.requires_grad_(True) if grad else t
        return np.asarray(a, dtype=self.np_dtype)

    def _extra(self, case: _Case, backend: str) -> dict:
        if not self.uses_lengths:
            return {}
        return {"chosen_lengths": self._to_backend(case.lengths[0], backend),
                "rejected_lengths": self._to_backend(case.lengths[1], backend)}

    def _invoke(self, args, case: _Case, backend: str, what: str = "this batch"):
        try:
            with np.errstate(all="ignore"):  # inf/NaN are reported by the checks, not as warnings
                return self.fn(*args, beta=case.beta, **self._extra(case, backend))
        except Exception as e:  # the user's function crashed: say where
            raise _Fail(self._head("it raised an exception") +
                        f"Calling it on {what} raised {type(e).__name__}: {e}\n" +
                        self._describe(case)) from e

    def call(self, case: _Case, backend: str | None = None, what: str = "this batch"):
        """The user's output on ``case`` as float64 numpy (and its dtype's epsilon)."""
        backend = backend or self.backend
        out = self._invoke([self._to_backend(a, backend) for a in case.x], case, backend, what)
        return self._as_numpy(out, case)

    def _as_numpy(self, out, case):
        if is_torch(out):
            eps = float(self.torch.finfo(out.dtype).eps) if out.is_floating_point() else None
            val = out.detach().cpu().double().numpy()
        elif isinstance(out, (float, np.floating, np.ndarray)) and np.asarray(out).dtype.kind == "f":
            eps = float(np.finfo(np.asarray(out).dtype).eps)
            val = np.asarray(out, dtype=np.float64)
        else:
            raise _Fail(self._head("it returned something that is not a float array") +
                        f"It returned {type(out).__name__} {out!r:.200}; expected per-sample losses "
                        f"(shape ({case.n},)) or their mean (a scalar), as a float torch tensor "
                        "or numpy array.")
        if eps is None:
            raise _Fail(self._head("it returned integers") + f"It returned dtype {out.dtype}.")
        return val, eps

    # -- reference values

    def ref_params(self, case: _Case, x=None) -> dict:
        """The member's parameters at ``case``: the scalar ones given, SFT-DPO's policy
        log-probabilities, the lengths of the length-normalised members."""
        x = case.x if x is None else x
        p = dict(self.params)
        if "chosen_logps" in self.spec.params:
            p["chosen_logps"] = x[0]
        if self.uses_lengths:
            p["chosen_lengths"], p["rejected_lengths"] = case.lengths
        return p

    def ref(self, case: _Case, x=None, beta=None, kind=None, params=None):
        x = case.x if x is None else x
        p = self.ref_params(case, x) if params is None else params
        with np.errstate(over="ignore"):
            return np.asarray(L.preference_loss(kind or self.kind, x[0] - x[2], x[1] - x[3],
                                                case.beta if beta is None else beta, **p),
                              dtype=np.float64)

    def sensitivity(self, case: _Case) -> np.ndarray:
        """Σ_j |∂L_i/∂x_j|·|x_j| per sample (central differences on dpomath's float64 form): how
        much rounding the inputs moves the loss; sets the tolerance with the output's epsilon."""
        s = np.zeros(case.n)
        for j in range(4):
            d = 1e-6 * np.maximum(1.0, np.abs(case.x[j]))
            up = list(case.x); up[j] = case.x[j] + d
            dn = list(case.x); dn[j] = case.x[j] - d
            with np.errstate(all="ignore"):
                g = (self.ref(case, tuple(up)) - self.ref(case, tuple(dn))) / (2 * d)
                s += np.abs(np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)) * np.abs(case.x[j])
        return s

    def tolerance(self, case: _Case, ref: np.ndarray, eps: float) -> np.ndarray:
        scale = np.abs(np.where(np.isfinite(ref), ref, 0.0)) + self.sensitivity(case) + 1.0
        rtol = self.rtol_user if self.rtol_user is not None else 64 * max(eps, self.input_eps)
        return rtol * scale

    @property
    def input_eps(self) -> float:
        return float(np.finfo(self.np_dtype).eps)

    # -- messages

    def _head(self, what: str) -> str:
        return (f"{self.fname} does not conform to dpomath's `{self.kind}` loss "
                f"({self.spec.formula}; {self.spec.reference}): {what}.\n")

    def _describe(self, case: _Case) -> str:
        lines = [f"The batch (n = {case.n}, beta = {case.beta!r}"
                 + (", " + ", ".join(f"{k} = {v!r}" for k, v in self.params.items()) if self.params else "")
                 + "):"]
        for name, a in zip(NAMES, case.x):
            lines.append(f"  {name:<26}= {_fmt(a)}")
        if self.uses_lengths:
            lines.append(f"  {'chosen_lengths':<26}= {_fmt(case.lengths[0])}")
            lines.append(f"  {'rejected_lengths':<26}= {_fmt(case.lengths[1])}")
        lines.append(f"  log-ratios h_w = {_fmt(case.hw)}, h_l = {_fmt(case.hl)}; "
                     f"margins ρ = β(h_w − h_l) = {_fmt(case.beta * (case.hw - case.hl))}")
        return "\n".join(lines) + "\n"

    def _shown(self, got: np.ndarray) -> str:
        return ("per-sample losses " if got.ndim == 1 else "the scalar ") + _fmt(got)

    def reduce(self, per_sample: np.ndarray):
        return per_sample if self.reduction == "per-sample" else np.float64(np.mean(per_sample))

    # -- comparisons

    def compare(self, got, eps, ref_ps, case: _Case, check: str, expected_words: str,
                diagnose: bool = True):
        """Fail unless ``got`` equals the reduced ``ref_ps`` within the tolerance."""
        self.check_shape(got, case)
        want = self.reduce(ref_ps)
        tol_ps = self.tolerance(case, ref_ps, eps)
        tol = tol_ps if self.reduction == "per-sample" else np.mean(tol_ps)
        g, w = np.atleast_1d(got), np.atleast_1d(want)
        both_inf = np.isinf(w) & (np.isinf(g) | (np.abs(g) >= np.finfo(np.float32).max)) & (np.sign(g) == np.sign(w))
        with np.errstate(invalid="ignore"):
            bad = ~both_inf & ~(np.abs(g - w) <= np.atleast_1d(tol))
        if not bad.any():
            return
        i = int(np.argmax(np.where(bad, np.nan_to_num(np.abs(g - w), nan=np.inf), -1)))
        if g.size > 8:  # a long fixed batch: show the worst sample alone
            msg = (self._head(f"the {check} check failed") +
                   f"Sample {i} of a batch of {case.n} (the worst):\n" + self._describe(self.sub(case, i)) +
                   f"Your function returned {g[i]:.10g}; {expected_words} {w[i]:.10g}.\n"
                   f"They differ by {abs(g[i] - w[i]):.3g} (tolerance {np.atleast_1d(tol)[i]:.3g}).\n")
        else:
            msg = (self._head(f"the {check} check failed") + self._describe(case) +
                   f"Your function returned {self._shown(got)}\n"
                   f"{expected_words} {_fmt(want)}\n"
                   f"They differ by {abs(g[i] - w[i]):.3g} "
                   f"{'at sample ' + str(i) if self.reduction == 'per-sample' else 'in the batch mean'}"
                   f" (tolerance {np.atleast_1d(tol)[i]:.3g}).\n")
        if diagnose:
            causes = self.diagnose(got, eps, case)
            if causes:
                msg += "Likely cause: " + "; or ".join(causes) + ("" if causes[-1][-1] in ".?" else ".") + "\n"
        raise _Fail(msg)

    def check_shape(self, got, case):
        if self.reduction == "per-sample" and got.shape != (case.n,):
            raise _Fail(self._head("its output shape changed") + self._describe(case) +
                        f"On the first batch it returned one loss per sample; here it returned shape "
                        f"{got.shape} for a batch of {case.n}.")
        if self.reduction == "mean" and got.ndim != 0 and got.size != 1:
            raise _Fail(self._head("its output shape changed") + self._describe(case) +
                        f"On the first batch it returned a scalar; here shape {got.shape}.")

    def _matches(self, got, eps, case, alt_ps) -> bool:
        with np.errstate(all="ignore"):
            alt = self.reduce(np.asarray(alt_ps, dtype=np.float64))
            if not np.all(np.isfinite(alt)) or np.shape(alt) != np.shape(got):
                return False
            tol = np.maximum(self.tolerance(case, alt_ps, eps), 1e-9 * (1 + np.abs(alt_ps)))
            tol = tol if self.reduction == "per-sample" else np.mean(tol)
            return bool(np.all(np.abs(got - alt) <= tol))

    def _candidates(self, beta: float):
        """(words, case → per-sample values) of the plausible wrong losses."""
        out = [("it equals minus the loss (wrong sign)", lambda c: -self.ref(c)),
               ("it equals the loss with chosen and rejected exchanged",
                lambda c: self.ref(_Case((c.x[1], c.x[0], c.x[3], c.x[2]), c.beta,
                                         None if c.lengths is None else c.lengths[::-1]))),
               ("it equals the loss with the reference log-probabilities left out (policy "
                "log-probabilities used as the log-ratios)",
                lambda c: self.ref(c, (c.x[0], c.x[1], np.zeros(c.n), np.zeros(c.n))))]
        if beta != 1.0:
            out += [(f"it equals the loss at β² = {beta ** 2:.6g} (β applied twice)",
                     lambda c: self.ref(c, beta=c.beta ** 2)),
                    ("it equals the loss at β = 1 (β not applied)", lambda c: self.ref(c, beta=1.0))]
        if self.reduction == "mean":
            out.append(("it equals the sum over the batch, not the mean", lambda c: self.ref(c) * c.n))
        for k, spec in L.LOSSES.items():
            if k == self.kind:
                continue
            p = {n: v for n, v in self.params.items() if n in spec.params}
            need = [n for n, q in spec.params.items() if q.default is None and n not in p and not q.array]
            if need or ("chosen_lengths" in spec.params and not self.uses_lengths) or (
                    "chosen_logps" in spec.params):
                continue
            out.append((f"it equals dpomath's `{k}` loss ({spec.formula}) — is kind={k!r} what "
                        "you meant?",
                        lambda c, k=k, spec=spec, p=p: self.ref(c, kind=k, params={
                            **p, **{n: v for n, v in self.ref_params(c).items()
                                    if n in spec.params and n not in p}})))
        return out

    def _generic_cases(self, beta: float) -> list:
        """Three unremarkable batches (distinct values, no zeros) to confirm a diagnosis on."""
        rng = np.random.default_rng(12345)
        return [self.case(tuple(-rng.uniform(0.5, 6.0, 3) for _ in range(4)), beta,
                          lengths=(rng.integers(1, 9, 3), rng.integers(1, 9, 3))) for _ in range(3)]

    def diagnose(self, got, eps, case: _Case) -> list[str]:
        """Which wrong-but-plausible loss the output equals, in words: it must match on the
        failing batch and on three unremarkable ones (a shrunk batch is full of coincidences)."""
        out = []
        with np.errstate(all="ignore"):
            if np.any(~np.isfinite(got)) and np.all(np.isfinite(self.reduce(self.ref(case)))):
                out.append("it returned inf or NaN where the loss is finite — an unstable form, "
                           "e.g. log(sigmoid(x)) (which underflows to log 0); use "
                           "torch.nn.functional.logsigmoid / scipy.special.log_expit or "
                           "−softplus(−x)")
            generic = None
            for words, alt in self._candidates(case.beta):
                try:
                    if not self._matches(got, eps, case, alt(case)):
                        continue
                    if generic is None:
                        generic = [(c, self.call(c, what="a confirming batch")) for c in
                                   self._generic_cases(case.beta)]
                    if all(self._matches(g, e, c, alt(c)) for c, (g, e) in generic):
                        out.append(words)
                except (ValueError, TypeError, AssertionError):
                    continue
        return out

    # -- the checks

    def probe(self):
        x = (np.array([-1.0, -2.5, -0.3]), np.array([-2.0, -1.0, -4.0]),
             np.array([-1.5, -2.0, -0.8]), np.array([-1.7, -1.2, -3.1]))
        case = self.case(x, 0.5 if self.beta is None else self.beta, lengths=([3.0, 5.0, 2.0], [4.0, 1.0, 6.0]))
        tried = []
        order = ["torch", "numpy"] if self.backend == "auto" else [self.backend]
        if self.backend == "auto" and self.torch is None:
            order = ["numpy"]
        detached = False
        for backend in order:
            try:
                args = [self._to_backend(a, backend, grad=backend == "torch") for a in case.x]
                out = self.fn(*args, beta=case.beta, **self._extra(case, backend))
            except Exception as e:
                tried.append(f"{backend}: {type(e).__name__}: {e}")
                continue
            if backend == "torch" and self.backend == "auto" and not (
                    is_torch(out) and out.requires_grad):
                # a numpy function can return tensors through __array_wrap__, without gradient
                detached = is_torch(out)
                tried.append("torch: returned " + ("a tensor without gradient" if detached else
                                                   "a non-tensor") + "; trying numpy arrays")
                continue
            self.backend = backend
            break
        else:
            if detached:
                raise _Fail(self._head("its output carries no gradient") + self._describe(case) +
                            "Called with torch tensors that require grad it returned a tensor "
                            "without gradient (a .detach(), .item() or numpy round trip inside?), "
                            "and it does not run on numpy arrays:\n  " + "\n  ".join(tried))
            raise _Fail(self._head("it could not be called") +
                        "Called as fn(policy_chosen_logps, policy_rejected_logps, "
                        "reference_chosen_logps, reference_rejected_logps, beta=...)"
                        + (", chosen_lengths=..., rejected_lengths=..." if self.uses_lengths else "")
                        + ":\n  " + "\n  ".join(tried))
        got, eps = self._as_numpy(out, case)
        if got.shape == (case.n,):
            self.reduction = "per-sample"
        elif got.ndim == 0 or got.size == 1:
            self.reduction = "mean"
            got = got.reshape(())
        else:
            raise _Fail(self._head("its output has the wrong shape") + self._describe(case) +
                        f"It returned shape {got.shape}; expected ({case.n},) (one loss per sample) "
                        "or a scalar (their mean).")
        other = self.case((x[1], x[0], x[3] - 1.0, x[2]), case.beta, case.lengths)
        self.call(other, what="a second batch")  # a hidden state would move here
        again, _ = self.call(case)
        if not np.array_equal(np.asarray(again).reshape(got.shape), got, equal_nan=True):
            raise _Fail(self._head("it is not deterministic") + self._describe(case) +
                        f"Two calls on the same batch (with another batch between them) returned "
                        f"{_fmt(got)} and {_fmt(again)}. "
                        "A loss with hidden state (such as the running reward mean δ of TRL ≤ 0.28's "
                        "`bco_pair`) cannot be checked; pass the state explicitly (dpomath's "
                        "`bco-pair` takes δ as the parameter `delta`).")
        self.out_eps = eps
        self.report.backend = self.backend + ("" if self.backend == "numpy" or self.torch is None
                                              else " (autograd)")
        if self.backend == "numpy":
            self.report.backend = "numpy (gradients by central differences)"
        self.report.reduction = ("per-sample (one loss per pair)" if self.reduction == "per-sample"
                                 else "batch mean (a scalar)")
        self.report.checks.append(("probe", "runs, deterministic, shape understood", 1))

    def case(self, x, beta, lengths=None) -> _Case:
        x = tuple(np.asarray(a, dtype=self.np_dtype).astype(np.float64) for a in x)
        if self.uses_lengths:
            n = len(x[0])
            lengths = lengths or (np.ones(n), np.ones(n))
            lengths = tuple(np.asarray(v, dtype=np.float64)[:n] for v in lengths)
        else:
            lengths = None
        return _Case(x, float(beta), lengths)

    def reference_point(self):
        logp = np.array([-0.5, -3.0, -12.0, -40.0])
        x = (logp, logp[::-1].copy(), logp.copy(), logp[::-1].copy())
        beta = 0.1 if self.beta is None else self.beta
        case = self.case(x, beta, lengths=([1.0, 2.0, 7.0, 30.0], [5.0, 1.0, 3.0, 9.0]))
        got, eps = self.call(case, what="a batch with πθ = π_ref")
        ref = self.ref(case)
        f0 = (f"log 2 ≈ {math.log(2):.6f}" if np.allclose(ref, math.log(2), rtol=1e-15, atol=0)
              else f"f(0) = {_fmt(ref[0]) if np.ptp(ref) == 0 else _fmt(ref)}")
        self.compare(got, eps, ref, case, "reference-point",
                     f"At πθ = π_ref every log-ratio is 0, so the `{self.kind}` loss must be {f0}; "
                     "expected")
        self.report.checks.append(("reference point", f"L = {f0} at πθ = π_ref", 1))

    def extreme_margins(self):
        beta = 0.1 if self.beta is None else self.beta
        pairs = [(1, -1), (-1, 1), (1, 1), (-1, -1), (1, 0), (0, -1), (-1, 0), (0, 1)]
        hw, hl = [], []
        for m in (self.max_margin / 200, self.max_margin / 20, self.max_margin / 2):
            # |β h| up to max_margin/2, so |ρ| up to max_margin (1e4 by default)
            for a, b in pairs:
                hw.append(a * m / beta)
                hl.append(b * m / beta)
        hw, hl = np.array(hw), np.array(hl)
        rc, rr = -np.abs(hw) - 1.0, -np.abs(hl) - 1.0
        case = self.case((rc + hw, rr + hl, rc, rr), beta)
        got, eps = self.call(case, what="a batch with margins up to ±1e4")
        self.check_shape(got, case)
        ref = self.ref(case)
        fin = np.isfinite(ref)
        bad = fin & ~np.isfinite(np.atleast_1d(got)) if self.reduction == "per-sample" else (
            np.array([not np.isfinite(got)]) if np.all(fin) else np.array([False]))
        if bad.any():
            i = int(np.argmax(bad))
            where = (f"at margin ρ = {case.beta * (case.hw[i] - case.hl[i]):g} (h_w = {case.hw[i]:g}, "
                     f"h_l = {case.hl[i]:g}), where the loss is {ref[i]:.6g}"
                     if self.reduction == "per-sample" else "for the batch mean")
            raise _Fail(self._head("it is not finite at extreme margins") + (
                        f"Sample {i} of a batch of {case.n}:\n" + self._describe(self.sub(case, i))
                        if self.reduction == "per-sample" else self._describe(case)) +
                        f"It returned {_fmt(np.atleast_1d(got)[i]) if self.reduction == 'per-sample' else _fmt(got)}: "
                        f"inf or NaN {where}. Compute log σ(x) "
                        "as torch.nn.functional.logsigmoid(x) / scipy.special.log_expit(x) "
                        "(−softplus(−x)), never log(sigmoid(x)); form e^x only where it cannot "
                        "overflow.")
        self.compare(got, eps, ref, case, "extreme-margin", "dpomath's definition gives")
        what = f"finite and equal to the definition for |ρ| up to {self.max_margin:g}"
        if self.backend == "torch":
            grads = self.torch_grads(case)
            for name, g in zip(NAMES, grads):
                ok = np.isfinite(g) | ~(np.isfinite(ref) if self.reduction == "per-sample" else fin.all())
                if not np.all(ok):
                    raise _Fail(self._head("its gradient is not finite at extreme margins") +
                                self._describe(case) +
                                f"∂L/∂{name} = {_fmt(g)} contains inf or NaN where the loss is finite "
                                "(e.g. log(sigmoid(x)) or e^x overflowing in the backward pass).")
            what += ", finite gradients"
        self.report.checks.append(("extreme margins", what, 1))

    # -- gradients

    def torch_grads(self, case: _Case, xcoords: bool = False):
        """∂out/∂x_j (summed over a per-sample output) by autograd; with ``xcoords`` the
        derivatives in x = πθ/π_ref of chosen and rejected instead."""
        torch = self.torch
        tdt = getattr(torch, self.dtype)
        if xcoords:
            x64 = [torch.tensor(np.exp(h), dtype=torch.float64, requires_grad=True)
                   for h in (case.hw, case.hl)]
            rc, rr = (torch.tensor(case.x[2], dtype=torch.float64), torch.tensor(case.x[3], dtype=torch.float64))
            args = [(rc + torch.log(x64[0])).to(tdt), (rr + torch.log(x64[1])).to(tdt), rc.to(tdt), rr.to(tdt)]
            leaves = x64
        else:
            leaves = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in case.x]
            args = leaves
        out = self._invoke(args, case, "torch", "this batch")
        if not is_torch(out) or not out.requires_grad:
            raise _Fail(self._head("its output carries no gradient") + self._describe(case) +
                        "The output does not depend differentiably on the input tensors (a .detach(), "
                        ".item(), numpy round trip or torch.no_grad() inside?); training could not "
                        "follow it.")
        grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
        return [np.zeros(case.n) if g is None else g.detach().double().numpy() for g in grads]

    def fd_grads(self, case: _Case, xcoords: bool = False):
        """Central differences of the numpy function (float64)."""
        base = [np.asarray(v) for v in ((np.exp(case.hw), np.exp(case.hl)) if xcoords else case.x)]

        def run(vals):
            if xcoords:
                x = (case.x[2] + np.log(vals[0]), case.x[3] + np.log(vals[1]), case.x[2], case.x[3])
            else:
                x = tuple(vals)
            return self.call(_Case(x, case.beta, case.lengths))[0]

        grads = []
        for j in range(len(base)):
            # x = πθ/π_ref > 0: a relative step; log-probabilities: an absolute one (≥ 1e-6)
            d = 1e-6 * (base[j] if xcoords else np.maximum(1.0, np.abs(base[j])))
            if self.reduction == "per-sample":  # samples are independent (checked before)
                up = list(base); up[j] = base[j] + d
                dn = list(base); dn[j] = base[j] - d
                grads.append((run(up) - run(dn)) / (2 * d))
            else:
                g = np.zeros(case.n)
                for i in range(case.n):
                    up = [b.copy() for b in base]; up[j][i] += d[i]
                    dn = [b.copy() for b in base]; dn[j][i] -= d[i]
                    g[i] = (run(up) - run(dn)) / (2 * d[i])
                grads.append(g)
        return grads

    def ref_grads(self, case: _Case):
        """dpomath's gradient of the reduced loss in the four inputs (autograd, float64)."""
        if self.torch is None:
            return None
        torch = self.torch
        t = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in case.x]
        p = dict(self.params)
        if "chosen_logps" in self.spec.params:
            p["chosen_logps"] = t[0]
        if self.uses_lengths:
            p["chosen_lengths"] = torch.tensor(case.lengths[0])
            p["rejected_lengths"] = torch.tensor(case.lengths[1])
        out = L.preference_loss(self.kind, t[0] - t[2], t[1] - t[3], case.beta, **p)
        out = out.sum() if self.reduction == "per-sample" else out.mean()
        return [g.detach().numpy() for g in torch.autograd.grad(out, t)]

    def gradients(self, case: _Case):
        fd = self.backend == "numpy"
        grads = self.fd_grads(case) if fd else self.torch_grads(case)
        rho = case.beta * (case.hw - case.hl)
        smooth = np.ones(case.n, bool)
        for k in self.spec.kinks:
            smooth &= np.abs(rho - k) > (1e-4 if fd else 1e-12) * max(1.0, abs(k))
        rtol = self.rtol_user if self.rtol_user is not None else (
            1e-4 if fd else max(1000 * self.out_eps, 1e-9))
        gscale = max((float(np.max(np.abs(g))) for g in grads), default=0.0)
        atol = (1e-6 if fd else 100 * self.out_eps) * (1.0 + case.beta) + rtol * gscale

        def close(a, b):
            return np.abs(a - b) <= rtol * np.abs(b) + atol

        def fail(what, detail):
            raise _Fail(self._head(f"the gradient check failed: {what}") + self._describe(case) +
                        detail + ("\n(Gradients by central differences of your numpy function.)" if fd else ""))

        # the reference enters only through the log-ratios (a detached reference is fine: it is
        # a constant in training; the value check "log-ratio" covers how it enters then)
        pairs = [(1, 3)] + ([] if self.kind == "sft" else [(0, 2)])
        detached = not fd and not np.any(grads[2]) and not np.any(grads[3])
        for a, b in ([] if detached else pairs):
            if not np.all(close(grads[b], -grads[a])):
                fail("the reference does not enter through the log-ratio",
                     f"∂L/∂{NAMES[b]} = {_fmt(grads[b])}\n∂L/∂{NAMES[a]} = {_fmt(grads[a])}\n"
                     f"They must be equal and opposite: the loss sees {_SHORT[a]} and {_SHORT[b]} only "
                     f"through log {_SHORT[a]} − log {_SHORT[b]}. (Reference log-probabilities left "
                     "out, detached, or entering another way?)")
        if self.spec.is_margin_loss:
            if not np.all(close(grads[1], -grads[0])):
                fail("not equal and opposite in the log-ratios",
                     f"∂L/∂h_w = ∂L/∂{NAMES[0]} = {_fmt(grads[0])}\n∂L/∂h_l = ∂L/∂{NAMES[1]} = "
                     f"{_fmt(grads[1])}\nThe `{self.kind}` loss is a function of ρ = β(h_w − h_l) "
                     "alone, so ∂L/∂h_w = −∂L/∂h_l for every sample.")
            if np.all(np.abs(np.concatenate([case.hw, case.hl])) < 300):
                gx = self.fd_grads(case, xcoords=True) if fd else self.torch_grads(case, xcoords=True)
                x1, x2 = np.exp(case.hw), np.exp(case.hl)
                lhs, rhs = x1 * gx[0], -x2 * gx[1]
                if not np.all(close(lhs, rhs)):
                    fail("the x₂/x₁ ratio in probability-ratio coordinates",
                         f"With x₁ = πθ(y_w)/π_ref(y_w) = {_fmt(x1)} and x₂ = πθ(y_l)/π_ref(y_l) = "
                         f"{_fmt(x2)}:\n∂L/∂x₁ = {_fmt(gx[0])}\n∂L/∂x₂ = {_fmt(gx[1])}\n"
                         "For a loss of the margin alone ∂L/∂x₁ / ∂L/∂x₂ = −x₂/x₁ (paper F); "
                         f"here x₁∂L/∂x₁ = {_fmt(lhs)} but −x₂∂L/∂x₂ = {_fmt(rhs)}.")
        ref = self.ref_grads(case)
        if ref is not None:
            for j in ((0, 1) if detached else range(4)):
                ok = close(grads[j], ref[j]) | ~smooth
                if not np.all(ok):
                    i = int(np.argmax(~ok))
                    fail(f"∂L/∂{NAMES[j]} differs from dpomath's",
                         f"∂L/∂{NAMES[j]}: yours {_fmt(grads[j])}\n"
                         f"{'':>{len(NAMES[j]) + 5}}dpomath's {_fmt(ref[j])}\n"
                         f"(first difference at sample {i}; the loss values agree, so the gradient "
                         "is computed differently from the value — a custom backward, a detached "
                         "term or a straight-through trick?)")

    # -- the Hypothesis-driven properties

    def strategy(self):
        """(batch, β, chosen lengths, rejected lengths): the batch from
        :func:`dpomath.strategies.preference_batches`, lengths only for the members that use them."""
        from hypothesis import strategies as st
        from .strategies import betas, preference_batches

        beta_st = st.just(self.beta) if self.beta is not None else betas(0.01, 10.0)
        uses_lengths, max_size = self.uses_lengths, self.max_size

        @st.composite
        def cases(draw):
            # the lengths first, one pair per possible row: deleting rows of the batch while
            # shrinking leaves them aligned
            lengths = (draw(st.lists(st.tuples(st.integers(1, 64), st.integers(1, 64)),
                                     min_size=max_size, max_size=max_size))
                       if uses_lengths else None)
            batch = draw(preference_batches(1, max_size))
            beta = draw(beta_st)
            if lengths is None:
                return batch, beta, None, None
            n = len(batch[NAMES[0]])
            return batch, beta, [a for a, _ in lengths[:n]], [b for _, b in lengths[:n]]

        return cases()

    def draw_case(self, drawn) -> _Case:
        batch, beta, lw, ll = drawn
        return self.case(tuple(batch[k] for k in NAMES), beta,
                         lengths=None if lw is None else (np.array(lw, float), np.array(ll, float)))

    def run(self, name: str, what: str, prop, with_const: bool = False, finite_only: bool = True):
        """Run ``prop(case)`` (or ``prop(case, c)`` with a drawn constant c ≠ 0) on generated
        batches, with explicit settings (independent of the caller's Hypothesis profile)."""
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import strategies as st
        from hypothesis.errors import Flaky

        const = st.floats(-20.0, 20.0, allow_nan=False).filter(lambda c: c != 0) if with_const \
            else st.just(None)
        count = [0]

        @settings(max_examples=self.examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                  phases=(Phase.explicit, Phase.generate, Phase.shrink),
                  verbosity=Verbosity.quiet, print_blob=False)
        @given(self.strategy(), const)
        def prop_test(drawn, c):
            case = self.draw_case(drawn)
            if not finite_only or (np.all(np.isfinite(self.ref(case)))
                                   and np.all(np.abs(case.beta * (case.hw - case.hl)) < 700)):
                count[0] += 1  # (the properties past the value check need a finite loss)
                prop(case) if c is None else prop(case, c)

        try:
            prop_test()
        except _Fail as e:
            raise AssertionError(str(e) + "(This is the smallest failing batch Hypothesis found.)") from None
        except Flaky as e:  # a failure that did not repeat on the same batch
            raise AssertionError(
                self._head(f"the {name} check failed only sometimes") +
                "The same batch passed on one call and failed on another: the function is not "
                "deterministic (hidden state, randomness, or uninitialised memory?).\n"
                f"First failure: {e}") from None
        self.report.checks.append((name, what, count[0]))

    def p_value(self, case):
        got, eps = self.call(case)
        self.compare(got, eps, self.ref(case), case, "value", "dpomath's definition gives")

    def p_reduction(self, case):
        got, eps = self.call(case)
        singles = np.array([float(np.reshape(self.call(self.sub(case, i), what=f"sample {i} alone")[0], -1)[0])
                            for i in range(case.n)])
        if self.reduction == "per-sample":
            tol = self.tolerance(case, self.ref(case), eps)
            bad = ~(np.abs(got - singles) <= tol)
            if bad.any():
                i = int(np.argmax(bad))
                raise _Fail(self._head("per-sample losses depend on the rest of the batch") +
                            self._describe(case) +
                            f"On the whole batch it returned {_fmt(got)}, but sample {i} alone gives "
                            f"{singles[i]:.10g}. A per-sample loss must depend on its own pair only "
                            "(batch statistics such as a mean reward baseline break this).")
        else:
            want = float(np.mean(singles))
            tol = float(np.mean(self.tolerance(case, self.ref(case), eps)))
            if not abs(float(got) - want) <= tol:
                extra = (f" It equals their sum {np.sum(singles):.10g} instead."
                         if abs(float(got) - np.sum(singles)) <= tol * case.n else "")
                raise _Fail(self._head("its scalar output is not the batch mean") +
                            self._describe(case) +
                            f"On the whole batch it returned {float(got):.10g}; the samples alone give "
                            f"{_fmt(singles)}, whose mean is {want:.10g}.{extra}")

    def sub(self, case, i):
        return _Case(tuple(a[i:i + 1] for a in case.x), case.beta,
                     None if case.lengths is None else tuple(v[i:i + 1] for v in case.lengths))

    def _invariance(self, case, moved: _Case, what: str, why: str, want_delta=None):
        """The output changes by ``want_delta`` (per sample; 0 by default) from case to moved."""
        got, eps = self.call(case)
        got2, _ = self.call(moved)
        delta = np.zeros(case.n) if want_delta is None else want_delta
        tol = self.tolerance(case, self.ref(case), eps) + self.tolerance(moved, self.ref(moved), eps)
        tol = tol if self.reduction == "per-sample" else np.mean(tol)
        change, want = got2 - got, self.reduce(delta)
        if not np.all(np.abs(change - want) <= tol):
            raise _Fail(self._head(f"the {what} check failed") + self._describe(case) + why +
                        f"\nYour function returned {self._shown(got)} on this batch and "
                        f"{self._shown(got2)} after the change:\na change of {_fmt(change)} "
                        f"where it must be {_fmt(want)}.\n")

    def p_logratio(self, case, c):
        x = case.x
        moved = self.case((x[0] + c, x[1], x[2] + c, x[3]) if self.kind != "sft" else
                          (x[0], x[1] + c, x[2], x[3] + c), case.beta, case.lengths)
        side = "chosen" if self.kind != "sft" else "rejected"
        self._invariance(case, moved, "log-ratio dependence",
                         f"Adding c = {c:g} to both the policy and the reference log-probability of "
                         f"each {side} response leaves every log-ratio unchanged, so the loss must "
                         "not change. (Reference log-probabilities left out, or used in another "
                         "way than log πθ − log π_ref?)")

    def p_shift(self, case, c):
        x = case.x
        moved = self.case((x[0], x[1], x[2] - c, x[3] - c), case.beta, case.lengths)
        self._invariance(case, moved, "shift invariance",
                         f"Lowering both reference log-probabilities by c = {c:g} adds c to both "
                         f"log-ratios; the `{self.kind}` loss depends on h_w − h_l only, so it must "
                         "not change.")

    def p_swap(self, case):
        words, g = SWAP_IDENTITIES[self.kind]
        x = case.x
        moved = _Case((x[1], x[0], x[3], x[2]), case.beta,
                      None if case.lengths is None else case.lengths[::-1])
        p = {k: v for k, v in self.ref_params(case).items() if k in inspect.signature(g).parameters}
        with np.errstate(over="ignore"):
            delta = np.asarray(g(NUMPY, case.hw, case.hl, case.beta, **p), dtype=np.float64)
        if not np.all(np.isfinite(delta)):
            return
        self._invariance(case, moved, "swap identity",
                         f"Exchanging chosen and rejected (policy and reference, and the lengths) "
                         f"must change the `{self.kind}` loss by exactly {words.split(' = ', 1)[1]}: "
                         f"{words} (ρ = β(h_w − h_l)).", want_delta=delta)

    def p_gradients(self, case):
        self.gradients(case)


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
    if backend == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise _args.BadValue("backend: 'torch' asked for but torch is not installed") from None

    kit = _Kit(fn, spec.kind, beta, checked, examples, backend, dtype, rtol, max_size, max_margin)
    if kit.torch is None:
        return _run_checks(kit, spec, examples)
    with num_threads(1):  # tiny tensors: thread hand-offs would cost 1000× the work
        return _run_checks(kit, spec, examples)


def _run_checks(kit: _Kit, spec: L.LossSpec, examples: int) -> ConformanceReport:
    try:
        kit.probe()
        kit.reference_point()
    except _Fail as e:
        raise AssertionError(str(e)) from None
    kit.run("value", "equals dpomath's definition", kit.p_value, finite_only=False)
    try:
        kit.extreme_margins()
    except _Fail as e:
        raise AssertionError(str(e)) from None
    kit.run("reduction", "scalar = batch mean / each sample depends on its own pair only",
            kit.p_reduction)

    kit.run("log-ratio", "adding c to a response's policy and reference logp changes nothing",
            kit.p_logratio, with_const=True)
    if spec.kind in SHIFT_INVARIANT:
        kit.run("shift invariance", "L(h_w + c, h_l + c) = L(h_w, h_l)", kit.p_shift, with_const=True)
    else:
        kit.report.skipped.append(("shift invariance", f"`{spec.kind}`: {symmetries(spec.kind)['shift']}"))
    if spec.kind in SWAP_IDENTITIES:
        kit.run("swap identity", SWAP_IDENTITIES[spec.kind][0], kit.p_swap)
    else:
        kit.report.skipped.append(("swap identity", f"`{spec.kind}` has no closed-form swap identity"))
    if kit.backend == "numpy" and kit.out_eps > 1e-15:
        kit.report.skipped.append(("gradients", "numpy function with a low-precision output: central "
                                                "differences would be noise"))
    else:
        what = ("∂ref = −∂policy" + (", ∂h_w = −∂h_l, x₁∂x₁ = −x₂∂x₂" if spec.is_margin_loss else "")
                + (", = dpomath's gradient" if kit.torch is not None else ""))
        kit.run("gradients", what, kit.p_gradients)
    return kit.report
