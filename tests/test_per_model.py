"""Real-model claims decided per model (dpomath.verify.per_model): the combination rule on every
kind of agreement and disagreement, the setting (--models / DPOMATH_MODELS / DPOMATH_MODEL),
the decorator (one call per model, SKIPPED rows for models that are not there, figure names per
model, source lines), the report's and the CLI's side-by-side display. Fake checks on stand-in
models (local folders), no language model is loaded."""
import json
from pathlib import Path

import pytest

from dpomath._args import BadValue
from dpomath.verify import ledger
from dpomath.verify.fidelity import Control, Revision, Scope
from dpomath.verify.ledger import Context, Skip, Status, Verdict
from dpomath.verify.per_model import (DEFAULT_MODELS, MODEL_RULE, ModelChoice, configured_models,
                                      decide_models, model_choice, per_model, run_per_model,
                                      set_models, using_models)

A = ModelChoice("a", "Model-A", "a", default=True)
B = ModelChoice("b", "Model-B", "b")
C = ModelChoice("c", "Model-C", "c")


def _v(status: str, text: str = "", model: ModelChoice = A, **kw) -> Verdict:
    ctl = [Control("false variant", failed=True)] if status in ("PROVED", "CONFIRMED") else []
    return Verdict(Status(status), text or status.lower(), controls=kw.pop("controls", ctl),
                   scope=Scope(f"{model.name}, persona data, K ≤ 4", kind="model"), **kw)


@pytest.mark.parametrize("statuses, expected", [
    (["CONFIRMED", "CONFIRMED"], "CONFIRMED"),
    (["REFUTED", "REFUTED"], "REFUTED"),
    (["INCONCLUSIVE", "INCONCLUSIVE"], "INCONCLUSIVE"),
    (["QUALIFIED", "QUALIFIED"], "QUALIFIED"),
    (["PROVED", "CONFIRMED"], "CONFIRMED"),
    (["CONFIRMED", "REFUTED"], "QUALIFIED"),
    (["REFUTED", "CONFIRMED"], "QUALIFIED"),
    (["CONFIRMED", "INCONCLUSIVE"], "QUALIFIED"),
    (["QUALIFIED", "REFUTED"], "QUALIFIED"),
    (["REFUTED", "INCONCLUSIVE"], "REFUTED"),
    (["INCONCLUSIVE", "REFUTED"], "REFUTED"),
    (["CONFIRMED", "ERROR"], "ERROR"),
    (["CONFIRMED", "SKIPPED"], "CONFIRMED"),
    (["SKIPPED", "REFUTED"], "REFUTED"),
    (["SKIPPED", "SKIPPED"], "SKIPPED"),
    (["CONFIRMED", "REFUTED", "INCONCLUSIVE"], "QUALIFIED"),
    (["REFUTED", "REFUTED", "SKIPPED"], "REFUTED"),
])
def test_rule(statuses, expected):
    models = [A, B, C][:len(statuses)]
    v = decide_models([(m, _v(s, model=m)) for m, s in zip(models, statuses)])
    assert v.status.value == expected
    assert [r["status"] for r in v.models] == statuses
    assert [r["model"] for r in v.models] == [m.name for m in models]
    assert v.model_rule == MODEL_RULE
    for m, s in zip(models, statuses):  # every model's status is named in the summary
        assert f"{m.name}: {s}" in v.summary


def test_disagreement_names_where_it_holds():
    v = decide_models([(A, _v("CONFIRMED", "slope > 0")), (B, _v("REFUTED", "slope < 0", model=B))])
    assert v.summary.startswith("holds on Model-A only")
    assert v.scope.on.startswith("Model-A, Model-B, each decided on its own")
    assert "persona data" in v.scope.on and v.scope.kind == "model"
    v = decide_models([(A, _v("INCONCLUSIVE")), (B, _v("REFUTED", model=B))])
    assert v.summary.startswith("refuted on Model-B")
    # the first model's file, in parentheses after its name, is not part of the common scope
    a = Verdict(Status.REFUTED, "x", scope=Scope(f"{A.name} (GGUF a.gguf), persona data, K ≤ 4", kind="model"))
    v = decide_models([(A, a), (B, _v("REFUTED", model=B))])
    assert v.scope.on == "Model-A, Model-B, each decided on its own (persona data, K ≤ 4)"


