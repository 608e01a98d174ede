"""Step-by-step derivations printed by ``dpomath derive NAME [--latex]``.

A derivation is a function returning a list of :class:`Step` (a sentence and a SymPy expression
or equation), registered under its name with the :func:`derivation` decorator beside the
numerics it justifies (``dpomath.gradients.derivations``, ``dpomath.lastlayer.derivations``,
``dpomath.toys.derivations``). Nothing is computed until a derivation is asked for; the modules
of :data:`DERIVATION_MODULES` are imported by name when the registry is first read.

>>> steps = derive("update-ratio")
>>> steps[0].text
'the partials (Theorem 1): in x1'

In Jupyter a derivation shows as numbered steps with typeset equations (``_repr_html_``,
``_repr_latex_``); ``print(render(steps))`` prints it as on the command line.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from .._args import BadValue

__all__ = ["Step", "Derivation", "derivation", "derivations", "DERIVATION_MODULES", "derive",
           "render"]

#: Modules that register derivations (imported by name, like the ledger's claim modules).
DERIVATION_MODULES = ("dpomath.gradients.derivations", "dpomath.lastlayer.derivations",
                      "dpomath.toys.derivations", "dpomath.displacement.single_token",
                      "dpomath.displacement.squeezing")


@dataclass
class Step:
    """One step of a derivation: a sentence and a SymPy expression or Eq (or None)."""

    text: str
    expr: Any = None

    def latex(self) -> str | None:
        """The expression as LaTeX (None without one)."""
        if self.expr is None:
            return None
        import sympy as sp

        return sp.latex(self.expr)

    def _repr_latex_(self) -> str:
        from .display import steps_latex

        return steps_latex([(self.text, self.latex())]).replace("1. ", "", 1)


class Derivation(list):
    """The steps of a derivation (a list of :class:`Step`) with its name; in Jupyter it shows
    as numbered steps with typeset equations."""

    def __init__(self, name: str, steps=()):
        super().__init__(steps)
        self.name = name

    def _pairs(self) -> list[tuple[str, str | None]]:
        return [(s.text, s.latex()) for s in self]

    def _repr_html_(self) -> str:
        from .display import steps_html

        return steps_html(f"dpomath derive {self.name}", self._pairs())

    def _repr_latex_(self) -> str:
        from .display import steps_latex

        return steps_latex(self._pairs())

    def __str__(self) -> str:
        return render(self)


_REGISTRY: dict[str, Callable[[], list[Step]]] = {}


def derivation(name: str) -> Callable[[Callable[[], list[Step]]], Callable[[], list[Step]]]:
    """Register the decorated function (no arguments, returns a list of :class:`Step`) as the
    derivation ``name`` of ``dpomath derive``."""
    def register(fn):
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__module__ != fn.__module__:
            raise ValueError(f"derivation {name!r} registered twice "
                             f"({existing.__module__}, {fn.__module__})")
        _REGISTRY[name] = fn
        return fn

    return register


def derivations() -> dict[str, Callable[[], list[Step]]]:
    """Every registered derivation, by name (sorted).

    Returns
    -------
    dict
        name → the function that builds it.
    """
    for mod in DERIVATION_MODULES:
        importlib.import_module(mod)
    return dict(sorted(_REGISTRY.items()))


def derive(name: str) -> Derivation:
    """The steps of derivation ``name``: each a sentence and a SymPy expression or equation,
    from the definitions to the result (what ``dpomath derive NAME`` prints).

    Parameters
    ----------
    name : str
        One of :func:`derivations` (``dpomath derive --help`` lists them), e.g.
        ``dpo-gradient``, ``update-ratio``, ``lemma-4.1``.

    Returns
    -------
    Derivation
        A list of :class:`Step` (``.text``, ``.expr``); ``str()`` of it is the numbered text,
        and Jupyter shows it with typeset equations.

    Raises
    ------
    dpomath.BadValue
        For an unknown name (the message lists the known ones).

    Examples
    --------
    >>> d = derive("update-ratio")
    >>> d.name, len(d) > 3, d[0].text
    ('update-ratio', True, 'the partials (Theorem 1): in x1')
    """
    known = derivations()
    if not isinstance(name, str) or name not in known:
        raise BadValue(f"NAME: unknown derivation {name!r}; known: {', '.join(known)}")
    return Derivation(name, known[name]())


def render(steps: list[Step], latex: bool = False) -> str:
    """The steps as numbered text: each expression pretty-printed (or as LaTeX).

    Returns
    -------
    str
    """
    import sympy as sp

    lines = []
    for i, s in enumerate(steps, 1):
        lines.append(f"{i}. {s.text}")
        if s.expr is not None:
            body = sp.latex(s.expr) if latex else sp.pretty(s.expr, use_unicode=True)
            lines.extend("     " + ln for ln in body.splitlines())
    return "\n".join(lines)
