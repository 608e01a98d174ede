"""Deprecated: ``dpomath.validation.experiment`` moved to ``dpomath.validation.ksweep``,
``dpomath.validation.command`` (dpomath's layout by domain). Names read from here are forwarded
with a DeprecationWarning; this module will be removed in dpomath 0.2."""
from dpomath._deprecated import forward

__getattr__, __dir__ = forward(
    "dpomath.validation.experiment",
    ["dpomath.validation.ksweep", "dpomath.validation.command"],
)
