"""Step-by-step derivations printed by ``dpomath derive NAME [--latex]``.

A derivation is a list of :class:`Step` (a sentence and a SymPy expression or equation).
Providers register them by name here: ``name -> "module:function"``, the function returning a
list of steps, so that nothing is computed until asked.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ._args import BadValue

__all__ = ["Step", "DERIVATIONS", "derive", "render"]


@dataclass
class Step:
    text: str
    expr: Any = None  # a SymPy expression or Eq, or None for a sentence alone


#: name -> "module:function" (module relative to dpomath)
DERIVATIONS: dict[str, str] = {
    # paper F's field, its GPO generalisation, paper Y's limits
    "dpo-gradient": "derivations_f:dpo_gradient",
    "update-ratio": "derivations_f:update_ratio",
    "log-coordinates": "derivations_f:log_coordinates",
    "gpo-ratio": "derivations_f:gpo_ratio",
    "3d-limits": "derivations_f:three_d_limits",
    # paper I's margin dynamics
    "lemma-4.1": "derivations_i:lemma_41",
    # paper Y dynamics: the free-logit policy
    "tabular-step": "tabular:derivation",
    "squeezing": "tabular:squeezing_derivation",
    # paper R: one DPO step with the hidden state and the unembedding trained
    "likelihood-displacement": "displacement.single_token:derivation",
    # paper S: the squeezing effect to all orders
    "squeezing-exact": "displacement.squeezing:derivation",
}


def derive(name: str) -> list[Step]:
    if name not in DERIVATIONS:
        raise BadValue(f"NAME: unknown derivation {name!r}; known: {', '.join(sorted(DERIVATIONS))}")
    mod, fn = DERIVATIONS[name].split(":")
    return getattr(importlib.import_module(f"dpomath.{mod}"), fn)()


def render(steps: list[Step], latex: bool = False) -> str:
    import sympy as sp

    lines = []
    for i, s in enumerate(steps, 1):
        lines.append(f"{i}. {s.text}")
        if s.expr is not None:
            body = sp.latex(s.expr) if latex else sp.pretty(s.expr, use_unicode=True)
            lines.extend("     " + ln for ln in body.splitlines())
    return "\n".join(lines)
