"""Paper F's geometry and paper Y's algebra: the gradient of a preference loss in the
probability-ratio coordinates x = πθ/π_ref, the log-ratios h and the probabilities π.

* :mod:`~dpomath.gradients.formulas` — the formulas as SymPy objects (the family's definitions
  pulled back to each coordinate system);
* :mod:`~dpomath.gradients.field` — the same field numerically, and its gradient flows;
* :mod:`~dpomath.gradients.derivations` — ``dpomath derive dpo-gradient``, ``update-ratio``,
  ``log-coordinates``, ``gpo-ratio``, ``3d-limits``.
"""
