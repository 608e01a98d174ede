"""Deprecated: ``dpomath.guarantees`` moved to ``dpomath.lastlayer.theorem42``,
``dpomath.lastlayer.runs`` (dpomath's layout by domain). Names read from here are forwarded with
a DeprecationWarning; this module will be removed in dpomath 0.2."""
from dpomath._deprecated import forward

__getattr__, __dir__ = forward(
    "dpomath.guarantees",
    ["dpomath.lastlayer.theorem42", "dpomath.lastlayer.runs"],
)
