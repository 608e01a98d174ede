"""The command-line contract: verify --json, derive, report determinism, bad arguments."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dpomath.verify.cli import main

ROOT = Path(__file__).resolve().parents[1]
F_CLAIMS = {"F-T1", "F-C1", "F-R1", "F-R2", "F-FIELD", "F-R3"}


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dpomath", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def test_verify_paper_f_json():
    out = run_cli("verify", "--paper", "F", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # stdout is exactly one JSON document
    claims = {c["id"]: c for c in doc["claims"]}
    assert set(claims) == F_CLAIMS
    for c in claims.values():
        assert c["paper"] == "F" and c["evidence"] and c["summary"]
        assert c["status"] in {"PROVED", "CONFIRMED", "QUALIFIED", "REFUTED", "INCONCLUSIVE"}
    assert claims["F-T1"]["status"] == "PROVED"


def test_the_cli_module_runs_as_a_script_with_its_subcommands():
    # `python -m dpomath.verify.cli` once found no subcommand (they register in the importable
    # module, not in the __main__ copy)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "dpomath.verify.cli", "verify", "--claim", "F-C1", "--json"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["claims"][0]["id"] == "F-C1"


def test_bad_argument_is_one_line_exit_2_no_traceback():
    out = run_cli("qstar", "--K", "0", "--eps", "0.1")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert "--K" in out.stderr


@pytest.mark.parametrize("argv, word", [
    (["qstar", "--K", "0", "--eps", "0.1"], "--K"),
    (["qstar", "--K", "2", "--eps", "-1"], "--eps"),
    (["verify", "--claim", "NOPE"], "NOPE"),
    (["verify", "--paper", "Q"], "--paper"),
    (["verify", "--seed", "-1"], "--seed"),
    (["derive", "nope"], "nope"),
    (["simulate", "--K", "1"], "--Q"),
    (["frobnicate"], "frobnicate"),
])
def test_bad_arguments_in_process(argv, word, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and word in err and "Traceback" not in err


def test_derive_update_ratio(capsys):
    assert main(["derive", "update-ratio"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("1. ") and "x₂" in text and "0 < ρ" in text
    assert main(["derive", "update-ratio", "--latex"]) == 0
    tex = capsys.readouterr().out
    assert "\\frac{x_{2}}{x_{1}}" in tex


@pytest.mark.parametrize("name", ["dpo-gradient", "log-coordinates", "gpo-ratio", "3d-limits"])
def test_derive_others(name, capsys):
    assert main(["derive", name]) == 0
    assert capsys.readouterr().out.count("\n") > 5


def _strip_durations(doc):
    """The report without its run-specific fields (date, wall time, durations)."""
    from dpomath.verify.report import without_run_specific

    return without_run_specific(doc)


def test_report_paper_f_is_deterministic(tmp_path, capsys):
    for d in ("a", "b"):
        assert main(["report", "--out", str(tmp_path / d), "--paper", "F", "--quick", "--seed", "7"]) == 0
    capsys.readouterr()
    a, b = tmp_path / "a", tmp_path / "b"
    for name in ("index.html", "report.md", "report.json"):
        assert (a / name).is_file()
    ja, jb = (json.loads((p / "report.json").read_text()) for p in (a, b))
    assert ja["seed"] == 7 and {c["id"] for c in ja["claims"]} == F_CLAIMS
    assert _strip_durations(ja) == _strip_durations(jb)
    figs = sorted(p.name for p in (a / "figures").iterdir())
    assert {"paper_f_figure1.png", "paper_f_field_coordinates.png", "paper_f_flows.png"} <= set(figs)
    html = (a / "index.html").read_text()
    assert 'src="figures/paper_f_figure1.png"' in html and "http" not in html.split("<h2>Sources")[0]
    for f in figs:  # figures are PNGs, and deterministic too
        assert (a / "figures" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (a / "figures" / f).read_bytes() == (b / "figures" / f).read_bytes()


def test_report_renders_markdown_tables_in_html():
    from dpomath.verify.report import _md_inline

    html = _md_inline("**Why.** text `code`\n\n| a | b \\| c |\n|---|---|\n| 1 | <2> |\nafter")
    assert "<b>Why.</b>" in html and "<code>code</code>" in html
    assert "<th>b | c</th>" in html and "<td>&lt;2&gt;</td>" in html
    assert html.endswith("<p>after</p>")


def test_verify_list_prints_every_claim_with_its_source(capsys):
    from dpomath.verify import ledger

    assert main(["verify", "--list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["ID", "paper", "place", "method", "source"]
    for cid, c in ledger.registry().items():
        assert any(ln.startswith(cid + " ") and ln.rstrip().endswith(c.source)
                   for ln in out.splitlines()), cid
    assert main(["verify", "--list", "--paper", "F", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {c["id"] for c in doc["claims"]} == F_CLAIMS
    assert all(c["source"].startswith("proofs/paper_f.py:") for c in doc["claims"])


def test_verify_json_and_table_show_the_source(capsys):
    assert main(["verify", "--claim", "F-T1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["claims"][0]["source"].startswith("proofs/paper_f.py:")
    assert main(["verify", "--claim", "F-T1"]) == 0
    assert "proofs/paper_f.py:" in capsys.readouterr().out


def test_import_errors_are_reported_before_the_claim_is_looked_up(monkeypatch, capsys):
    """A claim module that fails to import is named, not hidden behind 'unknown claim ID'."""
    from dpomath.verify import ledger

    monkeypatch.setattr(ledger, "_REGISTRY", {})
    monkeypatch.setattr(ledger, "_IMPORT_ERRORS", {"dpomath.proofs": "No module named 'dpomath.proofs'"})
    monkeypatch.setattr(ledger, "_DISCOVERED", True)
    assert main(["verify", "--claim", "F-T1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "dpomath: warning: could not import dpomath.proofs: No module named 'dpomath.proofs'"
    assert "unknown claim ID 'F-T1'; known: none (dpomath.proofs failed to import" in err[-1]


def test_subcommands_come_from_the_registry():
    import dpomath.validation.command  # noqa: F401  (imported first: the order must not change)
    from dpomath.verify.cli import COMMAND_MODULES, _load_commands

    cmds = _load_commands()
    assert list(cmds)[:6] == ["verify", "report", "derive", "qstar", "simulate", "validate"]
    assert "dpomath.validation.command" in COMMAND_MODULES
    assert all(c.run.__module__ != "dpomath.verify.cli" for c in cmds.values())


def test_simulate_loss_names_come_from_the_loss_table(capsys):
    from dpomath.losses import cli_losses

    assert cli_losses() == {"dpo": "sigmoid", "ipo": "ipo-margin", "slic": "hinge"}
    assert main(["simulate", "--K", "1", "--Q", "2", "--loss", "ipo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"]["loss"] == "ipo-margin"
    assert main(["simulate", "--K", "1", "--Q", "2", "--loss", "ipo-norm"]) == 2


def test_validate_decides_v_ode_at_its_seed(monkeypatch):
    # `dpomath validate --seed S` once split at S but drew V-ODE's samples at seed 0
    from dpomath.validation import command as VC
    from dpomath.validation import ksweep

    seen = {}
    monkeypatch.setattr(ksweep, "make_config", lambda **kw: seen.setdefault("config", kw))
    monkeypatch.setattr(ksweep, "get_sweep", lambda config: "a sweep")

    def evaluate_all(sweep, fdir=None, seed=0):
        seen["seed"] = seed
        raise KeyboardInterrupt  # stop before the table, which needs a real sweep

    monkeypatch.setattr(VC, "evaluate_all", evaluate_all)
    with pytest.raises(KeyboardInterrupt):
        VC.validate_command(persona_dir="unused", seed=7)
    assert seen["config"]["seed"] == 7 and seen["seed"] == 7
