"""Paper I's subcommands: ``dpomath qstar`` and ``dpomath simulate`` (registered with
:func:`dpomath.verify.cli.register`; the mathematics is imported inside ``run``)."""
from __future__ import annotations

from ..verify.cli import (emit_json, emit_mapping, float_between, int_at_least, positive_float,
                          register)

_MODEL = """Paper I's model (Im & Li, NeurIPS 2025): K values (preference clusters), each with
Q training pairs per cluster, features in d dimensions drawn around orthogonal cluster
directions with spread v and a shared component of norm l_b; DPO with strength β trains the
last layer by gradient flow (Lemma 4.1)."""


def _qstar_arguments(q) -> None:
    q.add_argument("--K", type=int_at_least(1), required=True,
                   help="number of values (clusters) K >= 1")
    q.add_argument("--eps", type=float_between(0.0, 1.0, "a risk target: the risk is a "
                                               "probability, so eps >= 1 says nothing"),
                   required=True, metavar="EPS", help="the target risk ε, 0 < ε < 1")
    q.add_argument("--json", action="store_true", help="one JSON document on stdout")


def _qstar(args) -> int:
    from .theorem43 import q_star

    doc = q_star(args.K, args.eps).to_dict()
    emit_json(doc) if args.json else emit_mapping(doc)
    return 0


def _simulate_arguments(s) -> None:
    from ..losses import cli_losses

    losses = cli_losses()
    s.add_argument("--K", type=int_at_least(1), required=True,
                   help="number of values (clusters) K >= 1")
    s.add_argument("--Q", type=int_at_least(1), required=True,
                   help="training pairs per cluster Q >= 1 (N = 2KQ samples)")
    s.add_argument("--d", type=int_at_least(2), default=None,
                   help="feature dimension (default 5Q, Theorem 4.2's limit; raised to K + 1 "
                        "where 5Q is smaller)")
    s.add_argument("--beta", type=positive_float, default=0.01, help="DPO's β > 0")
    s.add_argument("--loss", choices=list(losses), default="dpo",
                   help="; ".join(f"{k} = the member {v!r}" for k, v in losses.items())
                   + " (paper I's forms: here 'ipo' is (r − 1)², the library's 'ipo-margin')")
    s.add_argument("--v", type=positive_float, default=None,
                   help="cluster spread v: the std of each feature around its cluster's "
                        "direction (default 1/(32√Q), Theorem 4.2's limit)")
    s.add_argument("--lb", type=positive_float, default=0.25,
                   help="norm l_b of the component shared by all features (Theorem 4.2: "
                        "1/4 <= l_b <= 1/2)")
    s.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the sampled clusters")
    s.add_argument("--json", action="store_true", help="one JSON document on stdout")


def _simulate(args) -> int:
    from ..losses import cli_losses
    from .runs import simulate

    doc = simulate(K=args.K, Q=args.Q, d=args.d, beta=args.beta, loss=cli_losses()[args.loss],
                   v=args.v, l_b=args.lb, seed=args.seed).to_dict()
    emit_json(doc) if args.json else emit_mapping(doc)
    return 0


register("qstar", help="smallest Q per cluster with 2KQ²e^{-Q/45} <= EPS past the peak",
         description=f"""Theorem 4.3 of paper I bounds the population risk after training by
B(K, Q) = 2KQ²e^(-Q/45); qstar prints Q*(K, ε), the smallest number of pairs per cluster
past the bound's peak (Q = 90) with B <= ε, found exactly (the Lambert-W root at 50 digits,
then an integer search), and N* = 2KQ*, the total sample size.

{_MODEL}""",
         arguments=_qstar_arguments, run=_qstar)
register("simulate", help="paper I's margin ODE on sampled clusters",
         description=f"""Sample paper I's clusters and integrate the margins' gradient flow
(Lemma 4.1) to τ1 = Kτ log 3/(5β²); print the margins at τ1, whether Theorem 4.2's window
r_L(t) <= r(t) <= r_U(t) held (the test of claim I-T42), Theorem 4.2's conditions, the test
margins and the time the first margin reaches log 3. The sizes are checked against the memory
available before anything is allocated.

{_MODEL}""",
         arguments=_simulate_arguments, run=_simulate)