def test_one_model_is_that_models_verdict():
    w = _v("REFUTED", "slope < 0")
    v = decide_models([(A, w)])
    assert v is w and v.status is Status.REFUTED and v.summary == "slope < 0"
    assert len(v.models) == 1 and v.models[0]["key"] == "a"


def test_controls_revisions_figures_kept_per_model():
    rev = Revision("old", "REFUTED", "new", "review")
    a = _v("CONFIRMED", model=A, revisions=[rev], figures=["fig_a.png"])
    b = _v("CONFIRMED", model=B, revisions=[Revision("old", "INCONCLUSIVE", "new", "review")],
           figures=["b_fig_a.png"], controls=[Control("other variant", failed=True, measured="x")])
    v = decide_models([(A, a), (B, b)])
    assert v.status is Status.CONFIRMED
    assert [c.variant for c in v.controls] == ["[a] false variant", "[b] other variant"]
    assert v.control_fails
    assert len(v.revisions) == 1 and v.revisions[0].old_verdict == "Model-A: REFUTED; Model-B: INCONCLUSIVE"
    assert v.figures == ["fig_a.png", "b_fig_a.png"]
    assert v.evidence["per_model_status"] == {"a": "CONFIRMED", "b": "CONFIRMED"}


def test_agreeing_confirmed_with_a_passing_control_keeps_establishes():
    a = _v("CONFIRMED", controls=[Control("weak", failed=False), Control("strong", failed=True)],
           establishes="holds where the bound is non-vacuous")
    b = _v("CONFIRMED", model=B)
    v = decide_models([(A, a), (B, b)])
    assert v.problems() == [] and "[a] holds where" in v.establishes


def test_all_untestable_stays_untestable():
    u = lambda m: Verdict.untestable("rows move opposite", why="shared response tokens",
                                     scope=Scope(m.name, kind="model"))
    v = decide_models([(A, u(A)), (B, u(B))])
    assert v.status is Status.INCONCLUSIVE and v.not_testable == "shared response tokens"
    v = decide_models([(A, u(A)), (B, _v("INCONCLUSIVE", model=B))])
    assert v.status is Status.INCONCLUSIVE and not v.not_testable


def test_all_skipped_keeps_the_enable_commands():
    s = Skip("not installed", enable="make gemma").verdict()
    v = decide_models([(A, Skip("no data", enable="set X").verdict()), (B, s)])
    assert v.status is Status.SKIPPED and "make gemma" in v.evidence["enable"]


# ------------------------------------------------------------------ the setting

def test_setting_order(monkeypatch):
    monkeypatch.delenv("DPOMATH_MODELS", raising=False)
    monkeypatch.delenv("DPOMATH_MODEL", raising=False)
    assert [m.key for m in configured_models()] == list(DEFAULT_MODELS)
    monkeypatch.setenv("DPOMATH_MODEL", "gemma3-270m")
    assert [m.key for m in configured_models()] == ["gemma3-270m"]
    monkeypatch.setenv("DPOMATH_MODELS", "smollm2, gemma3-270m")
    assert [m.key for m in configured_models()] == ["smollm2", "gemma3-270m"]
    with using_models("gemma3-270m"):
        assert [m.key for m in configured_models()] == ["gemma3-270m"]
    assert [m.key for m in configured_models()] == ["smollm2", "gemma3-270m"]


def test_setting_bad_values(monkeypatch):
    monkeypatch.setenv("DPOMATH_MODELS", " , ")
    with pytest.raises(BadValue, match="DPOMATH_MODELS"):
        configured_models()
    with pytest.raises(BadValue, match="smollm2 given twice"):
        set_models("smollm2,SmolLM2-135M-Instruct")
    set_models(None)


def test_model_choice_names():
    assert model_choice("SmolLM2").default and model_choice("default").key == "smollm2"
    g = model_choice("Gemma-3-270M")
    assert (g.key, g.name, g.default) == ("gemma3-270m", "Gemma-3-270M", False)
    assert "gemma" in g.install
    assert model_choice("/some/dir/my model/").key == "my-model"


