"""Paper I's reward-margin dynamics (Lemma 4.1) and their integration.

Last-layer model πθ(y|x) = softmax(W g(x))ᵀy with single-token responses; reference W0;
gradient flow τ Ẇ = −∇_W L on L = (1/N) Σ_i f(r_i), r_i = β(Δy_i)ᵀ(W − W0) g_i,
Δy_i = y_{w,i} − y_{l,i} (the log-partition cancels exactly: ``dpomath derive lemma-4.1``).
Lemma 4.1, with the GPO weight w(r) = −f′(r) (σ(−r) for DPO):

    τ ṙ_j = (β²/N) Σ_i w(r_i) (Δy_j)ᵀ(Δy_i) g_iᵀ g_j .

The right-hand side is evaluated through the d-dimensional features, never the N×N matrix:
G = Σ_i w(r_i) Δy_i g_iᵀ (one row per token in use), then ṙ_j = (β²/(Nτ)) g_jᵀ (G_{y_w,j} − G_{y_l,j}):
O(N·d) time and no memory beyond the features. A test sample x follows the same equation
driven by the training weights w(r_i). Margins start at 0 (W = W0); W0 itself never enters.

>>> import numpy as np
>>> from dpomath.lastlayer.margins import solve_margins
>>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
>>> s = solve_margins(X, [0, 2], [1, 3], beta=1.0, t_end=2.0, t_eval=[2.0])
>>> bool(np.allclose(s.train[-1], s.train[-1, 0]))   # two orthogonal samples: same margin
True
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _args
from ..losses import get_loss, margin_weight
from .theorem42 import LOG3
from .._args import is_torch

__all__ = ["MarginField", "MarginSolution", "solve_margins", "margin_rhs", "gram_rhs"]

#: Above this many (chosen, rejected) token pairs the right-hand side switches from grouped
#: BLAS products to a sparse incidence matrix (both O(N·d)).
_GROUP_MAX = 256


# ---------------------------------------------------------------- inputs

def _features(name: str, x) -> np.ndarray:
    """(N, d) float64, C-contiguous, finite; checked in row blocks so that no N×d temporary
    (not even of booleans) is made for an input that is already float64."""
    if is_torch(x):
        x = x.detach().cpu().double().numpy()
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        x = _args.array(name, x)
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise _args.BadValue(f"{name}: expected a 2-D (N, d) array with N, d >= 1, got shape {a.shape}")
    step = max(1, 2 ** 20 // a.shape[1])
    for s in range(0, a.shape[0], step):
        blk = a[s:s + step]
        if not np.isfinite(blk).all():
            bad = "NaN" if np.isnan(blk).any() else "inf"
            raise _args.BadValue(f"{name}: must be finite, found {bad}")
    return a


def _tokens(name: str, y, n: int) -> np.ndarray:
    if is_torch(y):
        y = y.detach().cpu().numpy()
    a = np.asarray(y)
    if a.dtype.kind not in "iu":
        raise _args.BadType(f"{name}: expected integer token ids, got dtype {a.dtype}")
    if a.shape != (n,):
        raise _args.BadValue(f"{name}: expected shape ({n},) to match the features, got {a.shape}")
    if n and a.min() < 0:
        raise _args.BadValue(f"{name}: token ids must be >= 0, got {int(a.min())}")
    return a.astype(np.int64)


class _Grouped:
    """Samples grouped by their (chosen, rejected) compact token pair, for the two products
    G = Σ_i w_i Δy_i g_iᵀ (``accumulate``) and ρ_j = g_jᵀ(G_{u_j} − G_{v_j}) (``project``)."""

    def __init__(self, X: np.ndarray, u: np.ndarray, v: np.ndarray, U: int,
                 strategy: str = "auto"):
        self.N, self.d = X.shape
        self.U = U
        self.u, self.v = u, v
        keys, inv = np.unique(u * U + v, return_inverse=True)
        inv = inv.ravel()
        self.P = len(keys)
        grouped = strategy == "grouped" or (strategy == "auto" and self.P <= _GROUP_MAX)
        self.mode = "grouped" if grouped else "sparse"
        if grouped:
            B = np.zeros((self.P, U))
            gu, gv = keys // U, keys % U
            np.add.at(B, (np.arange(self.P), gu), 1.0)
            np.add.at(B, (np.arange(self.P), gv), -1.0)
            self.B = B  # row p = Δy of group p in compact token coordinates
            runs = np.flatnonzero(np.diff(inv)) + 1
            starts = np.concatenate([[0], runs])
            if len(starts) == self.P:  # every group one contiguous block: use views
                self.order = None
                self.Xs = X
                ends = np.concatenate([runs, [self.N]])
                self.groups = [(int(inv[s]), int(s), int(e)) for s, e in zip(starts, ends)]
            else:  # one sorted copy (still O(N·d))
                self.order = np.argsort(inv, kind="stable")
                self.Xs = np.ascontiguousarray(X[self.order])
                si = inv[self.order]
                b = np.concatenate([[0], np.flatnonzero(np.diff(si)) + 1, [self.N]])
                self.groups = [(int(si[b[k]]), int(b[k]), int(b[k + 1])) for k in range(len(b) - 1)]
        else:
            from scipy import sparse

            self.X = X
            rows = np.concatenate([u, v])
            cols = np.concatenate([np.arange(self.N), np.arange(self.N)])
            vals = np.concatenate([np.ones(self.N), -np.ones(self.N)])
            D = sparse.csr_matrix((vals, (rows, cols)), shape=(U, self.N))
            D.sum_duplicates()
            self.D = D
            self._D_base = D.data.copy()
            self.chunk = max(1, int(2 ** 22 // max(self.d, 1)))

    def accumulate(self, w: np.ndarray) -> np.ndarray:
        """G (U, d) = Σ_i w_i Δy_i g_iᵀ."""
        if self.mode == "grouped":
            ws = w if self.order is None else w[self.order]
            S = np.empty((self.P, self.d))
            for p, s, e in self.groups:  # einsum: single-threaded, no BLAS thread stalls
                np.einsum("i,ij->j", ws[s:e], self.Xs[s:e], out=S[p])
            return self.B.T @ S
        self.D.data = self._D_base * w[self.D.indices]
        return np.asarray(self.D @ self.X)

    def project(self, G: np.ndarray) -> np.ndarray:
        """ρ (N,) with ρ_j = g_jᵀ (G_{u_j} − G_{v_j})."""
        if self.mode == "grouped":
            H = self.B @ G
            out = np.empty(self.N)
            for p, s, e in self.groups:
                np.einsum("ij,j->i", self.Xs[s:e], H[p], out=out[s:e])
            if self.order is None:
                return out
            res = np.empty(self.N)
            res[self.order] = out
            return res
        out = np.empty(self.N)
        for s in range(0, self.N, self.chunk):
            e = min(self.N, s + self.chunk)
            H = G[self.u[s:e]] - G[self.v[s:e]]
            out[s:e] = np.einsum("ij,ij->i", self.X[s:e], H)
        return out


class MarginField:
    """The right-hand side of Lemma 4.1 for training (and optionally test) samples.

    ``field(t, y)`` returns dy/dt for the state y = [r_train (N), r_test (M), A (N)], where the
    optional A_i = ∫ w(r_i) dt accumulates the weights so that W(t) − W0 can be rebuilt
    (:meth:`delta_W`). ``strategy`` ("auto", "grouped", "sparse") picks the O(N·d) kernel.
    """

    def __init__(self, train_features, train_chosen, train_rejected, *, beta: float,
                 tau: float = 1.0, loss: str = "sigmoid", loss_params: dict | None = None,
                 test_features=None, test_chosen=None, test_rejected=None,
                 track_weights: bool = False, strategy: str = "auto"):
        X = _features("train_features", train_features)
        N, d = X.shape
        cw = _tokens("train_chosen", train_chosen, N)
        cl = _tokens("train_rejected", train_rejected, N)
        self.beta = _args.positive("beta", beta)
        self.tau = _args.positive("tau", tau)
        spec = get_loss(loss)
        if not spec.is_margin_loss:
            raise _args.BadValue(f"loss: {spec.kind!r} is not a function of the margin alone")
        self.loss = spec.kind
        self.loss_params = dict(loss_params or {})
        margin_weight(self.loss, np.zeros(1), self.beta, **self.loss_params)  # validates params
        _args.choice("strategy", strategy, ("auto", "grouped", "sparse"))
        given = [a is not None for a in (test_features, test_chosen, test_rejected)]
        if any(given) and not all(given):
            raise _args.BadValue("test_features: test_features, test_chosen and test_rejected "
                                 "must be given together")
        toks = [cw, cl]
        if all(given):
            Xt = _features("test_features", test_features)
            if Xt.shape[1] != d:
                raise _args.BadValue(f"test_features: expected d = {d} columns like the "
                                     f"training features, got {Xt.shape[1]}")
            tw = _tokens("test_chosen", test_chosen, Xt.shape[0])
            tl = _tokens("test_rejected", test_rejected, Xt.shape[0])
            toks += [tw, tl]
        self.vocab = np.unique(np.concatenate(toks))
        U = len(self.vocab)
        c = lambda a: np.searchsorted(self.vocab, a)  # noqa: E731
        self.N, self.d = N, d
        self.train = _Grouped(X, c(cw), c(cl), U, strategy)
        self.test = _Grouped(Xt, c(tw), c(tl), U, strategy) if all(given) else None
        self.M = 0 if self.test is None else self.test.N
        self.track_weights = bool(track_weights)
        self.coef = self.beta ** 2 / (N * self.tau)
        self.nfev = 0

    @property
    def n_state(self) -> int:
        return self.N + self.M + (self.N if self.track_weights else 0)

    def weights(self, r: np.ndarray) -> np.ndarray:
        """w(r) = −f′(r) (σ(−r) for DPO)."""
        return margin_weight(self.loss, r, self.beta, **self.loss_params)

    def rates(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(ṙ_train, ṙ_test) at training margins r."""
        G = self.train.accumulate(self.weights(r))
        rt = self.coef * self.train.project(G)
        return rt, (None if self.test is None else self.coef * self.test.project(G))

    def __call__(self, t: float, y: np.ndarray) -> np.ndarray:
        self.nfev += 1
        r = y[: self.N]
        w = self.weights(r)
        G = self.train.accumulate(w)
        parts = [self.coef * self.train.project(G)]
        if self.test is not None:
            parts.append(self.coef * self.test.project(G))
        if self.track_weights:
            parts.append(w)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def delta_W(self, A: np.ndarray) -> np.ndarray:
        """W − W0 (U, d) in compact token rows (``vocab``) from accumulated weights A (N,):
        (β/(Nτ)) Σ_i A_i Δy_i g_iᵀ."""
        return (self.beta / (self.N * self.tau)) * self.train.accumulate(np.asarray(A, float))


