"""Sequence-level DPO on real language models: data, modes, metrics, checkpoints.

``dpomath train`` is :func:`dpomath.train.command.run`; the library entry point is
:func:`dpomath.train.engine.train`. Nothing heavy is imported here: torch and transformers
load on first use.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "train": "engine", "TrainConfig": "engine", "TrainResult": "engine",
    "load_data": "data", "read_preference_jsonl": "data", "persona_pairs": "data",
    "persona_answer_pairs": "data", "PreferenceData": "data", "Pair": "data", "BadRecord": "data",
    "tokenize": "data", "load_model": "models", "resolve_model": "models",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dpomath.train' has no attribute {name!r}")


def __dir__():
    return __all__