# ------------------------------------------------------------------ the decorator

def _folder_models(tmp_path, n):
    out = []
    for i in range(n):
        d = tmp_path / f"m{i}"
        d.mkdir()
        (d / "config.json").write_text("{}")
        out.append(str(d))
    return out


def test_decorator_runs_each_model_with_its_figure_names(tmp_path):
    calls = []

    @per_model
    def check(ctx, model):
        calls.append((model.key, ctx.seed, ctx.quick))
        p = ctx.figure_path("fig.png")
        p.write_text("x")
        ok = model.key == "m0"
        return Verdict(Status.CONFIRMED if ok else Status.REFUTED, f"{model.key} ran",
                       figures=[str(p)], controls=[Control("v", failed=True)] if ok else [],
                       scope=Scope(f"{model.name}, fake", kind="model"))

    paths = _folder_models(tmp_path, 2)
    with using_models(paths):
        v = check(Context("X-1", seed=3, quick=True, figure_dir=tmp_path / "figs"))
    assert calls == [("m0", 3, True), ("m1", 3, True)]
    assert v.status is Status.QUALIFIED
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["m0_fig.png", "m1_fig.png"]
    assert getattr(check, "per_model", False)


def test_unavailable_model_is_skipped_on_its_row(tmp_path):
    @per_model
    def check(ctx, model):
        return Verdict(Status.REFUTED, "ran", scope=Scope(model.name, kind="model"))

    there = _folder_models(tmp_path, 1)[0]
    with using_models([there, str(tmp_path / "not-a-model")]):
        v = check(Context("X-1"))
    assert v.status is Status.REFUTED
    assert [r["status"] for r in v.models] == ["REFUTED", "SKIPPED"]
    assert "not available" in v.models[1]["summary"] and v.models[1]["enable"]


def test_a_crash_on_one_model_is_an_error_on_its_row(tmp_path):
    def check(ctx, model):
        if model.key == "m1":
            raise RuntimeError("boom")
        return Verdict(Status.INCONCLUSIVE, "ran", scope=Scope(model.name, kind="model"))

    v = run_per_model(Context("X-1"), check, [model_choice(p) for p in _folder_models(tmp_path, 2)])
    assert v.status is Status.ERROR and v.summary.startswith("ERROR on ") and "m1" in v.summary.split(" — ")[0]
    assert v.models[1]["status"] == "ERROR" and "boom" in v.models[1]["summary"]


def test_claims_show_the_check_source_not_the_wrapper():
    claims = ledger.registry()
    if "I-EMP-R2" not in claims:
        pytest.skip("validation claims not importable here")
    for cid in ("I-EMP-RATE", "I-EMP-R2", "I-EMP-ORTH", "V-ODE", "V-ASSUME"):
        c = claims[cid]
        assert getattr(c.check, "per_model", False), cid
        path, line = c.source.rsplit(":", 1)
        assert path == "validation/claims.py"
        src = open(Path(__file__).resolve().parents[1] / path).read().splitlines()
        assert src[int(line) - 1].startswith("@claim("), (cid, src[int(line) - 1])


# ------------------------------------------------------------------ display

def test_report_markdown_has_the_side_by_side_table():
    from dpomath.verify.report import _md_fidelity

    v = decide_models([(A, _v("CONFIRMED")), (B, _v("REFUTED", model=B))])
    row = {"status": v.status.value, **v.to_fields()}
    text = "\n".join(_md_fidelity(row))
    assert "**Per model** (rule:" in text
    assert "| Model-A | CONFIRMED |" in text and "| Model-B | REFUTED |" in text
    json.dumps(v.to_fields())  # JSON-able
    from dpomath.verify.report import _html_fidelity

    h = _html_fidelity(row)
    assert "<h4>Per model</h4>" in h and "Model-A" in h and "Model-B" in h


def test_cli_bad_models_is_a_usage_error(capsys):
    from dpomath.verify.cli import main

    assert main(["verify", "--claim", "F-C1", "--models", ","]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "models" in err[0]
    set_models(None)
