"""docs/claims.md is generated from the ledger and must be current: regenerate it with
``python -m dpomath.verify.claims_index`` after adding, moving or editing a claim."""
from pathlib import Path

from dpomath.verify import ledger
from dpomath.verify.claims_index import claims_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "claims.md"


def test_claims_index_is_current():
    assert DOC.read_text(encoding="utf-8") == claims_markdown(), (
        "docs/claims.md is out of date: run `python -m dpomath.verify.claims_index`")


def test_every_claim_is_in_the_index_with_its_source():
    text = claims_markdown()
    for cid, c in ledger.registry().items():
        assert f"| {cid} |" in text and c.source in text
        path, line = c.source.rsplit(":", 1)
        src = (DOC.parents[1] / path).read_text(encoding="utf-8").splitlines()
        assert src[int(line) - 1].startswith("@claim(") and f'"{cid}"' in src[int(line) - 1], c.source
