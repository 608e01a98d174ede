"""The persona data the user gives: a wrong path is an error (exit 2, before anything runs),
only an absent setting is a SKIP; too few personas for a K is SKIPPED with what to supply
(not ERROR); malformed records are summarised on stderr as well as in the JSON."""
import importlib.util
import json
import warnings
from pathlib import Path

import pytest

from dpomath.verify.cli import main

HEAVY = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))


def _personas(d: Path, names=("agreeableness", "narcissism"), bad_line: bool = False) -> Path:
    from dpomath.validation.data import write_example_personas

    write_example_personas(d, personas=list(names))
    if bad_line:
        with open(d / f"{names[0]}.jsonl", "a", encoding="utf-8") as f:
            f.write('{"question": "truncated\n')
    return d


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("cmd", ["verify", "report"])
def test_a_wrong_persona_path_is_exit_2_before_anything_runs(cmd, how, tmp_path, monkeypatch, capsys):
    wrong = tmp_path / "typo"
    argv = [cmd, "--paper", "V"] + (["--out", str(tmp_path / "r")] if cmd == "report" else [])
    if how == "flag":
        argv += ["--persona-dir", str(wrong)]
    else:
        monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(wrong))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    flag = "--persona-dir" if how == "flag" else "DPOMATH_PERSONA_DIR"
    assert err == [f"dpomath {cmd}: {flag}: {wrong} does not exist"]
    assert not (tmp_path / "r").exists()  # the report did not start


def test_a_folder_without_jsonl_is_an_error_too(tmp_path, capsys):
    (tmp_path / "README").write_text("not persona data")
    assert main(["verify", "--claim", "V-3D", "--persona-dir", str(tmp_path)]) == 2
    assert f"no persona *.jsonl files in {tmp_path}" in capsys.readouterr().err


def test_an_absent_setting_is_a_skip(monkeypatch, capsys):
    monkeypatch.delenv("DPOMATH_PERSONA_DIR", raising=False)
    assert main(["verify", "--claim", "V-3D", "--json"]) == 0
    [c] = json.loads(capsys.readouterr().out)["claims"]
    assert c["status"] == "SKIPPED"


def test_a_stale_environment_setting_does_not_block_other_papers(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(tmp_path / "gone"))
    assert main(["verify", "--claim", "F-C1", "--json"]) == 0


def test_the_ledger_reports_a_wrong_path_as_error_not_skip(tmp_path, monkeypatch):
    """From Python (dm.run_claims) a wrong DPOMATH_PERSONA_DIR is no longer a quiet SKIP."""
    if not HEAVY:
        pytest.skip("torch/transformers not installed: the claims skip before reading the setting")
    from dpomath.verify.ledger import run_claims

    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(tmp_path / "typo"))
    [r] = run_claims(["V-3D"])
    assert r.verdict.status.value == "ERROR" and "DPOMATH_PERSONA_DIR" in r.verdict.summary


@pytest.mark.skipif(not HEAVY, reason="torch/transformers not installed")
def test_too_few_personas_is_skipped_with_what_to_supply(tmp_path, capsys):
    from dpomath.validation.model import ModelUnavailable, resolve_model

    try:
        resolve_model(None)
    except ModelUnavailable as e:
        pytest.skip(f"model not available: {e}")
    d = _personas(tmp_path / "two")
    assert main(["verify", "--claim", "I-EMP-R2", "--persona-dir", str(d), "--json"]) == 0
    [c] = json.loads(capsys.readouterr().out)["claims"]
    assert c["status"] == "SKIPPED", c["summary"]
    assert "K=16 needs 16 personas but only 2 are available" in c["summary"]
    assert "at least 16 persona files" in c["evidence"]["enable"]


def test_validate_with_too_few_personas_is_a_usage_error(tmp_path, capsys):
    d = _personas(tmp_path / "two")
    assert main(["validate", "--persona-dir", str(d), "--K", "1,4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dpomath validate: --K: K=4 needs 4 personas but only 2 are available"]


def test_malformed_records_are_warned(tmp_path):
    from dpomath.validation.data import DataWarning
    from dpomath.validation.ksweep import make_config, run_sweep

    d = _personas(tmp_path / "p", names=("agreeableness",), bad_line=True)
    cfg = make_config(persona_dir=d, Ks=[1], cache_dir=tmp_path / "cache")

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(Exception):  # noqa: B017 - stops at the model, after reading
            run_sweep(cfg, loader=stop)
    msgs = [str(w.message) for w in seen if issubclass(w.category, DataWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("persona data: 1 malformed record skipped in 1 file")
    assert "agreeableness.jsonl:" in msgs[0] and "invalid JSON" in msgs[0]


def test_the_command_line_prints_dpomath_warnings_as_one_line(monkeypatch, capsys):
    from dpomath.validation.data import DataWarning
    from dpomath.verify import cli

    def run(args):
        warnings.warn("persona data: 2 malformed records skipped", DataWarning)
        return 0

    cli._load_commands()
    monkeypatch.setitem(cli._COMMANDS, "derive", cli.Command("derive", "x", lambda p: p.add_argument("name"), run))
    assert main(["derive", "x"]) == 0
    assert capsys.readouterr().err == "dpomath: warning: persona data: 2 malformed records skipped\n"
