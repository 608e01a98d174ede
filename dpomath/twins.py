"""Deprecated: ``dpomath.twins`` moved to ``dpomath.verify.twins`` (dpomath's layout by domain).
Names read from here are forwarded with a DeprecationWarning; this module will be removed in
dpomath 0.2."""
from dpomath._deprecated import forward

__getattr__, __dir__ = forward(
    "dpomath.twins",
    ["dpomath.verify.twins"],
)
