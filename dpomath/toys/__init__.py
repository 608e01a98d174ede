"""Paper Y's models.

* :mod:`~dpomath.toys.mlp` — the toy model of Section 3.2 (an MLP policy over 10 responses),
  batched over seeds and settings;
* :mod:`~dpomath.toys.sweeps` — the settings swept for the paper-Y claims;
* :mod:`~dpomath.toys.free_logit` — the free-logit (tabular softmax) policy: one gradient step in
  closed form;
* :mod:`~dpomath.toys.derivations` — its SymPy facts and ``dpomath derive tabular-step``,
  ``squeezing``;
* :mod:`~dpomath.toys.analysis` — per-run indicators, severities, the decision rule of the
  paper-Y claims;
* :mod:`~dpomath.toys.strategies` — Hypothesis strategies for the free-logit policy.
"""
