"""Empirical checks on real language models (torch, transformers), installed as
``dpomath.validation``. Modules here import torch and transformers lazily, inside functions,
so that the ledger can discover their claims without them (they are then SKIPPED)."""
