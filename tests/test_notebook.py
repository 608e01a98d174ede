"""Jupyter: a derivation, a verdict, a result, a list of results and the conformance kit's report
show as typeset mathematics and tables (``_repr_latex_``/``_repr_html_``), not as raw dumps;
``dm.derive`` and ``dm.run_claims`` are documented; ``run_claims(["F-C1"])`` works."""
import re

import pytest

import dpomath as dm


def test_derive_returns_a_displayable_derivation():
    d = dm.derive("update-ratio")
    assert isinstance(d, list) and d.name == "update-ratio"
    latex = d._repr_latex_()
    assert latex.startswith("$$") and latex.endswith("$$") and r"\frac" in latex
    assert latex.count(r"\text{") >= len(d)  # every step's sentence
    html = d._repr_html_()
    assert html.count("<li>") == len(d) and "$$" in html
    assert str(d).startswith("1. ")  # print() gives the command line's text


def test_run_claims_takes_ids_and_shows_a_table():
    results = dm.run_claims(["F-C1"])
    [r] = results
    assert r.claim.id == "F-C1" and r.verdict.status == dm.Status.PROVED
    assert dm.run_claims("f-c1")[0].claim.id == "F-C1"
    table = results._repr_html_()
    assert "<table>" in table and "F-C1" in table and "PROVED" in table
    html = r._repr_html_()
    assert "Corollary 1" in html and "$$" in html and "PROVED" in html
    assert r._repr_latex_().startswith("$$") and r"\textbf{PROVED}" in r._repr_latex_()
    v = r.verdict._repr_html_()
    assert "PROVED" in v and "<details>" in v
    with pytest.raises(dm.BadValue, match="unknown claim ID 'F-NOPE'"):
        dm.run_claims(["F-NOPE"])


def test_latex_text_is_escaped():
    from dpomath.verify.display import latex_text

    assert latex_text("a_b 50% {x} $y$ #1 & ~^\\") == (
        r"\text{a\_b 50\% \{x\} \$y\$ \#1 \& \textasciitilde{}\textasciicircum{}\textbackslash{}}")


def test_the_conformance_report_shows_as_a_table():
    pytest.importorskip("hypothesis")
    from scipy.special import log_expit

    def dpo(pc, pr, rc, rr, beta):
        return -log_expit(beta * ((pc - rc) - (pr - rr)))

    rep = dm.check_preference_loss(dpo, "sigmoid", beta=0.1, examples=5)
    html = rep._repr_html_()
    rows = len(rep.checks) + len(rep.skipped) + len(rep.failures) + len(rep.not_run)
    assert "conforms to dpomath&#x27;s `sigmoid` loss" in html and html.count("<tr>") == rows


@pytest.mark.parametrize("fn", [dm.derive, dm.run_claims])
def test_numpydoc_docstrings(fn):
    doc = fn.__doc__ or ""
    for section in ("Parameters\n    ----------", "Returns\n    -------", "Examples\n    --------"):
        assert section in doc, (fn.__name__, section)
    assert re.search(r">>> ", doc)
