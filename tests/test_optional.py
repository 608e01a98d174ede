"""Missing optional dependencies: a claim whose check needs one is SKIPPED with the ``pip
install 'dpomath[EXTRA]'`` that enables it (not ERROR); the command line says the same in one
line; the table of extras agrees with pyproject.toml. (The real thing, a venv without torch and
Hypothesis, is tests/test_install.py.)"""
import re
import sys
from pathlib import Path

import pytest

from dpomath._optional import EXTRAS, hint, missing_optional
from dpomath.verify.ledger import Claim, Status, source_of

ROOT = Path(__file__).resolve().parents[1]


def _needs(module):
    def check(ctx):
        raise ModuleNotFoundError(f"No module named '{module}'", name=module)
    return check


@pytest.mark.parametrize("module, extra", [("torch", "validation"), ("torch.nn", "validation"),
                                           ("hypothesis", "test"), ("transformers", "validation")])
def test_a_missing_optional_module_is_skipped_with_its_extra(module, extra):
    c = Claim("G-X1", "G", "here", "s", "", "numeric", _needs(module), __name__, source_of(_needs))
    v = c.run().verdict
    assert v.status == Status.SKIPPED
    assert v.evidence["enable"] == f"pip install 'dpomath[{extra}]'"
    assert v.summary.startswith(f"{module.split('.')[0]} is not installed")


def test_any_other_missing_module_is_still_an_error():
    c = Claim("G-X1", "G", "here", "s", "", "numeric", _needs("numpyy"), __name__, source_of(_needs))
    assert c.run().verdict.status == Status.ERROR
    assert missing_optional(ImportError("x")) is None and hint("numpy") is None


def test_the_command_line_names_the_extra(monkeypatch, capsys):
    from dpomath.verify import cli

    def run_torch(args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    cli._load_commands()
    monkeypatch.setitem(cli._COMMANDS, "derive",
                        cli.Command("derive", "x", lambda p: p.add_argument("name"), run_torch))
    assert cli.main(["derive", "x"]) == 2
    assert capsys.readouterr().err == "dpomath derive: torch is not installed: pip install 'dpomath[validation]'\n"


def test_the_extras_table_agrees_with_pyproject():
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    declared = {}
    for extra, reqs in extras.items():
        for r in reqs:
            name = re.split(r"[<>=\[; ]", r, 1)[0].lower()
            if not name.startswith("dpomath"):
                declared.setdefault(name, extra)
    for module, extra in EXTRAS.items():
        assert declared.get(module) == extra, (module, extra, declared.get(module))
