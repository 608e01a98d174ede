"""Registers ``dpomath train`` with :func:`dpomath.verify.cli.register` (the options and the run
are :mod:`dpomath.train.command`'s; nothing heavy is imported before ``run``)."""
from __future__ import annotations

from ..verify.cli import register


class _One:
    """Stands in for argparse's subparsers: hands :func:`~dpomath.train.command.add_parser` the
    parser the CLI made for ``train``."""

    def __init__(self, parser):
        self.parser = parser

    def add_parser(self, name, **kwargs):
        return self.parser


def _arguments(parser) -> None:
    from .command import add_parser

    add_parser(_One(parser))


def _run(args) -> int:
    from .command import run

    return run(args)


register("train", help="DPO (any loss of the family) on a real language model: whole responses, "
                       "last-layer / LoRA / full fine-tuning",
         arguments=_arguments, run=_run)
