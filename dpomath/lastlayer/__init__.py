"""Paper I's model: last-layer DPO πθ(y|x) = softmax(W g(x))ᵀy on single-token responses
(also what ``dpomath.validation`` trains on a real language model).

* :mod:`~dpomath.lastlayer.clusters` — the diverse preference distribution (2K Gaussian clusters);
* :mod:`~dpomath.lastlayer.margins` — the margin ODE of Lemma 4.1 (the O(N·d) kernel);
* :mod:`~dpomath.lastlayer.descent` — gradient descent and autograd through the full model (the
  kernel's outside oracle);
* :mod:`~dpomath.lastlayer.theorem42` — Theorem 4.2: conditions, window, constants (the single
  source of log 3, the v/d/Z limits, r_L, r_U, τ1), mean-field closed forms;
* :mod:`~dpomath.lastlayer.theorem43` — Theorem 4.3's bound (written once over the ops
  backends), Q*(K, ε), the Θ(log K) law;
* :mod:`~dpomath.lastlayer.runs` — the experiments: Theorem 4.2's outcome (= ``dpomath
  simulate``), the risk at τ1, Monte Carlo;
* :mod:`~dpomath.lastlayer.derivations` — ``dpomath derive lemma-4.1``;
* :mod:`~dpomath.lastlayer.strategies` — Hypothesis strategies for the conditions.
"""
