"""The verification runtime, from claims to the report (no mathematics of its own).

* :mod:`~dpomath.verify.ledger` — claims, verdicts, the registry that ``proofs/`` and
  ``validation/`` fill, the table of papers;
* :mod:`~dpomath.verify.twins` — 50-digit numeric twins of symbolic identities;
* :mod:`~dpomath.verify.stats` — the Clopper–Pearson interval;
* :mod:`~dpomath.verify.derive` — the derivations registry (``dpomath derive``);
* :mod:`~dpomath.verify.report` — HTML, Markdown and JSON reports;
* :mod:`~dpomath.verify.cli` — the ``dpomath`` command line and its subcommand registry;
* :mod:`~dpomath.verify.progress` — progress bars on stderr.
"""