@dataclass
class MarginSolution:
    """Margins along the gradient flow.

    ``t`` (T,), ``train`` (T, N), ``test`` (T, M) or None; ``event_time``: first time a training
    margin reaches log 3 (None if not within ``t_end``); ``sol``: the dense output (a callable
    t ↦ state); ``field``: the right-hand side (gives ``vocab`` and ``delta_W``).
    """

    t: np.ndarray
    train: np.ndarray
    test: np.ndarray | None
    event_time: float | None
    sol: Any
    field: MarginField
    nfev: int
    status: int
    message: str
    rtol: float
    atol: float
    method: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def at(self, t) -> tuple[np.ndarray, np.ndarray | None]:
        """(train margins, test margins) at time(s) t from the dense output."""
        y = self.sol(t)
        f = self.field
        return y[: f.N], (None if f.M == 0 else y[f.N: f.N + f.M])

    def delta_W(self, t: float) -> np.ndarray:
        """W(t) − W0 (rows = ``field.vocab`` tokens); needs ``track_weights=True``."""
        f = self.field
        if not f.track_weights:
            raise _args.BadValue("track_weights: solve with track_weights=True to rebuild W")
        y = self.sol(t)
        return f.delta_W(y[f.N + f.M:])


def solve_margins(train_features, train_chosen, train_rejected, *, beta: float, tau: float = 1.0,
                  t_end: float, loss: str = "sigmoid", test_features=None, test_chosen=None,
                  test_rejected=None, t_eval=None, rtol: float = 1e-10, atol: float = 1e-12,
                  method: str = "DOP853", loss_params: dict | None = None,
                  track_weights: bool = False, terminal: bool = False,
                  strategy: str = "auto", first_step: float | None = None) -> MarginSolution:
    """Integrate Lemma 4.1 from r = 0 (W = W0) to ``t_end``.

    Features (N, d) float; token ids (N,) int, shared freely between samples; any margin member
    of the loss family (``loss``: sigmoid = DPO, ipo-margin, hinge = SLiC, ...). Test samples
    (M, d) follow the training weights. ``solve_ivp`` with ``rtol``/``atol`` as given (defaults
    for theorem checks), an event when any training margin first reaches log 3 (``terminal``
    stops there), dense output. ``t_eval`` defaults to the solver's own steps.

    The first step is sized to move the fastest margin by 0.5 (``first_step`` overrides; the
    error control shrinks it if needed): SciPy's own guess scales with ``atol`` when the state
    starts at 0 and wastes a dozen steps growing from 1e-6.

    Parameters
    ----------
    train_features : array_like, (N, d)
        The features g(x_i) (numpy or torch).
    train_chosen, train_rejected : array_like of int, (N,)
        Token ids y_w, y_l.
    beta, tau : float
        β > 0 and the time constant τ > 0.
    t_end : float
        Integrate on [0, t_end].
    loss : str
        A margin member of the loss family; ``loss_params`` its parameters.
    test_features, test_chosen, test_rejected : array_like, optional
        Test samples (all three or none).
    t_eval : array_like, optional
        Times to report (sorted, within [0, t_end]).
    rtol, atol, method, first_step
        ``solve_ivp``'s tolerances, method and first step.
    track_weights : bool
        Also integrate A_i = ∫ w(r_i) dt (to rebuild W − W0).
    terminal : bool
        Stop at the log 3 event.
    strategy : {"auto", "grouped", "sparse"}
        The O(N·d) kernel.

    Returns
    -------
    MarginSolution
        Margins at ``t``, the event time, the dense output, ``nfev``.
    """
    from scipy.integrate import solve_ivp

    t_end = _args.positive("t_end", t_end)
    rtol = _args.positive("rtol", rtol)
    atol = _args.positive("atol", atol)
    _args.choice("method", method, ("RK45", "DOP853", "RK23", "Radau", "BDF", "LSODA"))
    field_ = MarginField(train_features, train_chosen, train_rejected, beta=beta, tau=tau,
                         loss=loss, loss_params=loss_params, test_features=test_features,
                         test_chosen=test_chosen, test_rejected=test_rejected,
                         track_weights=track_weights, strategy=strategy)
    if t_eval is not None:
        t_eval = np.atleast_1d(_args.array("t_eval", t_eval)).astype(float)
        if t_eval.ndim != 1 or np.any(np.diff(t_eval) < 0) or t_eval[0] < 0 or t_eval[-1] > t_end:
            raise _args.BadValue(f"t_eval: must be sorted within [0, t_end = {t_end:g}]")
    N = field_.N

    def event(t, y):
        return LOG3 - np.max(y[:N])
    event.terminal = bool(terminal)
    event.direction = -1.0

    t0 = time.perf_counter()
    y0 = np.zeros(field_.n_state)
    if first_step is None:
        rate = float(np.max(np.abs(field_(0.0, y0)[:N + field_.M])))
        first_step = t_end if rate == 0.0 else min(t_end, 0.5 / rate)
    else:
        first_step = _args.real("first_step", first_step, lo=0.0, lo_open=True, hi=t_end)
    res = solve_ivp(field_, (0.0, t_end), y0, method=method, t_eval=t_eval, rtol=rtol,
                    atol=atol, dense_output=True, events=event, first_step=first_step)
    secs = time.perf_counter() - t0
    if res.status < 0:
        raise RuntimeError(f"solve_ivp failed: {res.message}")
    ev = res.t_events[0]
    Y = res.y
    return MarginSolution(
        t=res.t, train=Y[:N].T.copy(), test=(Y[N:N + field_.M].T.copy() if field_.M else None),
        event_time=(float(ev[0]) if len(ev) else None), sol=res.sol, field=field_,
        nfev=int(res.nfev), status=int(res.status), message=str(res.message), rtol=rtol,
        atol=atol, method=method, seconds=secs, extra={})


