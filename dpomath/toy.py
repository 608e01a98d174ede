"""Deprecated: ``dpomath.toy`` moved to ``dpomath.toys.mlp``, ``dpomath.toys.sweeps`` (dpomath's
layout by domain). Names read from here are forwarded with a DeprecationWarning; this module
will be removed in dpomath 0.2."""
from dpomath._deprecated import forward

__getattr__, __dir__ = forward(
    "dpomath.toy",
    ["dpomath.toys.mlp", "dpomath.toys.sweeps"],
)
