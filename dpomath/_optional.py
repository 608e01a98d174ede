"""The optional dependencies and the extra that installs each (``pyproject.toml``'s
``[project.optional-dependencies]``; a test keeps the two in step).

A check or command that needs one of them and finds it missing says so with the command that
installs it: the ledger turns the ``ModuleNotFoundError`` into a SKIPPED verdict, the command
line into one line with exit code 2, and :func:`require` raises an ImportError naming the extra.

>>> hint("torch")
"pip install 'dpomath[validation]'"
>>> hint("numpy") is None
True
"""
from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "hint", "missing_optional", "require"]

#: Importable top-level module → the extra of ``pip install 'dpomath[EXTRA]'`` that brings it.
EXTRAS = {
    "hypothesis": "test", "pytest": "test",
    "torch": "validation", "transformers": "validation", "gguf": "validation",
    "accelerate": "validation", "safetensors": "validation",
    "trl": "trl", "peft": "train",
}


def hint(module: str) -> str | None:
    """The install command for an optional module (its top-level name), or None."""
    extra = EXTRAS.get(module.split(".")[0])
    return None if extra is None else f"pip install 'dpomath[{extra}]'"


def missing_optional(err: BaseException) -> str | None:
    """The top-level name of the optional module whose absence raised ``err``, or None (not a
    ModuleNotFoundError, or not for an optional module)."""
    if isinstance(err, ModuleNotFoundError) and err.name:
        top = err.name.split(".")[0]
        return top if top in EXTRAS else None
    return None


def require(module: str, needed_by: str) -> None:
    """Raise ModuleNotFoundError naming the extra when ``module`` is not installed.

    Parameters
    ----------
    module : str
        An optional module (a key of :data:`EXTRAS`).
    needed_by : str
        What needs it, for the message (``"dpomath.testing"``).
    """
    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"{needed_by} needs {module}, which is not installed: "
                                  f"{hint(module)}", name=module)
