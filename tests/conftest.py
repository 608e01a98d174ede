"""Hypothesis profiles by environment, as SciPy's conftest does: ``ci`` (derandomized, bounded
examples, no deadline) when CI is set, ``dev`` otherwise, ``full`` for `make test-full`
(HYPOTHESIS_PROFILE overrides)."""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("full", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_PERSONA = ROOT.parent / "shared" / "data" / "persona"


@pytest.fixture
def persona_dir_shared():
    """The real persona data beside the checkout, or skip."""
    if not SHARED_PERSONA.is_dir():
        pytest.skip(f"persona data not found at {SHARED_PERSONA}")
    return SHARED_PERSONA


def use_real_model_and_persona_data(monkeypatch):
    """Point the claims at the real persona data and check the offline model loads, or skip."""
    pdir = os.environ.get("DPOMATH_PERSONA_DIR") or str(SHARED_PERSONA)
    if not os.path.isdir(pdir):
        pytest.skip(f"persona data not found at {pdir}")
    pytest.importorskip("gguf")
    from dpomath.train.models import ModelUnavailable, resolve_model
    try:
        resolve_model(None)
    except ModelUnavailable as e:
        pytest.skip(str(e))
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", pdir)
