"""The kit's diagnosis of a failure, in words.

* **inf or NaN** where the loss is finite: the margin at which the function stops being finite is
  found by bisection on the failing row, and compared with the thresholds of the output's float
  type — e^x overflows past x = log(max) (709.78 in float64, 88.72 in float32), σ(x) and e^x
  underflow to 0 past −745.13 (−103.97 in float32) — so an overflowing exponential is named as
  such, and told apart from log(sigmoid(x));
* **a precision difference**: the output agrees with the definition to ~1e-8 but not to the
  output's precision (a float32 constant in float64 code);
* **another loss**: which wrong-but-plausible loss the output equals — wrong sign, chosen and
  rejected exchanged, reference left out, β applied twice or not at all, sum instead of mean, a
  parameter left out or ignored (a target margin, CPO's SFT term, label smoothing), SimPO's γ
  read as γ/β or the reverse, another member of the family (members that are the same function,
  such as `sigmoid` and `reward-model`, named together) — confirmed on three unremarkable
  batches, because a shrunk batch is full of coincidences.
"""
from __future__ import annotations

import math

import numpy as np

from .. import losses as L
from ._harness import Case, Harness

__all__ = ["diagnose", "nonfinite_cause", "rows_at_fault"]

# thresholds of the float types: log of the largest value (e^x overflows beyond), and
# −log of the smallest subnormal and normal values (e^x and σ(x) underflow to 0 beyond)
_LIMITS = {name: (math.log(float(np.finfo(t).max)), -math.log(float(np.finfo(t).smallest_subnormal)),
                  -math.log(float(np.finfo(t).tiny)))
           for name, t in (("float64", np.float64), ("float32", np.float32), ("float16", np.float16))}
_LIMITS["bfloat16"] = _LIMITS["float32"]


def _matches(h: Harness, got, eps, case, alt_ps) -> bool:
    with np.errstate(all="ignore"):
        alt = h.reduce(np.asarray(alt_ps, dtype=np.float64))
        if not np.all(np.isfinite(alt)) or np.shape(alt) != np.shape(got):
            return False
        tol = np.maximum(h.tolerance(case, alt_ps, eps), 1e-9 * (1 + np.abs(alt_ps)))
        tol = tol if h.reduction == "per-sample" else np.mean(tol)
        return bool(np.all(np.abs(got - alt) <= tol))


def _member_params(h: Harness, spec, case, given):
    return {**given, **{n: v for n, v in h.ref_params(case).items()
                        if n in spec.params and n not in given}}


def _candidates(h: Harness, beta: float):
    """(words, group, case → per-sample values) of the plausible wrong losses; candidates with
    the same ``group`` (another member) are merged when they are the same function."""
    out = [("it equals minus the loss (wrong sign)", None, lambda c: -h.ref(c)),
           ("it equals the loss with chosen and rejected exchanged", None,
            lambda c: h.ref(Case((c.x[1], c.x[0], c.x[3], c.x[2]), c.beta,
                                 None if c.lengths is None else c.lengths[::-1])))]
    if h.mode == "log-ratios" and not h.spec.reference_free:
        out.append(("it equals the loss with the reference log-probabilities left out (policy "
                    "log-probabilities used as the log-ratios)", None,
                    lambda c: h.ref(c, (c.x[0], c.x[1], np.zeros(c.n), np.zeros(c.n)))))
    if beta != 1.0:
        out += [(f"it equals the loss at β² = {beta ** 2:.6g} (β applied twice)", None,
                 lambda c: h.ref(c, beta=c.beta ** 2)),
                ("it equals the loss at β = 1 (β not applied)", None, lambda c: h.ref(c, beta=1.0))]
    if h.reduction == "mean":
        out.append(("it equals the sum over the batch, not the mean", None, lambda c: h.ref(c) * c.n))
    # the same member with a parameter left out (0) or read the other way
    for name, q in h.spec.params.items():
        v = h.params.get(name)
        if q.array or v is None or v == 0:
            continue
        p0 = dict(h.params, **{name: 0.0})
        out.append((f"it equals the `{h.kind}` loss with {name} = 0 instead of {v:g} ({q.doc}): "
                    f"the function leaves that term out or ignores {name}", None,
                    lambda c, p0=p0: h.ref(c, params=_member_params(h, h.spec, c, p0))))
    if {"gamma", "gamma_beta_ratio"} <= set(h.spec.params):  # SimPO: γ or γ/β
        for given, other, words in (("gamma", "gamma_beta_ratio", "γ/β, the SimPO code's parameter"),
                                    ("gamma_beta_ratio", "gamma",
                                     "the absolute γ of TRL's simpo_gamma and liger's gamma")):
            v = h.params.get(given)
            if v:
                p1 = dict(h.params, **{given: 0.0, other: v})
                out.append((f"it equals the `{h.kind}` loss with {other} = {v:g} ({words}) rather "
                            f"than {given} = {v:g}", None,
                            lambda c, p1=p1: h.ref(c, params=_member_params(h, h.spec, c, p1))))
    given = h.given  # the parameters the user gave
    for k, spec in L.LOSSES.items():
        if k == h.kind or (h.mode == "reference-free" and not spec.reference_free) or (
                h.mode == "rewards" and not spec.rewards):
            continue  # a member the function could not be checked as
        p = {n: v for n, v in h.params.items() if n in spec.params and n in given}
        for n in spec.needs_one_of[:1]:
            if not any(m in p for m in spec.needs_one_of):
                p[n] = 0.0
        need = [n for n, q in spec.params.items() if q.default is None and n not in p and not q.array]
        if need or ("chosen_lengths" in spec.params and spec.params["chosen_lengths"].default is None
                    and not h.uses_lengths) or ("chosen_logps" in spec.params):
            continue
        shown = "".join(f", {n}={v:g}" for n, v in p.items() if v != spec.params[n].default)
        # named beside an equal member only when none of its parameters was filled in here
        plain = all(n in given or q.symbolic_default or q.array for n, q in spec.params.items())
        out.append((f"it equals dpomath's `{k}` loss{' (' + shown[2:] + ')' if shown else ''} "
                    f"({spec.formula})", (k, plain),
                    lambda c, k=k, spec=spec, p=p: h.ref(c, kind=k, params=_lengths(h, spec, c, p))))
    return out


