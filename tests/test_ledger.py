"""The verification ledger: registration, verdict statuses (SKIPPED, ERROR), determinism."""
import numpy as np
import pytest

from dpomath.verify import ledger
from dpomath._args import BadValue
from dpomath.verify.ledger import Context, Skip, Status, Verdict, claim, get_claim, registry, run_claims, select


@pytest.fixture
def throwaway():
    """Register claims under G-ZZ* for one test and remove them afterwards."""
    made = []

    def register(cid, fn, **kw):
        kw = {"paper": "G", "place": "test", "statement": "a throwaway claim", "method": "numeric", **kw}
        claim(cid, **kw)(fn)
        made.append(cid)
        return get_claim(cid)

    yield register
    for cid in made:
        ledger._REGISTRY.pop(cid, None)
    assert not any(c.startswith("G-ZZ") for c in registry())


def test_register_run_and_remove(throwaway):
    c = throwaway("G-ZZOK", lambda ctx: Verdict.confirmed("fine", evidence={"x": np.float64(1.5),
                                                                            "n": np.int64(3),
                                                                            "big": float("inf")}))
    assert "G-ZZOK" in registry()
    r = c.run(seed=1)
    assert r.verdict.status is Status.CONFIRMED
    assert r.verdict.evidence == {"x": 1.5, "n": 3, "big": "inf"}
    d = r.to_dict()
    assert d["id"] == "G-ZZOK" and d["status"] == "CONFIRMED" and d["seed"] == 1


def test_skip_becomes_skipped(throwaway):
    def check(ctx):
        raise Skip("torch is not installed", enable="pip install 'dpomath[validation]'")
    r = throwaway("G-ZZSKIP", check).run()
    assert r.verdict.status is Status.SKIPPED
    assert "torch is not installed" in r.verdict.summary
    assert r.verdict.evidence["enable"] == "pip install 'dpomath[validation]'"


def test_exception_becomes_error(throwaway):
    def check(ctx):
        raise ZeroDivisionError("boom")
    r = throwaway("G-ZZERR", check).run()
    assert r.verdict.status is Status.ERROR
    assert r.verdict.summary == "ZeroDivisionError: boom"
    assert "Traceback" in r.verdict.details


def test_non_verdict_return_is_error(throwaway):
    r = throwaway("G-ZZNONE", lambda ctx: 42).run()
    assert r.verdict.status is Status.ERROR and "returned int" in r.verdict.summary


def test_seed_determinism(throwaway):
    c = throwaway("G-ZZRNG", lambda ctx: Verdict.confirmed("draws", evidence={"u": ctx.rng.uniform(size=3)}))
    a, b, other = c.run(seed=5), c.run(seed=5), c.run(seed=6)
    assert a.verdict.evidence == b.verdict.evidence
    assert a.verdict.evidence != other.verdict.evidence
    # the generator depends on the claim ID, not on the order claims run in
    x = Context("G-A", seed=0).rng.uniform()
    assert Context("G-A", seed=0).rng.uniform() == x != Context("G-B", seed=0).rng.uniform()


def test_figure_path(tmp_path):
    assert Context("G-A").figure_path("a.png") is None
    ctx = Context("G-A", figure_dir=tmp_path / "figs")
    assert ctx.want_figures and ctx.figure_path("a.png") == tmp_path / "figs" / "a.png"
    assert (tmp_path / "figs").is_dir()


def test_bad_registration():
    with pytest.raises(ValueError, match="paper"):
        claim("Q-1", paper="Q", place="p", statement="s", method="symbolic")
    with pytest.raises(ValueError, match="method"):
        claim("G-ZZ1", paper="G", place="p", statement="s", method="guess")
    with pytest.raises(ValueError, match="id"):
        claim("F-ZZ1", paper="G", place="p", statement="s", method="symbolic")


def test_registered_twice_from_another_module():
    def fn(ctx):
        return Verdict.proved("x")
    fn.__module__ = "somewhere.else"
    with pytest.raises(ValueError, match="registered twice"):
        claim("F-T1", paper="F", place="p", statement="s", method="symbolic")(fn)
    assert get_claim("F-T1").module.endswith("paper_f")


def test_verdict_needs_summary():
    with pytest.raises(ValueError, match="summary"):
        Verdict(Status.PROVED, "")


def test_unknown_ids_and_papers():
    with pytest.raises(BadValue, match="^claim: unknown claim ID 'NOPE'"):
        get_claim("NOPE")
    with pytest.raises(BadValue, match="^paper:"):
        select(papers=["Z"])


def test_report_order_and_selection():
    ids = list(registry())
    papers = [i.split("-")[0] for i in ids]
    order = "FYGIRSV"
    assert papers == sorted(papers, key=order.index)
    f = select(papers=["F"])
    assert [c.id for c in f] == ["F-T1", "F-C1", "F-R1", "F-R2", "F-FIELD", "F-R3"]  # THEORY.md order
    seen = []
    res = run_claims(select(ids=["Y-RM"]), quick=True, progress=lambda c: seen.append(c.id))
    assert seen == ["Y-RM"] and res[0].verdict.status is Status.PROVED
