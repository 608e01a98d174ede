"""Forwarding of the module paths that dpomath 0.1 had before its layout by domain (SciPy's
pattern for moved modules: a module ``__getattr__`` that warns and forwards).

``dpomath.margins``, ``dpomath.guarantees``, ``dpomath.ledger`` ... still import, and every
name read from them comes from its new home with a :class:`DeprecationWarning` that names it.
They will be removed in dpomath 0.2.
"""
from __future__ import annotations

import importlib
import warnings
from typing import Callable, Mapping, Sequence

__all__ = ["forward", "REMOVAL"]

REMOVAL = "dpomath 0.2"


def forward(old: str, new: Sequence[str], renamed: Mapping[str, str] | None = None
            ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the deprecated module ``old``: a name is looked up in the
    modules ``new`` in order (``renamed`` maps an old name to ``"module:new_name"``), returned
    with a DeprecationWarning, or AttributeError."""
    renamed = dict(renamed or {})

    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        if name in renamed:
            mod, new_name = renamed[name].split(":")
            value = getattr(importlib.import_module(mod), new_name)
            where = f"{mod}.{new_name}"
        else:
            found = [(mod, getattr(importlib.import_module(mod), name)) for mod in new
                     if hasattr(importlib.import_module(mod), name)]
            if not found:
                raise AttributeError(f"module {old!r} has no attribute {name!r}")
            # name the module that defines it (others may only re-export it)
            mod, value = next(((m, v) for m, v in found if getattr(v, "__module__", None) == m),
                              found[0])
            where = f"{mod}.{name}"
        warnings.warn(f"{old}.{name} is deprecated: use {where} (the module {old} will be removed "
                      f"in {REMOVAL})", DeprecationWarning, stacklevel=2)
        return value

    def __dir__() -> list[str]:
        names = set(renamed)
        for mod in new:
            m = importlib.import_module(mod)
            names |= set(getattr(m, "__all__", [n for n in dir(m) if not n.startswith("_")]))
        return sorted(names)

    return __getattr__, __dir__
