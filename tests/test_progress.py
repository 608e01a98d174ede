"""Progress when stderr is not a terminal (logs, CI, ``| tee``): a line when the run starts and
ends and at least every INTERVAL seconds with the stages and their counts; an ETA from the
claims' expected durations; transformers' own loading bar silenced; optional dependencies
named. (No assertion on how long anything takes: the heartbeat is driven by waiting on an
event, and the ETA by a stubbed clock.)"""
import importlib.util
import threading

import pytest

from dpomath.verify import progress as P


@pytest.fixture
def log_mode(monkeypatch):
    monkeypatch.setattr(P, "_to_terminal", lambda: False)
    monkeypatch.setattr(P, "_QUIET", False)
    monkeypatch.setattr(P, "_BRIEF", False)  # an earlier `main([... "--json"])` leaves it on


def test_lines_name_the_stages_and_counts(log_mode, capsys):
    items = [type("C", (), {"id": f"X-{i}"})() for i in range(3)]
    for c in P.progress(items, desc="claims"):
        for _ in P.progress(range(2), desc="inner"):
            P._LOG.emit()  # what the heartbeat prints
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("dpomath: [0:00] claims 0/3")
    assert any("claims 1/3 (X-1) › inner 0/2" in ln for ln in err), err
    assert err[-1].endswith("claims: done (3/3)")


def test_a_line_comes_while_one_item_runs_long(log_mode, monkeypatch, capsys):
    """Nothing happens for longer than INTERVAL (one long claim): the thread writes a line."""
    monkeypatch.setattr(P, "INTERVAL", 0.0)
    seen = threading.Event()
    real_emit = P._LOG.emit

    def emit(text=None):
        real_emit(text)
        if text is None:
            seen.set()

    monkeypatch.setattr(P._LOG, "emit", emit)
    for _ in P.progress(["only"], desc="claims"):
        P._LOG.last = -1e9
        assert seen.wait(60), "no heartbeat line"
    assert "claims 0/1" in capsys.readouterr().err


def test_eta_follows_the_expected_durations(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(P.time, "monotonic", lambda: now[0])
    s = P._Stage("claims", 3, [10.0, 10.0, 80.0], None)
    assert s.eta() == pytest.approx(100.0)
    # the first claim took 1 s where 10 were expected: this run is 10x faster
    s.done_weight, s.done_time, s.n, s.t_item = 10.0, 1.0, 1, 100.0
    assert s.eta() == pytest.approx(9.0)
    now[0] += 5.0  # 5 s into the second claim (1 s expected at this speed): the rest is left
    assert s.eta() == pytest.approx(8.0)


def test_claim_weights_cover_the_real_model_claims(monkeypatch):
    from dpomath.verify import ledger

    claims = list(ledger.registry().values())
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", "/somewhere")
    with_data = dict(zip((c.id for c in claims), P.claim_weights(claims, quick=False)))
    monkeypatch.delenv("DPOMATH_PERSONA_DIR")
    without = dict(zip((c.id for c in claims), P.claim_weights(claims, quick=False)))
    assert with_data["I-EMP-RATE"] > 60 * without["I-EMP-RATE"]  # the sweep: minutes, or a skip
    assert with_data["Y-P1"] > with_data["F-C1"]
    assert all(w > 0 for w in with_data.values())


def test_claim_weights_follow_the_run_size_variables(monkeypatch):
    # a report with DPOMATH_FT_SWEEP=off once showed an ETA of 19 h for a 14-minute run
    from dpomath.verify import ledger

    claims = [c for c in ledger.registry().values() if c.id in ("I-EMP-FT", "R-CHES-FILTER", "Y-P1-LM")]
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", "/somewhere")
    for var in ("DPOMATH_FT_SWEEP", "DPOMATH_RS_BUDGET", "DPOMATH_Y_SWEEP"):
        monkeypatch.delenv(var, raising=False)
    big = dict(zip((c.id for c in claims), P.claim_weights(claims, quick=False)))
    monkeypatch.setenv("DPOMATH_FT_SWEEP", "off")
    monkeypatch.setenv("DPOMATH_RS_BUDGET", "reduced")
    monkeypatch.setenv("DPOMATH_Y_SWEEP", "cpu")
    small = dict(zip((c.id for c in claims), P.claim_weights(claims, quick=False)))
    assert big["I-EMP-FT"] > 3600 and small["I-EMP-FT"] < 1
    assert small["R-CHES-FILTER"] < 1 < big["R-CHES-FILTER"]
    assert small["Y-P1-LM"] < big["Y-P1-LM"] / 3
    assert P.claim_weights(claims, quick=True) == P.claim_weights(claims, quick=True)  # quick: no variants


def test_quiet_and_terminal_modes_print_no_lines(monkeypatch, capsys):
    monkeypatch.setattr(P, "_QUIET", True)
    assert list(P.progress(range(3), desc="x")) == [0, 1, 2]
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="transformers not installed")
def test_transformers_loading_bar_is_silenced(monkeypatch):
    import transformers
    from transformers.utils import logging as hf_logging

    from dpomath.train import models as M  # the one loader (dpomath.validation.model re-exports it)

    seen = {}

    class Fake:
        @staticmethod
        def from_pretrained(path, **kw):
            seen["bar"] = hf_logging.is_progress_bar_enabled()
            return "model"

    monkeypatch.setattr(transformers, "AutoModelForCausalLM", Fake)
    monkeypatch.setattr(transformers, "AutoTokenizer", Fake)
    hf_logging.enable_progress_bar()
    assert M._from_pretrained("x", {}, None, None) == ("model", "model")
    assert seen["bar"] is False and hf_logging.is_progress_bar_enabled()


@pytest.mark.skipif(importlib.util.find_spec("trl") is None, reason="trl not installed")
def test_the_trl_oracle_config_raises_no_future_warning(tmp_path):
    import warnings

    from trl import DPOConfig

    from test_trl_oracle import NO_CHECKPOINTING  # tests/ is on sys.path under pytest

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        DPOConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True, **NO_CHECKPOINTING)
    assert not [x for x in w if issubclass(x.category, FutureWarning)], [str(x.message) for x in w]
