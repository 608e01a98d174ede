"""The kit's harness: calling the user's function the way it wants to be called (the convention
of :mod:`dpomath.testing._calling`), dpomath's reference values, the tolerance model, the
messages, and the Hypothesis driver that runs a check on generated batches. The checks
themselves are module-level functions of a :class:`Harness` in :mod:`dpomath.testing._checks`;
the diagnosis of a failure is in :mod:`dpomath.testing._diagnose`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import losses as L
from .._args import is_torch
from ._calling import LOGP_ROLES, REWARD_ROLES, Convention, _SelectError

__all__ = ["Harness", "ConformanceReport", "Fail", "LeftOut", "Case", "NAMES", "SHORT", "fmt",
           "CHECK_NAMES"]

NAMES = LOGP_ROLES
SHORT = ("πθ(y_w)", "πθ(y_l)", "π_ref(y_w)", "π_ref(y_l)")

#: Every check of the kit, in the order it runs them (those that do not apply to a member or a
#: function are reported as skipped, with the reason).
CHECK_NAMES = ("probe", "reference point", "value", "extreme margins", "reduction", "log-ratio",
               "shift invariance", "swap identity", "gradients")


@dataclass
class ConformanceReport:
    """What :func:`check_preference_loss` saw and checked.

    ``checks``: (name, what, number of batches) of the checks that passed; ``failures``: (name,
    message) of those that failed; ``skipped``: (name, why) of those that do not apply;
    ``not_run``: (name, why) of those that could not run (the probe failed). ``convention``: how
    the function was called, in words. ``passed`` is True when nothing failed.
    """

    function: str
    kind: str
    beta: str
    params: dict
    backend: str
    reduction: str
    dtype: str
    checks: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    not_run: list = field(default_factory=list)
    convention: str = ""
    reference: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures

    def headline(self) -> str:
        spec = L.get_loss(self.kind)
        what = (f"{self.function} conforms to dpomath's `{self.kind}` loss ({spec.formula})"
                if self.passed else
                f"{self.function} does not conform to dpomath's `{self.kind}` loss "
                f"({spec.formula}; {spec.reference}): {len(self.failures)} of the "
                f"{len(self.failures) + len(self.checks) + len(self.not_run)} checks that apply "
                f"failed ({', '.join(n for n, _ in self.failures)})")
        return (what + f", beta {self.beta}"
                + (f", {', '.join(f'{k}={v}' for k, v in self.params.items())}" if self.params else ""))

    def __str__(self) -> str:
        lines = [self.headline()]
        if self.convention:
            lines.append(self.convention)
        if self.backend:
            lines.append(f"  backend: {self.backend}, inputs {self.dtype}; reduction: {self.reduction}")
        for name, what, n in self.checks:
            lines.append(f"  ok    {name:<20} {what} ({n} batch{'es' if n != 1 else ''})")
        for name, why in self.skipped:
            lines.append(f"  skip  {name:<20} {why}")
        for name, why in self.not_run:
            lines.append(f"  --    {name:<20} not run: {why}")
        for name, _ in self.failures:
            lines.append(f"  FAIL  {name}")
        for k, (name, msg) in enumerate(self.failures, 1):
            lines.append(f"\n[{k}] {name}: {msg.rstrip()}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # Jupyter: the headline, then one row per check
        from ..verify.display import lines_html

        head = self.headline() + "."
        if self.convention:
            head += " " + self.convention.strip()
        if self.backend:
            head += f" Backend: {self.backend}, inputs {self.dtype}; reduction: {self.reduction}."
        rows = [("ok", name, f"{what} ({n} batch{'es' if n != 1 else ''})")
                for name, what, n in self.checks]
        rows += [("skip", name, why) for name, why in self.skipped]
        rows += [("not run", name, why) for name, why in self.not_run]
        rows += [("FAIL", name, msg) for name, msg in self.failures]
        return lines_html(head, rows)


class Fail(AssertionError):
    """A check failed; the message says why."""


class LeftOut(Exception):
    """A batch a property cannot judge (the function is not finite there, already reported)."""


@dataclass
class Case:
    """One batch: the four input vectors (float64, already rounded to the input dtype), β and
    the lengths of the length-normalised members. In the reference-free and reward modes the
    inputs are (πθ(y_w), πθ(y_l), 0, 0) and (r₊, r₋, 0, 0), so h = x₀ − x₂, x₁ − x₃ always."""

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

    @property
    def rho(self):
        return self.beta * (self.hw - self.hl)


def fmt(a) -> str:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return f"{float(a):.10g}"
    return "[" + ", ".join(f"{v:.10g}" for v in a) + "]"


class Harness:
    """One run of the kit on one function: what was found out about it (convention, backend,
    reduction, output precision) and how to call it, compute the reference and phrase a failure."""

    def __init__(self, fn, kind, beta, params, examples, backend, dtype, rtol, max_size,
                 max_margin, conv: Convention):
        self.fn = fn
        self.conv = conv
        self.fname = conv.fname
        self.spec = L.get_loss(kind)
        self.kind = self.spec.kind
        self.mode = conv.mode
        self.beta = 1.0 if beta is None and not conv.beta_passed else beta  # rewards: β = 1
        self.params = params
        self.examples = examples
        self.dtype = dtype
        self.np_dtype = np.dtype(dtype)
        self.rtol_user = rtol
        self.max_size = max_size
        self.max_margin = max_margin
        self.uses_lengths = "chosen_lengths" in self.spec.params
        self.backend = "torch" if conv.module else backend
        self.reduction = None
        self.out_eps = None
        self.out_dtype = None
        self.nonfinite_seen = False  # an earlier check saw inf/NaN: later ones leave those batches out
        self.value_failed = False    # an earlier check found the values wrong
        self.isolated = False        # one check alone (a pytest item): the others' findings unknown
        self.given = set(params)     # the parameters the user gave (set by the caller)
        self.left_out = 0
        self.report = ConformanceReport(
            function=self.fname, kind=self.kind,
            beta=("drawn from [0.01, 10]" if self.beta is None else f"{self.beta:g}"),
            params=dict(params), backend="", reduction="", dtype=dtype)
        try:
            import torch  # noqa: F401
            self.torch = torch
        except ImportError:
            self.torch = None

    # ---------------------------------------------------------------- the inputs of a mode

    @property
    def inputs(self) -> tuple:
        """Indices of ``case.x`` the function receives."""
        return (0, 1, 2, 3) if self.mode == "log-ratios" else (0, 1)

    def roles(self) -> tuple:
        return LOGP_ROLES if self.mode == "log-ratios" else (
            REWARD_ROLES if self.mode == "rewards" else LOGP_ROLES[:2])

    def input_names(self) -> tuple:
        return self.roles()

    def to_backend(self, a, backend, grad=False):
        if backend == "torch":
            t = self.torch.tensor(np.asarray(a, dtype=self.np_dtype))
            return t.requires_grad_(True) if grad else t
        return np.asarray(a, dtype=self.np_dtype)

    def values(self, case: Case, backend: str, leaves=None) -> dict:
        """role → the array or tensor the function gets for ``case`` (``leaves``: tensors to use
        for the inputs instead, in the order of :attr:`inputs`)."""
        arrs = leaves if leaves is not None else [self.to_backend(case.x[j], backend) for j in self.inputs]
        out = dict(zip(self.roles(), arrs))
        for r in self.conv.zero_refs:
            out[r] = self.to_backend(np.zeros(case.n), backend)
        if self.conv.lengths:
            out["chosen_lengths"] = self.to_backend(case.lengths[0], backend)
            out["rejected_lengths"] = self.to_backend(case.lengths[1], backend)
        if self.conv.beta_passed:
            out["beta"] = case.beta
        return out

    def raw_call(self, case: Case, backend: str, leaves=None):
        with np.errstate(all="ignore"):  # inf/NaN are reported by the checks, not as warnings
            return self.conv.call(self.fn, self.values(case, backend, leaves), self.params, case.n,
                                  backend, self.torch)

    def invoke(self, case: Case, backend: str, what: str = "this batch", leaves=None):
        try:
            return self.raw_call(case, backend, leaves)
        except _SelectError as e:
            raise Fail(self.head("its output could not be read") + str(e) + "\n") from e
        except Exception as e:  # the user's function crashed: say where
            raise Fail(self.head("it raised an exception") +
                       f"Calling it on {what} raised {type(e).__name__}: {e}\n" +
                       self.describe(case)) from e

    def call(self, case: Case, backend: str | None = None, what: str = "this batch"):
        """The user's output on ``case`` as float64 numpy (and its dtype's epsilon)."""
        backend = backend or self.backend
        return self.as_numpy(self.invoke(case, backend, what), case)

    def as_numpy(self, out, case):
        if is_torch(out):
            floating = out.is_floating_point()
            eps = float(self.torch.finfo(out.dtype).eps) if floating else None
            self.out_dtype = str(out.dtype).replace("torch.", "") if floating else None
            val = out.detach().cpu().double().numpy()
        elif isinstance(out, (float, np.floating, np.ndarray)) and np.asarray(out).dtype.kind == "f":
            eps = float(np.finfo(np.asarray(out).dtype).eps)
            self.out_dtype = str(np.asarray(out).dtype)
            val = np.asarray(out, dtype=np.float64)
        else:
            where = f" ({self.conv.returned})" if self.conv.returned else ""
            raise Fail(self.head("it returned something that is not a float array") +
                       f"It returned {type(out).__name__} {out!r:.200}{where}; expected per-sample "
                       f"losses (shape ({case.n},)) or their mean (a scalar), as a float torch "
                       "tensor or numpy array. (From a tuple or dict, choose the element that holds "
                       "the losses with output=.)")
        if eps is None:
            raise Fail(self.head("it returned integers") + f"It returned dtype {out.dtype}.")
        return val, eps

    # ---------------------------------------------------------------- dpomath's reference

    def ref_params(self, case: Case, x=None) -> dict:
        """The member's parameters at ``case``: the scalar ones given, SFT-DPO's policy
        log-probabilities, the lengths of the length-normalised members."""
        x = case.x if x is None else x
        p = dict(self.params)
        if "chosen_logps" in self.spec.params:
            p["chosen_logps"] = x[0]
        if self.uses_lengths:
            p["chosen_lengths"], p["rejected_lengths"] = case.lengths
        return p

    def logratios(self, x, kind=None):
        """(h_w, h_l) member ``kind`` sees: the policy's log-probabilities for a reference-free
        member, the log-ratios otherwise."""
        spec = L.get_loss(kind or self.kind)
        if spec.reference_free and self.mode == "log-ratios":
            return x[0], x[1]
        return x[0] - x[2], x[1] - x[3]

    def ref(self, case: Case, x=None, beta=None, kind=None, params=None):
        x = case.x if x is None else x
        p = self.ref_params(case, x) if params is None else params
        hw, hl = self.logratios(x, kind)
        with np.errstate(over="ignore"):
            return np.asarray(L.preference_loss(kind or self.kind, hw, hl,
                                                case.beta if beta is None else beta, **p),
                              dtype=np.float64)

    def sensitivity(self, case: Case) -> np.ndarray:
        """Σ_j |∂L_i/∂x_j|·|x_j| per sample (central differences on dpomath's float64 form): how
        much rounding the inputs moves the loss; sets the tolerance with the output's epsilon."""
        s = np.zeros(case.n)
        for j in self.inputs:
            d = 1e-6 * np.maximum(1.0, np.abs(case.x[j]))
            up = list(case.x); up[j] = case.x[j] + d
            dn = list(case.x); dn[j] = case.x[j] - d
            if self.spec.input_max is not None:  # stay inside ORPO's domain
                up[j] = np.minimum(up[j], case.x[j] + 0.5 * (self.spec.input_max - case.x[j]))
            with np.errstate(all="ignore"):
                try:
                    g = (self.ref(case, tuple(up)) - self.ref(case, tuple(dn))) / (up[j] - dn[j])
                except ValueError:
                    continue
                s += np.abs(np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)) * np.abs(case.x[j])
        return s

    def tolerance(self, case: Case, ref: np.ndarray, eps: float) -> np.ndarray:
        scale = np.abs(np.where(np.isfinite(ref), ref, 0.0)) + self.sensitivity(case) + 1.0
        rtol = self.rtol_user if self.rtol_user is not None else 64 * max(eps, self.input_eps)
        return rtol * scale

    @property
    def input_eps(self) -> float:
        return float(np.finfo(self.np_dtype).eps)

    # ---------------------------------------------------------------- messages

    def head(self, what: str) -> str:
        return f"{what}.\n"

    def describe(self, case: Case) -> str:
        shown = self.report.params  # the parameters given (not DPO's γ = 0 of every DPO)
        lines = [f"The batch (n = {case.n}, beta = {case.beta!r}"
                 + (", " + ", ".join(f"{k} = {v!r}" for k, v in shown.items()) if shown else "")
                 + "):"]
        for name, j in zip(self.input_names(), self.inputs):
            lines.append(f"  {name:<26}= {fmt(case.x[j])}")
        if self.conv.lengths:
            lines.append(f"  {'chosen_lengths':<26}= {fmt(case.lengths[0])}")
            lines.append(f"  {'rejected_lengths':<26}= {fmt(case.lengths[1])}")
        if self.mode == "log-ratios":
            lines.append(f"  log-ratios h_w = {fmt(case.hw)}, h_l = {fmt(case.hl)}; "
                         f"margins ρ = β(h_w − h_l) = {fmt(case.rho)}")
        else:
            lines.append(f"  margins ρ = β({'r₊ − r₋' if self.mode == 'rewards' else 'h_w − h_l'})"
                         f" = {fmt(case.rho)}")
        return "\n".join(lines) + "\n"

    def shown(self, got: np.ndarray) -> str:
        return ("per-sample losses " if got.ndim == 1 else "the scalar ") + fmt(got)

    def reduce(self, per_sample: np.ndarray):
        return per_sample if self.reduction == "per-sample" else np.float64(np.mean(per_sample))

    # ---------------------------------------------------------------- batches

    def case(self, x, beta, lengths=None) -> Case:
        x = tuple(np.asarray(a, dtype=self.np_dtype).astype(np.float64) for a in x)
        n = len(x[0])
        if self.uses_lengths:
            if self.conv.lengths:
                lengths = lengths or (np.ones(n), np.ones(n))
                lengths = tuple(np.asarray(v, dtype=np.float64)[:n] for v in lengths)
            else:  # the function takes per-token averages: lengths 1
                lengths = (np.ones(n), np.ones(n))
        else:
            lengths = None
        return Case(x, float(beta), lengths)

    def sub(self, case, i):
        return Case(tuple(a[i:i + 1] for a in case.x), case.beta,
                    None if case.lengths is None else tuple(v[i:i + 1] for v in case.lengths))

    def from_logps(self, x):
        """The mode's inputs made from four drawn log-probability vectors: as they are; the
        policy's two (reference-free; below ``input_max`` for ORPO); or the two log-ratios taken
        as rewards (r ∈ [−100, 100])."""
        x = tuple(np.asarray(a, dtype=np.float64) for a in x)
        z = np.zeros_like(x[0])
        if self.mode == "rewards":
            return (x[0] - x[2], x[1] - x[3], z, z.copy())
        if self.mode == "reference-free":
            a, b = x[0], x[1]
            if self.spec.input_max is not None:  # ORPO: per-token averages, away from log p = 0
                top = self.spec.input_max - 0.01
                a, b = np.minimum(a, top), np.minimum(b, top)
            return (a, b, z, z.copy())
        return x

    def bounded(self, x, beta):
        """``x`` with its log-ratios scaled down so that β(|h_w| + |h_l|) ≤ max_margin (so every
        margin the checks see is within max_margin, whatever β is drawn)."""
        hw, hl = x[0] - x[2], x[1] - x[3]
        big = float(np.max(beta * (np.abs(hw) + np.abs(hl)), initial=0.0))
        if big <= self.max_margin:
            return x
        s = self.max_margin / big
        if self.mode == "log-ratios":
            return (x[2] + s * hw, x[3] + s * hl, x[2], x[3])
        return (s * x[0], s * x[1], x[2], x[3])

    def strategy(self):
        """(batch, β, chosen lengths, rejected lengths): the batch from
        :func:`dpomath.strategies.preference_batches`, lengths only for the functions that take
        them."""
        from hypothesis import strategies as st
        from .strategies import betas, preference_batches

        beta_st = st.just(self.beta) if self.beta is not None else betas(0.01, 10.0)
        uses_lengths, max_size = self.conv.lengths, self.max_size

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

    def draw_case(self, drawn) -> Case:
        batch, beta, lw, ll = drawn
        x = self.bounded(self.from_logps(tuple(batch[k] for k in NAMES)), beta)
        return self.case(x, beta, lengths=None if lw is None else (np.array(lw, float), np.array(ll, float)))

    # ---------------------------------------------------------------- gradients

    def torch_grads(self, case: Case, xcoords: bool = False):
        """∂out/∂x_j for the four inputs (zeros for those the function does not get; summed over
        a per-sample output) by autograd; with ``xcoords`` the derivatives in x = πθ/π_ref of
        chosen and rejected instead."""
        torch = self.torch
        tdt = getattr(torch, self.dtype)
        if xcoords:
            x64 = [torch.tensor(np.exp(h), dtype=torch.float64, requires_grad=True)
                   for h in (case.hw, case.hl)]
            rc, rr = (torch.tensor(case.x[2], dtype=torch.float64), torch.tensor(case.x[3], dtype=torch.float64))
            args = [(rc + torch.log(x64[0])).to(tdt), (rr + torch.log(x64[1])).to(tdt), rc.to(tdt), rr.to(tdt)]
            leaves = x64
        else:
            args = [torch.tensor(case.x[j], dtype=tdt, requires_grad=True) for j in self.inputs]
            leaves = args
        out = self.invoke(case, "torch", "this batch", leaves=args)
        if not is_torch(out) or not out.requires_grad:
            raise Fail(self.head("its output carries no gradient") + self.describe(case) +
                       "The output does not depend differentiably on the input tensors (a .detach(), "
                       ".item(), numpy round trip or torch.no_grad() inside?); training could not "
                       "follow it.")
        grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
        grads = [np.zeros(case.n) if g is None else g.detach().double().numpy() for g in grads]
        if xcoords:
            return grads
        full = [np.zeros(case.n) for _ in range(4)]
        for j, g in zip(self.inputs, grads):
            full[j] = g
        return full

    def fd_grads(self, case: Case, xcoords: bool = False):
        """Central differences of the numpy function (float64)."""
        if xcoords:
            base = [np.exp(case.hw), np.exp(case.hl)]
            idx = (0, 1)
        else:
            base = [np.asarray(v) for v in case.x]
            idx = self.inputs

        def run(vals):
            if xcoords:
                x = (case.x[2] + np.log(vals[0]), case.x[3] + np.log(vals[1]), case.x[2], case.x[3])
            else:
                x = tuple(vals)
            return self.call(Case(x, case.beta, case.lengths))[0]

        grads = [np.zeros(case.n) for _ in base]
        for j in idx:
            # x = πθ/π_ref > 0: a relative step; log-probabilities: an absolute one (≥ 1e-6)
            d = 1e-6 * (base[j] if xcoords else np.maximum(1.0, np.abs(base[j])))
            if self.reduction == "per-sample":  # samples are independent (checked before)
                up = list(base); up[j] = base[j] + d
                dn = list(base); dn[j] = base[j] - d
                grads[j] = (run(up) - run(dn)) / (2 * d)
            else:
                g = np.zeros(case.n)
                for i in range(case.n):
                    up = [b.copy() for b in base]; up[j][i] += d[i]
                    dn = [b.copy() for b in base]; dn[j][i] -= d[i]
                    g[i] = (run(up) - run(dn)) / (2 * d[i])
                grads[j] = g
        return grads

    def ref_grads(self, case: Case):
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
        hw, hl = self.logratios(t)
        out = L.preference_loss(self.kind, hw, hl, case.beta, **p)
        out = out.sum() if self.reduction == "per-sample" else out.mean()
        grads = torch.autograd.grad(out, t, allow_unused=True)
        return [np.zeros(case.n) if g is None else g.detach().numpy() for g in grads]

    # ---------------------------------------------------------------- the Hypothesis driver

    def finite_output(self, case: Case) -> bool:
        try:
            got, _ = self.call(case)
        except Fail:
            return True  # let the check itself report it
        return bool(np.all(np.isfinite(got)))

    def run(self, name: str, what: str, prop, with_const: bool = False, finite_only: bool = True):
        """Run ``prop(case)`` (or ``prop(case, c)`` with a drawn constant c ≠ 0) on generated
        batches, with explicit settings (independent of the caller's Hypothesis profile).
        ``finite_only``: only batches where the loss is finite and |ρ| < 700 (the properties
        past the value check), and, once a check has seen the function return inf or NaN where
        the loss is finite, only batches where it does not (those are reported already)."""
        __tracebackhide__ = True
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import strategies as st
        from hypothesis.errors import Flaky

        const = st.floats(-20.0, 20.0, allow_nan=False).filter(lambda c: c != 0) if with_const \
            else st.just(None)
        count, left = [0], [0]

        @settings(max_examples=self.examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                  phases=(Phase.explicit, Phase.generate, Phase.shrink),
                  verbosity=Verbosity.quiet, print_blob=False)
        @given(self.strategy(), const)
        def prop_test(drawn, c):
            case = self.draw_case(drawn)
            if finite_only and not (np.all(np.isfinite(self.ref(case)))
                                    and np.all(np.abs(case.rho) < 700)):
                return
            if finite_only and self.nonfinite_seen and not self.finite_output(case):
                left[0] += 1
                return
            try:
                prop(case) if c is None else prop(case, c)
            except LeftOut:
                left[0] += 1
                return
            count[0] += 1

        try:
            prop_test()
        except Fail as e:
            raise Fail(str(e) + "(This is the smallest failing batch Hypothesis found.)\n") from None
        except Flaky as e:  # a failure that did not repeat on the same batch
            raise Fail(
                self.head(f"the {name} check failed only sometimes") +
                "The same batch passed on one call and failed on another: the function is not "
                "deterministic (hidden state, randomness, or uninitialised memory?).\n"
                f"First failure: {e}\n") from None
        note = (f"; {left[0]} batch{'es' if left[0] != 1 else ''} where it is not finite left out"
                if left[0] else "")
        self.report.checks.append((name, what + note, count[0]))