def _lengths(h, spec, c, p):
    p = dict(p)
    if "chosen_lengths" in spec.params:
        p["chosen_lengths"], p["rejected_lengths"] = (
            c.lengths if c.lengths is not None else (np.ones(c.n), np.ones(c.n)))
    return p


def _generic_cases(h: Harness, beta: float) -> list:
    """Three unremarkable batches (distinct values, no zeros) to confirm a diagnosis on."""
    rng = np.random.default_rng(12345)
    return [h.case(h.from_logps(tuple(-rng.uniform(0.5, 6.0, 3) for _ in range(4))), beta,
                   lengths=(rng.integers(1, 9, 3), rng.integers(1, 9, 3))) for _ in range(3)]


def _same_function(a, b) -> bool:
    return all(np.allclose(x, y, rtol=1e-12, atol=1e-14) for x, y in zip(a, b))


def diagnose(h: Harness, got, eps, case: Case) -> list[str]:
    """The likely causes of a value mismatch, in words (see the module docstring)."""
    out = []
    with np.errstate(all="ignore"):
        want = h.reduce(h.ref(case))
        if np.any(~np.isfinite(got)) and np.all(np.isfinite(want)):
            g = np.atleast_1d(got)
            if h.reduction == "per-sample":
                i = int(np.argmax(~np.isfinite(g)))
            else:
                alone = [np.atleast_1d(h.call(h.sub(case, k), what=f"row {k} alone")[0])[0]
                         for k in range(case.n)]
                i = next((k for k in range(case.n) if not np.isfinite(alone[k])), 0)
            out.append(nonfinite_cause(h, case, i))
            return out
        if np.all(np.isfinite(got)) and np.all(np.isfinite(want)):
            g, w = np.atleast_1d(got), np.atleast_1d(want)
            nz = w != 0
            rel = float(np.max(np.abs(g - w)[nz] / np.abs(w[nz]), initial=0.0)) if nz.any() else np.inf
            if rel <= 1e-5:
                why = ("a float32 constant or intermediate in float64 code (torch.tensor(ε) "
                       "without dtype, say; float32 rounds at 6e-8)" if rel >= 1e-9 else
                       "rounding in a less accurate form of the same formula (a cancellation?)")
                out.append(f"a precision difference, not another formula: it agrees with the "
                           f"definition to {rel:.1g} relative — {why}; with rtol={_up(rel):g} "
                           "(or at float32) it would pass")
                return out
        generic = None
        members = []  # (words, values on the generic batches) of matching members
        for words, group, alt in _candidates(h, case.beta):
            try:
                if not _matches(h, got, eps, case, alt(case)):
                    continue
                if generic is None:
                    generic = [(c, h.call(c, what="a confirming batch")) for c in
                               _generic_cases(h, case.beta)]
                if all(_matches(h, g, e, c, alt(c)) for c, (g, e) in generic):
                    if group is None:
                        out.append(words)
                    else:
                        members.append((group, words, [alt(c) for c, _ in generic]))
            except (ValueError, TypeError, AssertionError):
                continue
        # members that are the same function (sigmoid and reward-model): one diagnosis
        while members:
            (group, _), words, vals = members.pop(0)
            same = [m for m in members if _same_function(m[2], vals)]
            members = [m for m in members if m not in same]
            names = [m[0][0] for m in same if m[0][1]]
            if names:
                words += " — the same function as " + ", ".join(f"`{n}`" for n in names)
            out.append(words + f" — is kind={group!r} what you meant?")
    return out


def _up(rel: float) -> float:
    """A round tolerance above ``rel``."""
    return float(10.0 ** math.ceil(math.log10(2 * rel)))


def _scaled(h: Harness, row: Case, t: float) -> Case:
    """``row`` with its log-ratios (inputs, outside the log-ratio mode) scaled by t."""
    x = row.x
    if h.mode == "log-ratios":
        y = (x[2] + t * (x[0] - x[2]), x[3] + t * (x[1] - x[3]), x[2], x[3])
    else:
        y = (t * x[0], t * x[1], x[2], x[3])
    return Case(y, row.beta, row.lengths)


