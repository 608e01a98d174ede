"""The persona folder a benchmark reads (shared by the benchmark scripts)."""
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def persona_dir(arg):
    """``arg``, else ``$DPOMATH_PERSONA_DIR``, else ``../shared/data/persona`` beside the checkout,
    else generated example personas in a new temporary folder (said on stdout)."""
    for cand in (arg, os.environ.get("DPOMATH_PERSONA_DIR"), ROOT.parent / "shared" / "data" / "persona"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    from dpomath.validation.data import write_example_personas

    d = Path(tempfile.mkdtemp()) / "personas"
    print(f"(no persona data found: using generated example personas in {d})")
    return write_example_personas(d, n=200)
