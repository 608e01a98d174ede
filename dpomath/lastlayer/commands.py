"""Paper I's subcommands: ``dpomath qstar`` and ``dpomath simulate`` (registered with
:func:`dpomath.verify.cli.register`; the mathematics is imported inside ``run``)."""
from __future__ import annotations

from ..verify.cli import emit_json, emit_mapping, int_at_least, positive_float, register


def _qstar_arguments(q) -> None:
    q.add_argument("--K", type=int_at_least(1), required=True)
    q.add_argument("--eps", type=positive_float, required=True)
    q.add_argument("--json", action="store_true")


def _qstar(args) -> int:
    from .theorem43 import q_star

    doc = q_star(args.K, args.eps).to_dict()
    emit_json(doc) if args.json else emit_mapping(doc)
    return 0


def _simulate_arguments(s) -> None:
    from ..losses import cli_losses

    losses = cli_losses()
    s.add_argument("--K", type=int_at_least(1), required=True)
    s.add_argument("--Q", type=int_at_least(1), required=True)
    s.add_argument("--d", type=int_at_least(2), default=None, help="feature dimension (default 5Q)")
    s.add_argument("--beta", type=positive_float, default=0.01)
    s.add_argument("--loss", choices=list(losses), default="dpo",
                   help="; ".join(f"{k} = the member {v!r}" for k, v in losses.items())
                   + " (paper I's forms: here 'ipo' is (r − 1)², the library's 'ipo-margin')")
    s.add_argument("--v", type=positive_float, default=None, help="cluster std (default 1/(32√Q))")
    s.add_argument("--lb", type=positive_float, default=0.25, help="shared component norm l_b")
    s.add_argument("--seed", type=int_at_least(0), default=0)
    s.add_argument("--json", action="store_true")


def _simulate(args) -> int:
    from ..losses import cli_losses
    from .runs import simulate

    doc = simulate(K=args.K, Q=args.Q, d=args.d, beta=args.beta, loss=cli_losses()[args.loss],
                   v=args.v, l_b=args.lb, seed=args.seed).to_dict()
    emit_json(doc) if args.json else emit_mapping(doc)
    return 0


register("qstar", help="smallest Q per cluster with 2KQ²e^{-Q/45} <= EPS past the peak",
         arguments=_qstar_arguments, run=_qstar)
register("simulate", help="paper I's margin ODE on sampled clusters",
         arguments=_simulate_arguments, run=_simulate)