def _finite_at(h: Harness, row: Case, gradient: bool) -> bool:
    with np.errstate(all="ignore"):
        if gradient:
            grads = h.torch_grads(row)
            return all(np.all(np.isfinite(g)) for g in grads)
        val, _ = h.call(row)
        return bool(np.all(np.isfinite(val)))


def nonfinite_cause(h: Harness, case: Case, i: int, gradient: bool = False) -> str:
    """Why the function is inf/NaN at sample ``i`` where the loss is finite: the margin where
    it stops being finite (bisection along the row's log-ratios) against the float type's
    overflow and underflow thresholds."""
    row = h.sub(case, i)
    kind = "gradient" if gradient else "value"
    generic = ("an unstable form: compute log σ(x) as torch.nn.functional.logsigmoid(x) / "
               "scipy.special.log_expit(x) (−softplus(−x)), never log(sigmoid(x)); form e^x only "
               "where it cannot overflow")
    try:
        if gradient:
            nan = any(np.any(np.isnan(g)) for g in h.torch_grads(row))
        else:
            val, _ = h.call(row)
            nan = bool(np.any(np.isnan(val)))
        if _finite_at(h, row, gradient) or not _finite_at(h, _scaled(h, row, 0.0), gradient):
            return generic
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if _finite_at(h, _scaled(h, row, mid), gradient):
                lo = mid
            else:
                hi = mid
    except Exception:  # the bisection is a refinement; the failure itself stands
        return generic
    at = _scaled(h, row, lo)
    rho = float(at.rho[0])
    quantities = {"ρ": abs(rho), "βh_w": abs(at.beta * float(at.hw[0])),
                  "βh_l": abs(at.beta * float(at.hl[0]))}
    dtype = h.out_dtype or h.dtype
    exp_max, sub_min, norm_min = _LIMITS.get(dtype, _LIMITS["float64"])
    where = f"It is finite down to ρ = {rho:.6g} and not beyond (bisection on sample {i})"
    for name, q in quantities.items():
        if q > 0 and abs(q - exp_max) <= 2e-3 * exp_max:
            how = ("forms e^x and multiplies it by a factor that underflowed to 0: inf·0 = NaN "
                   "(as e^{−ρ}·σ(ρ/τ) does); form the product in log space, exp(log σ(ρ/τ) − ρ)"
                   if nan else
                   "forms e^x directly: log(1 + e^x) = inf, or σ(x) = 1/(1 + e^{−x}) = 0 and "
                   "log σ(x) = −inf; use softplus(x) = logaddexp(0, x) and logsigmoid(x) / "
                   "log_expit(x), never log(1 + exp(x)) or log(sigmoid(x))")
            if gradient and not nan:
                how = "forms e^x in its backward pass (a custom or unstable gradient)"
            return (f"an exponential overflows (the {kind} is {'NaN' if nan else 'inf'}). {where}: "
                    f"|{name}| = {q:.6g} is where e^{{|{name}|}} exceeds the largest {dtype} "
                    f"(e^{exp_max:.2f}). The function {how}.")
        if q > 0 and (abs(q - sub_min) <= 2e-3 * sub_min or abs(q - norm_min) <= 2e-3 * norm_min):
            return (f"an underflow to 0 then a log of it (the {kind} is {'NaN' if nan else 'inf'}). "
                    f"{where}: |{name}| = {q:.6g} is where e^{{−|{name}|}} and σ(−|{name}|) "
                    f"underflow to 0 in {dtype}, and log 0 = −inf. Compute log σ(x) as "
                    "logsigmoid(x) / log_expit(x), never log(sigmoid(x)).")
    return (f"an intermediate overflows or underflows. {where} (|βh_w| = {quantities['βh_w']:.6g},"
            f" |βh_l| = {quantities['βh_l']:.6g}); no single e^x threshold of {dtype} matches, so "
            f"a scaled exponential (e^{{ρ/τ}}?) or a product of large terms is likely: "
            + generic)


def rows_at_fault(h: Harness, case: Case, ref_ps) -> str:
    """For a function returning the batch mean: the rows that differ from the definition when
    called alone, in words ("" when none does, or each agrees alone)."""
    lines = []
    with np.errstate(all="ignore"):
        for k in range(case.n):
            row = h.sub(case, k)
            try:
                val, eps = h.call(row, what=f"row {k} alone")
            except Exception:
                continue
            v = float(np.reshape(val, -1)[0])
            tol = float(h.tolerance(row, ref_ps[k:k + 1], eps)[0])
            if not abs(v - ref_ps[k]) <= tol:
                lines.append(f"  row {k} (ρ = {case.rho[k]:.6g}): returns {v:.10g} alone, the loss "
                             f"is {ref_ps[k]:.10g}")
    if not lines:
        return ""
    return (f"Called alone, {len(lines)} of the {case.n} rows differ from the definition:\n"
            + "\n".join(lines[:8]) + ("\n  …" if len(lines) > 8 else "") + "\n")