def margin_rhs(train_features, train_chosen, train_rejected, margins, *, beta: float,
               tau: float = 1.0, loss: str = "sigmoid", loss_params: dict | None = None) -> np.ndarray:
    """ṙ (N,) of Lemma 4.1 at the given training margins (the O(N·d) evaluation).

    Parameters
    ----------
    train_features : array_like, (N, d)
    train_chosen, train_rejected : array_like of int, (N,)
    margins : array_like, (N,)
        The training margins r.
    beta, tau : float
    loss : str
        A margin member; ``loss_params`` its parameters.

    Returns
    -------
    numpy.ndarray, (N,)
    """
    f = MarginField(train_features, train_chosen, train_rejected, beta=beta, tau=tau, loss=loss,
                    loss_params=loss_params)
    r = _args.array("margins", margins)
    if r.shape != (f.N,):
        raise _args.BadValue(f"margins: expected shape ({f.N},), got {r.shape}")
    return f.rates(r)[0]


def gram_rhs(train_features, train_chosen, train_rejected, margins, *, beta: float,
             tau: float = 1.0, loss: str = "sigmoid", loss_params: dict | None = None) -> np.ndarray:
    """The same ṙ through the N×N matrix M_ij = (Δy_i)ᵀ(Δy_j) g_iᵀg_j, as Lemma 4.1 is written:
    the O(N²·d) reference the fast kernel is checked and timed against."""
    X = _features("train_features", train_features)
    N = X.shape[0]
    cw = _tokens("train_chosen", train_chosen, N)
    cl = _tokens("train_rejected", train_rejected, N)
    beta = _args.positive("beta", beta)
    tau = _args.positive("tau", tau)
    r = _args.array("margins", margins)
    share = ((cw[:, None] == cw[None, :]).astype(float) - (cw[:, None] == cl[None, :])
             - (cl[:, None] == cw[None, :]) + (cl[:, None] == cl[None, :]))
    M = share * (X @ X.T)
    w = margin_weight(loss, r, beta, **(loss_params or {}))
    return beta ** 2 / (N * tau) * (M @ w)
