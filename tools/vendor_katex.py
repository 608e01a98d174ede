"""Vendor KaTeX (the npm package ``katex``, MIT licence) into ``dpomath/verify/assets/katex/``:
the report copies it beside ``index.html`` so that its mathematics renders offline.

    python tools/vendor_katex.py [VERSION]        # runs `npm pack katex@VERSION` in a temp dir
    python tools/vendor_katex.py --tarball katex-0.19.1.tgz

Kept: ``katex.min.js``, ``katex.min.css`` (its ``@font-face`` rules cut down to the WOFF2
fonts, which every current browser reads), ``fonts/*.woff2`` and ``LICENSE``; a ``SOURCE``
file records the version and the tarball's SHA-256. Nothing else of the package is used.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DEST = Path(__file__).resolve().parents[1] / "dpomath" / "verify" / "assets" / "katex"
DEFAULT_VERSION = "0.19.1"


def _woff2_only(css: str) -> str:
    """Each ``src:url(a.woff2) format("woff2"),url(a.woff) ...`` reduced to its WOFF2 entry."""
    return re.sub(r'(src:url\([^)]*\.woff2\) format\("woff2"\))(?:,url\([^)]*\) format\("[a-z]+"\))+',
                  r"\1", css)


def vendor(tarball: Path, dest: Path = DEST) -> None:
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(tarball) as tf:
        tf.extractall(tmp, filter="data")
        pkg = Path(tmp) / "package"
        version = re.search(r'"version":\s*"([^"]+)"', (pkg / "package.json").read_text()).group(1)
        if dest.exists():
            shutil.rmtree(dest)
        (dest / "fonts").mkdir(parents=True)
        shutil.copy(pkg / "dist" / "katex.min.js", dest / "katex.min.js")
        css = _woff2_only((pkg / "dist" / "katex.min.css").read_text())
        if ".woff)" in css or ".ttf)" in css:
            raise SystemExit("katex.min.css: could not reduce the font list to WOFF2")
        (dest / "katex.min.css").write_text(css)
        for f in sorted((pkg / "dist" / "fonts").glob("*.woff2")):
            shutil.copy(f, dest / "fonts" / f.name)
        shutil.copy(pkg / "LICENSE", dest / "LICENSE")
        (dest / "SOURCE").write_text(
            f"KaTeX {version} from the npm package katex ({tarball.name}, sha256 {digest}).\n"
            "Files kept: dist/katex.min.js, dist/katex.min.css (fonts reduced to WOFF2), "
            "dist/fonts/*.woff2, LICENSE (MIT).\nRegenerate with: python tools/vendor_katex.py "
            f"{version}\n")
    print(f"KaTeX {version} -> {dest}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("version", nargs="?", default=DEFAULT_VERSION)
    p.add_argument("--tarball", type=Path, help="an npm tarball of katex already downloaded")
    a = p.parse_args(argv)
    if a.tarball:
        vendor(a.tarball)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"katex@{a.version}"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        vendor(next(Path(tmp).glob("katex-*.tgz")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
