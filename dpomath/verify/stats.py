"""Statistics shared by the claims: the exact (Clopper–Pearson) interval of a binomial
proportion."""
from __future__ import annotations

from .. import _args

__all__ = ["clopper_pearson"]


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper–Pearson) two-sided 1 − α interval for a binomial proportion k/n.

    Parameters
    ----------
    k : int
        Successes, 0 ≤ k ≤ n.
    n : int
        Trials, n ≥ 1.
    alpha : float
        1 − the confidence level, in (0, 1).

    Returns
    -------
    (float, float)
        The interval's ends (0 when k = 0, 1 when k = n).

    >>> lo, hi = clopper_pearson(0, 10)
    >>> lo, round(hi, 4)
    (0.0, 0.3085)
    """
    from scipy.stats import beta as beta_dist

    n = _args.integer("n", n, lo=1)
    k = _args.integer("k", k, lo=0, hi=n)
    alpha = _args.real("alpha", alpha, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    lo = 0.0 if k == 0 else float(beta_dist.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta_dist.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi
