"""The kit's harness: calling the user's function the way it wants to be called, dpomath's
reference values, the tolerance model, the messages, and the Hypothesis driver that runs a
check on generated batches. The checks themselves are module-level functions of a
:class:`Harness` in :mod:`dpomath.testing._checks`; the diagnosis of a failure is in
:mod:`dpomath.testing._diagnose`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import losses as L
from .._args import is_torch

__all__ = ["Harness", "ConformanceReport", "Fail", "Case", "NAMES", "SHORT", "fmt"]

NAMES = ("policy_chosen_logps", "policy_rejected_logps",
         "reference_chosen_logps", "reference_rejected_logps")
SHORT = ("πθ(y_w)", "πθ(y_l)", "π_ref(y_w)", "π_ref(y_l)")


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

    def _repr_html_(self) -> str:  # Jupyter: the header and a table of the checks
        from ..verify.display import lines_html

        head, setup = str(self).splitlines()[:2]
        rows = [("ok", name, f"{what} ({n} batch{'es' if n != 1 else ''})")
                for name, what, n in self.checks]
        rows += [("skip", name, why) for name, why in self.skipped]
        return lines_html(f"{head}. {setup.strip()}", rows)


class Fail(AssertionError):
    pass


@dataclass
class Case:
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


def fmt(a) -> str:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return f"{float(a):.10g}"
    return "[" + ", ".join(f"{v:.10g}" for v in a) + "]"


class Harness:
    """One run of the kit on one function: what was found out about it (backend, reduction,
    output precision) and how to call it, compute the reference and phrase a failure."""

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

    def to_backend(self, a, backend, grad=False):
        if backend == "torch":
            t = self.torch.tensor(np.asarray(a, dtype=self.np_dtype))
            return t.requires_grad_(True) if grad else t
        return np.asarray(a, dtype=self.np_dtype)

    def extra(self, case: Case, backend: str) -> dict:
        if not self.uses_lengths:
            return {}
        return {"chosen_lengths": self.to_backend(case.lengths[0], backend),
                "rejected_lengths": self.to_backend(case.lengths[1], backend)}

    def invoke(self, args, case: Case, backend: str, what: str = "this batch"):
        try:
            with np.errstate(all="ignore"):  # inf/NaN are reported by the checks, not as warnings
                return self.fn(*args, beta=case.beta, **self.extra(case, backend))
        except Exception as e:  # the user's function crashed: say where
            raise Fail(self.head("it raised an exception") +
                        f"Calling it on {what} raised {type(e).__name__}: {e}\n" +
                        self.describe(case)) from e

    def call(self, case: Case, backend: str | None = None, what: str = "this batch"):
        """The user's output on ``case`` as float64 numpy (and its dtype's epsilon)."""
        backend = backend or self.backend
        out = self.invoke([self.to_backend(a, backend) for a in case.x], case, backend, what)
        return self.as_numpy(out, case)

    def as_numpy(self, out, case):
        if is_torch(out):
            eps = float(self.torch.finfo(out.dtype).eps) if out.is_floating_point() else None
            val = out.detach().cpu().double().numpy()
        elif isinstance(out, (float, np.floating, np.ndarray)) and np.asarray(out).dtype.kind == "f":
            eps = float(np.finfo(np.asarray(out).dtype).eps)
            val = np.asarray(out, dtype=np.float64)
        else:
            raise Fail(self.head("it returned something that is not a float array") +
                        f"It returned {type(out).__name__} {out!r:.200}; expected per-sample losses "
                        f"(shape ({case.n},)) or their mean (a scalar), as a float torch tensor "
                        "or numpy array.")
        if eps is None:
            raise Fail(self.head("it returned integers") + f"It returned dtype {out.dtype}.")
        return val, eps

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

    def ref(self, case: Case, x=None, beta=None, kind=None, params=None):
        x = case.x if x is None else x
        p = self.ref_params(case, x) if params is None else params
        with np.errstate(over="ignore"):
            return np.asarray(L.preference_loss(kind or self.kind, x[0] - x[2], x[1] - x[3],
                                                case.beta if beta is None else beta, **p),
                              dtype=np.float64)

    def sensitivity(self, case: Case) -> np.ndarray:
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

    def tolerance(self, case: Case, ref: np.ndarray, eps: float) -> np.ndarray:
        scale = np.abs(np.where(np.isfinite(ref), ref, 0.0)) + self.sensitivity(case) + 1.0
        rtol = self.rtol_user if self.rtol_user is not None else 64 * max(eps, self.input_eps)
        return rtol * scale

    @property
    def input_eps(self) -> float:
        return float(np.finfo(self.np_dtype).eps)

    def head(self, what: str) -> str:
        return (f"{self.fname} does not conform to dpomath's `{self.kind}` loss "
                f"({self.spec.formula}; {self.spec.reference}): {what}.\n")

    def describe(self, case: Case) -> str:
        lines = [f"The batch (n = {case.n}, beta = {case.beta!r}"
                 + (", " + ", ".join(f"{k} = {v!r}" for k, v in self.params.items()) if self.params else "")
                 + "):"]
        for name, a in zip(NAMES, case.x):
            lines.append(f"  {name:<26}= {fmt(a)}")
        if self.uses_lengths:
            lines.append(f"  {'chosen_lengths':<26}= {fmt(case.lengths[0])}")
            lines.append(f"  {'rejected_lengths':<26}= {fmt(case.lengths[1])}")
        lines.append(f"  log-ratios h_w = {fmt(case.hw)}, h_l = {fmt(case.hl)}; "
                     f"margins ρ = β(h_w − h_l) = {fmt(case.beta * (case.hw - case.hl))}")
        return "\n".join(lines) + "\n"

    def shown(self, got: np.ndarray) -> str:
        return ("per-sample losses " if got.ndim == 1 else "the scalar ") + fmt(got)

    def reduce(self, per_sample: np.ndarray):
        return per_sample if self.reduction == "per-sample" else np.float64(np.mean(per_sample))

    def case(self, x, beta, lengths=None) -> Case:
        x = tuple(np.asarray(a, dtype=self.np_dtype).astype(np.float64) for a in x)
        if self.uses_lengths:
            n = len(x[0])
            lengths = lengths or (np.ones(n), np.ones(n))
            lengths = tuple(np.asarray(v, dtype=np.float64)[:n] for v in lengths)
        else:
            lengths = None
        return Case(x, float(beta), lengths)

    def sub(self, case, i):
        return Case(tuple(a[i:i + 1] for a in case.x), case.beta,
                     None if case.lengths is None else tuple(v[i:i + 1] for v in case.lengths))

    def torch_grads(self, case: Case, xcoords: bool = False):
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
        out = self.invoke(args, case, "torch", "this batch")
        if not is_torch(out) or not out.requires_grad:
            raise Fail(self.head("its output carries no gradient") + self.describe(case) +
                        "The output does not depend differentiably on the input tensors (a .detach(), "
                        ".item(), numpy round trip or torch.no_grad() inside?); training could not "
                        "follow it.")
        grads = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
        return [np.zeros(case.n) if g is None else g.detach().double().numpy() for g in grads]

    def fd_grads(self, case: Case, xcoords: bool = False):
        """Central differences of the numpy function (float64)."""
        base = [np.asarray(v) for v in ((np.exp(case.hw), np.exp(case.hl)) if xcoords else case.x)]

        def run(vals):
            if xcoords:
                x = (case.x[2] + np.log(vals[0]), case.x[3] + np.log(vals[1]), case.x[2], case.x[3])
            else:
                x = tuple(vals)
            return self.call(Case(x, case.beta, case.lengths))[0]

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
        out = L.preference_loss(self.kind, t[0] - t[2], t[1] - t[3], case.beta, **p)
        out = out.sum() if self.reduction == "per-sample" else out.mean()
        return [g.detach().numpy() for g in torch.autograd.grad(out, t)]

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

    def draw_case(self, drawn) -> Case:
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
        except Fail as e:
            raise AssertionError(str(e) + "(This is the smallest failing batch Hypothesis found.)") from None
        except Flaky as e:  # a failure that did not repeat on the same batch
            raise AssertionError(
                self.head(f"the {name} check failed only sometimes") +
                "The same batch passed on one call and failed on another: the function is not "
                "deterministic (hidden state, randomness, or uninitialised memory?).\n"
                f"First failure: {e}") from None
        self.report.checks.append((name, what, count[0]))
