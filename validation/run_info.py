"""What the real-model claims add to a report's run block
(:mod:`dpomath.verify.provenance`): how much of paper I's persona collection the data holds,
and which model they load. Registered when the ledger discovers this package."""
from __future__ import annotations

import os

from dpomath.verify import provenance

from .data import PAPER_BEHAVIOURS

__all__ = ["persona_coverage", "model_info"]


def persona_coverage(names: list[str]) -> dict:
    """How many of the 135 behaviours of anthropics/evals ``persona/`` (paper I's collection,
    :data:`~dpomath.validation.data.PAPER_BEHAVIOURS`) the persona files ``names`` (file stems)
    hold, which are missing, and which files are not among them.

    >>> c = persona_coverage(["agreeableness", "my-own"])
    >>> c["paper_behaviours"], len(c["missing"]), c["not_in_paper"]
    ('1 of 135', 134, ['my-own'])
    """
    have = set(names)
    missing = [b for b in PAPER_BEHAVIOURS if b not in have]
    out = {"paper_behaviours": f"{len(PAPER_BEHAVIOURS) - len(missing)} of {len(PAPER_BEHAVIOURS)}",
           "missing": missing}
    extra = sorted(have - set(PAPER_BEHAVIOURS))
    if extra:
        out["not_in_paper"] = extra
    return out


def _one_model(arg) -> dict:
    from .model import resolve_model

    try:
        spec = resolve_model(arg)
    except Exception as e:  # noqa: BLE001 - the claims say why they skipped
        return {"used": False, "note": f"not available: {e}".splitlines()[0]}
    return {"used": True, "name": spec.name, "source": spec.source,
            "file": spec.gguf_file or spec.path, "identity": spec.identity}


def model_info() -> dict:
    """The model the real-model claims load (the first configured model: ``--models``,
    ``DPOMATH_MODELS``, ``DPOMATH_MODEL`` or the default), or why not; with several configured
    models, ``models`` holds one such record per model, in the setting's order."""
    from dpomath.verify.per_model import configured_models

    try:
        chosen = configured_models()
    except Exception:  # noqa: BLE001 - a bad setting is reported by the command line itself
        return _one_model(os.environ.get("DPOMATH_MODEL") or None)
    records = [_one_model(m.load_arg) for m in chosen]
    out = dict(records[0])
    if len(records) > 1:
        out["models"] = records
    return out


provenance.register("persona_coverage", persona_coverage)
provenance.register("model", model_info)
