"""Deprecated: ``dpomath.tabular`` moved to ``dpomath.toys.free_logit``,
``dpomath.toys.derivations`` (dpomath's layout by domain). Names read from here are forwarded
with a DeprecationWarning; this module will be removed in dpomath 0.2."""
from dpomath._deprecated import forward

__getattr__, __dir__ = forward(
    "dpomath.tabular",
    ["dpomath.toys.free_logit", "dpomath.toys.derivations"],
    {
        "derivation": "dpomath.toys.derivations:tabular_step",
        "squeezing_derivation": "dpomath.toys.derivations:squeezing",
        "_sym": "dpomath.toys.derivations:prompt_symbols",
        "_log_softmax": "dpomath.toys.free_logit:log_softmax",
    },
)
