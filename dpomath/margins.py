"""Deprecated: ``dpomath.margins`` moved to ``dpomath.lastlayer.margins``,
``dpomath.lastlayer.descent``, ``dpomath.lastlayer.runs``, ``dpomath.lastlayer.theorem42``
(dpomath's layout by domain). Names read from here are forwarded with a DeprecationWarning; this
module will be removed in dpomath 0.2."""
from dpomath._deprecated import forward

__getattr__, __dir__ = forward(
    "dpomath.margins",
    [
        "dpomath.lastlayer.margins",
        "dpomath.lastlayer.descent",
        "dpomath.lastlayer.runs",
        "dpomath.lastlayer.theorem42",
    ],
)
