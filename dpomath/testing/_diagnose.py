"""The kit's diagnosis: when a check fails, which wrong-but-plausible loss the user's output
equals — wrong sign, chosen and rejected exchanged, reference left out, β applied twice or
not at all, sum instead of mean, another member of the family — confirmed on three
unremarkable batches, because a shrunk batch is full of coincidences."""
from __future__ import annotations

import numpy as np

from .. import losses as L
from ._harness import Case, Harness

__all__ = ["diagnose"]


def _matches(h: Harness, got, eps, case, alt_ps) -> bool:
    with np.errstate(all="ignore"):
        alt = h.reduce(np.asarray(alt_ps, dtype=np.float64))
        if not np.all(np.isfinite(alt)) or np.shape(alt) != np.shape(got):
            return False
        tol = np.maximum(h.tolerance(case, alt_ps, eps), 1e-9 * (1 + np.abs(alt_ps)))
        tol = tol if h.reduction == "per-sample" else np.mean(tol)
        return bool(np.all(np.abs(got - alt) <= tol))


def _candidates(h: Harness, beta: float):
    """(words, case → per-sample values) of the plausible wrong losses."""
    out = [("it equals minus the loss (wrong sign)", lambda c: -h.ref(c)),
           ("it equals the loss with chosen and rejected exchanged",
            lambda c: h.ref(Case((c.x[1], c.x[0], c.x[3], c.x[2]), c.beta,
                                     None if c.lengths is None else c.lengths[::-1]))),
           ("it equals the loss with the reference log-probabilities left out (policy "
            "log-probabilities used as the log-ratios)",
            lambda c: h.ref(c, (c.x[0], c.x[1], np.zeros(c.n), np.zeros(c.n))))]
    if beta != 1.0:
        out += [(f"it equals the loss at β² = {beta ** 2:.6g} (β applied twice)",
                 lambda c: h.ref(c, beta=c.beta ** 2)),
                ("it equals the loss at β = 1 (β not applied)", lambda c: h.ref(c, beta=1.0))]
    if h.reduction == "mean":
        out.append(("it equals the sum over the batch, not the mean", lambda c: h.ref(c) * c.n))
    for k, spec in L.LOSSES.items():
        if k == h.kind:
            continue
        p = {n: v for n, v in h.params.items() if n in spec.params}
        need = [n for n, q in spec.params.items() if q.default is None and n not in p and not q.array]
        if need or ("chosen_lengths" in spec.params and not h.uses_lengths) or (
                "chosen_logps" in spec.params):
            continue
        out.append((f"it equals dpomath's `{k}` loss ({spec.formula}) — is kind={k!r} what "
                    "you meant?",
                    lambda c, k=k, spec=spec, p=p: h.ref(c, kind=k, params={
                        **p, **{n: v for n, v in h.ref_params(c).items()
                                if n in spec.params and n not in p}})))
    return out


def _generic_cases(h: Harness, beta: float) -> list:
    """Three unremarkable batches (distinct values, no zeros) to confirm a diagnosis on."""
    rng = np.random.default_rng(12345)
    return [h.case(tuple(-rng.uniform(0.5, 6.0, 3) for _ in range(4)), beta,
                      lengths=(rng.integers(1, 9, 3), rng.integers(1, 9, 3))) for _ in range(3)]


def diagnose(h: Harness, got, eps, case: Case) -> list[str]:
    """Which wrong-but-plausible loss the output equals, in words: it must match on the
    failing batch and on three unremarkable ones (a shrunk batch is full of coincidences)."""
    out = []
    with np.errstate(all="ignore"):
        if np.any(~np.isfinite(got)) and np.all(np.isfinite(h.reduce(h.ref(case)))):
            out.append("it returned inf or NaN where the loss is finite — an unstable form, "
                       "e.g. log(sigmoid(x)) (which underflows to log 0); use "
                       "torch.nn.functional.logsigmoid / scipy.special.log_expit or "
                       "−softplus(−x)")
        generic = None
        for words, alt in _candidates(h, case.beta):
            try:
                if not _matches(h, got, eps, case, alt(case)):
                    continue
                if generic is None:
                    generic = [(c, h.call(c, what="a confirming batch")) for c in
                               _generic_cases(h, case.beta)]
                if all(_matches(h, g, e, c, alt(c)) for c, (g, e) in generic):
                    out.append(words)
            except (ValueError, TypeError, AssertionError):
                continue
    return out
