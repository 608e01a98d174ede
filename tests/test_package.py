"""Packaging: no work at import time, and an installed wheel carries every claim module."""
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_no_symbolic_work():
    code = ("import sys, dpomath; heavy = [m for m in ('sympy', 'scipy', 'torch', 'matplotlib', "
            "'transformers') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import dpomath pulled in: {out.stdout.strip()}"


def test_wheel_installs_proofs_and_validation_under_dpomath(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path),
                            str(ROOT)], check=True, capture_output=True, text=True)
    # setuptools warns when a folder of package data is importable but not a listed package, and
    # says a later version may stop installing it (the report's KaTeX)
    assert "absent from the `packages` configuration" not in built.stdout + built.stderr
    (wheel,) = tmp_path.glob("dpomath-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("proofs", "validation"):
        src = sorted(p.name for p in (ROOT / folder).glob("*.py"))
        assert src, folder
        for name in src:
            assert f"dpomath/{folder}/{name}" in names, (folder, name)
    assert not any(n.startswith(("proofs/", "validation/")) for n in names), \
        "generic top-level packages must not land in site-packages"
    katex = ROOT / "dpomath" / "verify" / "assets" / "katex"
    vendored = sorted(str(p.relative_to(ROOT)) for p in katex.rglob("*") if p.is_file())
    assert vendored and set(vendored) <= set(names), set(vendored) - set(names)
    assert "dpomath/verify/timings.json" in names
