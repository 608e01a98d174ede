"""Collection for the whole repository: the doctests of dpomath/ run with the tests
(``--doctest-modules`` in pyproject.toml); the modules that only forward dpomath 0.1's old
paths (they warn on every name) and ``__main__`` are not collected."""
from pathlib import Path

_PKG = Path(__file__).resolve().parent / "dpomath"

collect_ignore = ["dpomath/__main__.py"] + sorted(
    str(p.relative_to(_PKG.parent)) for p in _PKG.rglob("*.py")
    if "from dpomath._deprecated import forward" in p.read_text(encoding="utf-8"))

# Modules built on torch classes (dpomath.train's chunked head and metrics) import it at the top:
# without torch installed their doctests are not collected (the training tests skip likewise).
import importlib.util  # noqa: E402

if importlib.util.find_spec("torch") is None:
    collect_ignore += ["dpomath/train/logps.py", "dpomath/train/metrics.py"]
