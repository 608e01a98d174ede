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
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("dpomath-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("proofs", "validation"):
        src = sorted(p.name for p in (ROOT / folder).glob("*.py"))
        assert src, folder
        for name in src:
            assert f"dpomath/{folder}/{name}" in names, (folder, name)
    assert not any(n.startswith(("proofs/", "validation/")) for n in names), \
        "generic top-level packages must not land in site-packages"
