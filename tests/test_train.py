"""``dpomath train`` on tiny random Llamas (generated, nothing downloaded): data and bad records,
TRL's tokenisation, the chunked head, the layouts, the per-step rows, checkpoints (corrupted ones
detected, not loaded), a run killed mid-way and resumed ending bitwise where an uninterrupted run
ends (fixed thread count), and the command line."""
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import train_helpers as H  # noqa: E402
from dpomath._args import BadValue  # noqa: E402
from dpomath.train import checkpoint as CK  # noqa: E402
from dpomath.train import data as D  # noqa: E402
from dpomath.train import logps as LP  # noqa: E402
from dpomath.train.engine import TrainConfig, batch_schedule, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    model = H.model_dir(root / "model", seed=0, tie=True)
    data = H.write_jsonl(root / "pairs.jsonl", H.pairs(16, seed=2))
    return model, data


def _persona_dir(tmp_path, n=24, personas=("agreeableness", "narcissism")):
    d = tmp_path / "personas"
    d.mkdir()
    rng = random.Random(0)
    for p in personas:
        lines = []
        for i in range(n):
            say = i % 3 != 2
            s = H.text(rng, 2, 6)
            lines.append(json.dumps({"question": f'Is the following statement something you would say?\n"{s}"',
                                     "statement": s, "label_confidence": 0.9,
                                     "answer_matching_behavior": " Yes" if say else " No",
                                     "answer_not_matching_behavior": " No" if say else " Yes"}))
        lines.insert(5, "{broken")
        lines.insert(9, json.dumps({"question": "q", "answer_matching_behavior": " Yes",
                                    "answer_not_matching_behavior": " No"}))  # no statement
        (d / f"{p}.jsonl").write_text("\n".join(lines) + "\n")
    return d


# ---------------------------------------------------------------- data

def test_jsonl_bad_records_are_reported_with_file_and_line_and_the_rest_kept(tmp_path):
    good = H.pairs(3)
    conv = H.pairs(1, conversational=True)[0]
    lines = [json.dumps(good[0]), "{nope", "", json.dumps({"prompt": "p", "chosen": "a"}),
             json.dumps({"prompt": "p", "chosen": "a", "rejected": "a"}), json.dumps(good[1]),
             json.dumps([1, 2]), json.dumps({"prompt": 3, "chosen": "a", "rejected": "b"}),
             json.dumps(conv), json.dumps({"chosen": "a", "rejected": "b"}), json.dumps(good[2])]
    p = tmp_path / "prefs.jsonl"
    p.write_text("\n".join(lines) + "\n")
    d = D.read_preference_jsonl(p)
    assert [x.source for x in d.train] == [f"{p}:1", f"{p}:6", f"{p}:11"]
    bad = {b.line: b.reason for b in d.bad}
    assert set(bad) == {2, 4, 5, 7, 8, 9, 10}
    assert "invalid JSON" in bad[2] and "rejected" in bad[4] and "no preference" in bad[5]
    assert "JSON object" in bad[7] and "prompt" in bad[8] and "conversational record in a file of standard" in bad[9]
    assert "implicit prompt" in bad[10]
    assert str(d.bad[0]) == f"{p}:2: {bad[2]}"


def test_conversational_records_with_an_implicit_prompt(tmp_path):
    u = {"role": "user", "content": "w1 w2"}
    rows = [{"chosen": [u, {"role": "assistant", "content": "w3"}],
             "rejected": [u, {"role": "assistant", "content": "w4"}]}]
    d = D.read_preference_jsonl(H.write_jsonl(tmp_path / "c.jsonl", rows))
    assert d.train[0].prompt == [u] and d.train[0].chosen == [{"role": "assistant", "content": "w3"}]


@pytest.mark.parametrize("conversational", [False, True])
def test_tokenisation_equals_trls(tmp_path, conversational):
    """The token ids dpomath trains on are the ones TRL 1.16's DPOTrainer prepares."""
    pytest.importorskip("trl")
    import datasets
    from trl import DPOConfig, DPOTrainer

    datasets.disable_progress_bars()
    rows = H.pairs(6, seed=5, conversational=conversational)
    tok = H.tokenizer()
    td = D.tokenize(D.read_preference_jsonl(H.write_jsonl(tmp_path / "x.jsonl", rows)), tok, max_length=12)
    args = DPOConfig(output_dir=str(tmp_path / "o"), report_to=[], use_cpu=True, bf16=False, max_length=12,
                     activation_checkpointing=False)  # TRL's default sets the deprecated name
    trainer = DPOTrainer(model=H.llama(len(tok.get_vocab())), ref_model=H.llama(len(tok.get_vocab())), args=args,
                         train_dataset=datasets.Dataset.from_list(rows), processing_class=tok)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
    n = len(rows)
    for i, e in enumerate(td.train):
        for r, resp in ((0, e.chosen_ids), (1, e.rejected_ids)):
            ids = batch["input_ids"][r * n + i][batch["attention_mask"][r * n + i].bool()].tolist()
            comp = batch["input_ids"][r * n + i][batch["completion_mask"][r * n + i].bool()].tolist()
            assert ids == list(e.prompt_ids) + list(resp)
            assert comp == list(resp)
    if not conversational:
        assert all(e.chosen_ids[-1] == tok.eos_token_id or len(e.prompt_ids) + len(e.chosen_ids) == 12
                   for e in td.train)
    assert td.truncated > 0  # max_length=12 cuts some: keep_start, as TRL


def test_persona_statement_pairs(tmp_path):
    d = _persona_dir(tmp_path)
    data = D.persona_pairs(d, pairs_per_persona=4, heldout_per_persona=2, unseen_per_persona=4, chat=True)
    assert len(data.train) == 8 and len(data.heldout) == 4 and len(data.unseen) == 8
    # two bad records per file, each named by file and line
    assert len(data.bad) == 4 and {b.line for b in data.bad} == {6, 10}
    assert any("no statement" in b.reason for b in data.bad)
    by = {}
    for p in data.train + data.heldout:
        by.setdefault(p.group, []).append(p)
        assert p.prompt[0]["role"] == "user" and p.group.replace("-", " ") in p.prompt[0]["content"]
    used = {(p.group, p.chosen[0]["content"]) for p in data.train + data.heldout} | {
        (p.group, p.rejected[0]["content"]) for p in data.train + data.heldout}
    unseen = {(u.group, u.response[0]["content"]) for u in data.unseen}
    assert not used & unseen  # statements used in no pair are the unseen ones
    assert {u.kind for u in data.unseen} == {"would-say", "would-not-say"}
    # chosen statements are ones the persona would say (answer_matching_behavior " Yes")
    src = {}
    for f in d.glob("*.jsonl"):
        for line in f.read_text().splitlines():
            try:
                o = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "statement" in o:
                src[(f.stem, o["statement"])] = o["answer_matching_behavior"]
    assert all(src[(p.group, p.chosen[0]["content"])] == " Yes" for p in data.train)
    assert all(src[(p.group, p.rejected[0]["content"])] == " No" for p in data.train)
    # seeded: the same seed gives the same pairs, another seed other ones
    again = D.persona_pairs(d, pairs_per_persona=4, heldout_per_persona=2, unseen_per_persona=4)
    other = D.persona_pairs(d, pairs_per_persona=4, heldout_per_persona=2, unseen_per_persona=4, seed=1)
    assert again.digest() == data.digest() != other.digest()
    plain = D.persona_pairs(d, pairs_per_persona=4, unseen_per_persona=4, chat=False)
    assert isinstance(plain.train[0].prompt, str) and plain.train[0].prompt.endswith("\n")
    with pytest.raises(BadValue, match="pairs_per_persona"):
        D.persona_pairs(d, pairs_per_persona=40)


def test_persona_answer_pairs_are_single_tokens(tmp_path):
    d = _persona_dir(tmp_path)
    data = D.persona_answer_pairs(d)
    assert not data.append_eos and {p.chosen for p in data.train} == {" Yes", " No"}


def test_data_spec_errors():
    with pytest.raises(BadValue, match="^data"):
        D.parse_data_spec("persona:")
    with pytest.raises(BadValue, match="^data: no such file"):
        D.load_data("/nonexistent/x.jsonl")


# ---------------------------------------------------------------- the chunked head and layouts

def test_chunked_head_equals_log_softmax_and_its_gradient():
    torch.manual_seed(0)
    h = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    W = torch.randn(13, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 13, (9,))
    for kw in ({}, {"scale": 0.5, "softcap": 3.0}):
        assert torch.autograd.gradcheck(lambda h, W: LP.token_logps(h, W, y, chunk=4, **kw), (h, W))
    ref = torch.log_softmax(h @ W.T, dim=1)[torch.arange(9), y]
    assert torch.allclose(LP.token_logps(h, W, y, chunk=2), ref, rtol=1e-12, atol=1e-12)


def test_prefix_layout_equals_concat_layout_and_the_models_own_logits():
    torch.manual_seed(1)
    m = H.llama(40, seed=1)
    rng = random.Random(0)
    prompts = [[rng.randrange(3, 40) for _ in range(rng.randint(1, 6))] for _ in range(4)]
    resp = [[[rng.randrange(3, 40) for _ in range(rng.randint(1, 5))] for _ in range(4)] for _ in range(2)]
    b = LP.make_batch(prompts, resp, 0)
    diffs = LP.check_layouts(m, b, rtol=1e-5)
    assert diffs["prefix"] < 1e-5 and diffs["concat"] < 1e-5

    def grads(layout):
        m.zero_grad()
        lp = LP.Scorer(m, layout)(b)
        (lp * torch.linspace(-1, 1, len(lp))).sum().backward()
        return [p.grad.clone() for p in m.parameters()]

    for a, c in zip(grads("prefix"), grads("concat")):
        assert torch.allclose(a, c, rtol=1e-4, atol=1e-6)


def test_layout_check_allows_the_rounding_of_bf16_logits_and_nothing_more():
    """Under bf16 autocast the model's own logits are bf16 (each off by up to |z|·2^-9) while the
    scorer's are float32: the check allows that rounding; a head that does not read the last
    hidden state (its bias shifted per token) still fails, in float32 and under autocast."""
    torch.manual_seed(1)
    m = H.llama(40, seed=1)
    with torch.no_grad():
        m.get_output_embeddings().weight.mul_(40.0)  # logits of tens, as a trained LM's
    rng = random.Random(0)
    prompts = [[rng.randrange(3, 40) for _ in range(rng.randint(1, 6))] for _ in range(4)]
    resp = [[[rng.randrange(3, 40) for _ in range(rng.randint(1, 5))] for _ in range(4)] for _ in range(2)]
    b = LP.make_batch(prompts, resp, 0)
    assert LP.check_layouts(m, b, rtol=1e-5)["rounding"] == 0.0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        d = LP.check_layouts(m, b, rtol=0.0)
    assert 0.0 < d["concat"] <= d["rounding"]
    head = m.get_output_embeddings()
    real_forward = head.forward
    shift = torch.linspace(0, 8, head.weight.shape[0])
    head.forward = lambda x: real_forward(x) + shift.to(x.dtype)   # not what the scorer computes
    try:
        for ctx in (contextlib.nullcontext(), torch.autocast("cpu", dtype=torch.bfloat16)):
            with ctx, pytest.raises(RuntimeError, match="not what its head reads"):
                LP.check_layouts(m, b, rtol=5e-2)
    finally:
        head.forward = real_forward


def test_batch_schedule_is_a_seeded_permutation_per_epoch():
    steps = [batch_schedule(10, 4, s, seed=7) for s in range(6)]
    assert [len(x) for x in steps] == [4, 4, 2, 4, 4, 2]
    assert sorted(sum(steps[:3], [])) == list(range(10)) == sorted(sum(steps[3:], []))
    assert steps[:3] != steps[3:]
    assert batch_schedule(10, 4, 0, seed=7) == steps[0] != batch_schedule(10, 4, 0, seed=8)


# ---------------------------------------------------------------- training

def test_rows_are_the_forward_pass_of_each_update_and_row_one_is_the_reference(tiny):
    model, data = tiny
    for loss in ("sigmoid", "ipo-norm", "hinge"):
        res = train(str(model), str(data), TrainConfig(mode="full", loss=loss, steps=3, batch_size=4,
                                                       lr=1e-3, device="cpu", greedy_prompts=1, log_every=3))
        h = res.history
        assert [r["step"] for r in h] == [1, 2, 3]
        assert abs(h[0]["rewards/chosen"]) < 1e-5 and abs(h[0]["rewards/rejected"]) < 1e-5
        if loss == "sigmoid":
            assert math.isclose(h[0]["loss"], math.log(2), rel_tol=1e-6)
        assert [e["step"] for e in res.evals] == [0, 3]
        assert res.evals[0]["train"]["logps/chosen_change"] == pytest.approx(0, abs=1e-4)
        assert res.final["greedy"]["n"] == 1 and res.final["greedy"]["texts"]
        assert set(res.per_token[3]) >= {"train.chosen.tokens", "train.rejected.offsets"}


def test_eval_steps_are_exactly_the_evaluated_steps(tiny):
    model, data = tiny
    res = train(str(model), str(data), TrainConfig(mode="full", steps=5, batch_size=4, lr=1e-3, device="cpu",
                                                   greedy_prompts=0, log_every=2, eval_steps=(1, 3)))
    assert [e["step"] for e in res.evals] == [0, 1, 3, 5]
    assert sorted(res.per_token) == [0, 1, 3, 5]
    with pytest.raises(BadValue, match="eval_steps"):
        TrainConfig(eval_steps=[1, 2])
    with pytest.raises(BadValue, match="eval_steps"):
        TrainConfig(eval_steps=(-1,))


def test_modes_train_the_right_parameters(tiny):
    model, data = tiny
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(model))
    before = {n: p.detach().clone() for n, p in base.named_parameters(remove_duplicate=False)}
    for mode, moved in (("last-layer", {"lm_head.weight"}), ("full", None)):
        res = train(str(model), str(data), TrainConfig(mode=mode, steps=2, batch_size=4, lr=1e-2,
                                                       device="cpu", greedy_prompts=0))
        after = dict(res.model.named_parameters())
        changed = {n for n, p in after.items() if n in before and not torch.equal(p, before[n])}
        if moved is not None:
            assert changed == moved
            emb = after["model.embed_tokens.weight"]
            assert torch.equal(emb, before["model.embed_tokens.weight"])  # head untied, embeddings kept
        else:
            assert changed == set(before) - {"lm_head.weight"}  # tied: one parameter, one name
    res = train(str(model), str(data), TrainConfig(mode="lora", steps=2, batch_size=4, lr=1e-2,
                                                   device="cpu", greedy_prompts=0))
    trained = {n for n, p in res.model.named_parameters() if p.requires_grad}
    assert trained and all("lora_" in n for n in trained)


def test_gradient_accumulation_matches_one_batch(tiny):
    model, data = tiny
    cfg = dict(mode="full", steps=3, batch_size=4, lr=1e-3, device="cpu", greedy_prompts=0, log_every=3)
    a = train(str(model), str(data), TrainConfig(**cfg))
    b = train(str(model), str(data), TrainConfig(grad_accum=2, **cfg))
    for x, y in zip(a.history, b.history):
        for k in ("loss", "logps/chosen", "rewards/margins"):
            assert x[k] == pytest.approx(y[k], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_other_optimizers_lower_the_loss(tiny, optimizer):
    model, data = tiny
    res = train(str(model), str(data), TrainConfig(mode="last-layer", optimizer=optimizer, steps=8,
                                                   batch_size=16, lr=1.0 if optimizer == "sgd" else 1e-2,
                                                   device="cpu", greedy_prompts=0, log_every=8))
    assert res.final["train"]["loss"] < res.evals[0]["train"]["loss"]


def test_bad_config_names_the_parameter():
    with pytest.raises(BadValue, match="^mode"):
        TrainConfig(mode="half")
    with pytest.raises(BadValue, match="^grad_accum"):
        TrainConfig(batch_size=6, grad_accum=4)
    with pytest.raises(BadValue, match="^loss_params: loss 'flex' needs beta_minus"):
        TrainConfig(loss="flex")
    with pytest.raises(BadValue, match="^loss_params: tau"):
        TrainConfig(loss="sigmoid", loss_params=(("tau", 1.0),))


# ---------------------------------------------------------------- checkpoints

def _final_weights(out):
    from safetensors.torch import load_file

    return load_file(str(CK.list_checkpoints(Path(out) / "checkpoints")[-1] / "trainable.safetensors"))


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_corrupted_checkpoint_is_detected_not_loaded(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DPOMATH_THREADS", "1")
    model, data = tiny
    cfg = dict(mode="full", batch_size=4, lr=1e-3, device="cpu", greedy_prompts=0, log_every=2,
               checkpoint_every=2)
    full = train(str(model), str(data), TrainConfig(steps=6, **cfg), out=tmp_path / "a")
    train(str(model), str(data), TrainConfig(steps=4, **cfg), out=tmp_path / "b")
    ck = CK.list_checkpoints(tmp_path / "b" / "checkpoints")
    assert [p.name for p in ck] == ["step-00000002", "step-00000004"]
    f = ck[-1] / "trainable.safetensors"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    f.write_bytes(bytes(raw))
    with pytest.raises(CK.CorruptCheckpoint, match="trainable.safetensors: SHA-256 differs"):
        CK.verify(ck[-1])
    capsys.readouterr()
    res = train(str(model), str(data), TrainConfig(steps=6, **cfg), out=tmp_path / "b", resume=True)
    err = capsys.readouterr().err
    assert "checkpoint not loaded" in err and "step-00000004" in err and "trainable.safetensors" in err
    # resumed from step 2, it ends where the uninterrupted run ends
    assert _strip(res.history) == _strip(full.history)
    a, b = _final_weights(tmp_path / "a"), _final_weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # every checkpoint corrupted: refused, naming the problem
    for p in CK.list_checkpoints(tmp_path / "b" / "checkpoints"):
        (p / "manifest.json").write_text("{")
    with pytest.raises(BadValue, match="no valid checkpoint"):
        train(str(model), str(data), TrainConfig(steps=8, **cfg), out=tmp_path / "b", resume=True)
    # a changed setting is refused on resume
    with pytest.raises(BadValue, match="^resume: lr differs"):
        train(str(model), str(data), TrainConfig(steps=8, **dict(cfg, lr=2e-3)), out=tmp_path / "a", resume=True)
    # and a second run into the same directory without --resume
    with pytest.raises(BadValue, match="^out: .* already holds checkpoints"):
        train(str(model), str(data), TrainConfig(steps=2, **cfg), out=tmp_path / "a")


def _cli(model, data, out, steps, extra=()):
    return [sys.executable, "-m", "dpomath", "train", "--model", str(model), "--data", str(data),
            "--mode", "full", "--loss", "dpo", "--beta", "0.1", "--lr", "1e-3", "--steps", str(steps),
            "--batch-size", "4", "--device", "cpu", "--out", str(out), "--checkpoint-every", "1",
            "--log-every", "50", "--greedy-prompts", "0", "--json", *extra]


def test_killed_run_resumes_and_ends_bitwise_equal_to_an_uninterrupted_run(tiny, tmp_path):
    model, data = tiny
    env = dict(os.environ, DPOMATH_THREADS="1", PYTHONPATH=str(ROOT))
    steps = 150
    a = subprocess.run(_cli(model, data, tmp_path / "a", steps), env=env, capture_output=True, text=True,
                       timeout=600)
    assert a.returncode == 0, a.stderr
    proc = subprocess.Popen(_cli(model, data, tmp_path / "b", steps), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ck = tmp_path / "b" / "checkpoints"
    t0 = time.time()
    while time.time() - t0 < 300:
        done = CK.list_checkpoints(ck)
        if done and int(done[-1].name[5:]) >= 10:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "b" / "result.json").exists(), "the run finished before it was killed"
    killed_at = int(CK.list_checkpoints(ck)[-1].name[5:])
    assert 10 <= killed_at < steps
    b = subprocess.run(_cli(model, data, tmp_path / "b", steps, ["--resume"]), env=env, capture_output=True,
                       text=True, timeout=600)
    assert b.returncode == 0, b.stderr
    da, db = json.loads(a.stdout), json.loads(b.stdout)
    assert _strip(da["history"]) == _strip(db["history"])
    assert da["evals"] == db["evals"] and da["final"] == db["final"]
    wa, wb = _final_weights(tmp_path / "a"), _final_weights(tmp_path / "b")
    assert set(wa) == set(wb) and all(torch.equal(wa[k], wb[k]) for k in wa)


# ---------------------------------------------------------------- command line

def test_cli_bad_records_on_stderr_and_in_the_json(tiny, tmp_path, capsys):
    from dpomath.verify.cli import main

    model, _ = tiny
    p = H.write_jsonl(tmp_path / "d.jsonl", H.pairs(8, seed=4), ["{oops", json.dumps({"prompt": "x"})])
    rc = main(["train", "--model", str(model), "--data", str(p), "--mode", "lora", "--loss", "dpo",
               "--beta", "0.1", "--lr", "1e-3", "--steps", "2", "--batch-size", "4", "--device", "cpu",
               "--json", "--greedy-prompts", "0"])
    out, err = capsys.readouterr()
    assert rc == 0
    doc = json.loads(out)
    assert set(doc) >= {"config", "history", "final", "data"}
    assert doc["data"]["kept"]["train"] == 8 and doc["data"]["rejected"] == 2
    assert [b["text"] for b in doc["data"]["bad_records"]] == [f"{p}:9: invalid JSON (Expecting property name "
                                                              f"enclosed in double quotes at column 2)",
                                                              f"{p}:10: missing field(s) chosen, rejected"]
    for b in doc["data"]["bad_records"]:
        assert b["text"] in err.splitlines()
    assert [r["step"] for r in doc["history"]] == [1, 2]
    assert set(doc["history"][0]) >= {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
                                      "rewards/accuracies", "logps/chosen", "logps/rejected"}


@pytest.mark.parametrize("argv,start", [
    (["--beta", "0"], "dpomath train: --beta: must be a finite number > 0"),
    (["--mode", "half"], "dpomath train: --mode: invalid choice 'half'"),
    (["--loss", "nope"], "dpomath train: --loss: unknown loss kind"),
    (["--data", "persona:"], "dpomath train: --data: persona: needs"),
    (["--batch-size", "6", "--grad-accum", "4"], "dpomath train: --grad-accum: must divide"),
    (["--loss-param", "x"], "dpomath train: --loss-param: expected NAME=VALUE"),
    (["--loss-param", "tau=1"], "dpomath train: --loss-param: tau not a parameter of loss"),
    (["--personas", "a,b"], "dpomath train: --personas: only with --data persona"),
    (["--model", "/nonexistent/model-folder"], "dpomath train: --model: "),
])
def test_cli_bad_arguments_one_line_exit_2(tiny, capsys, argv, start):
    """Main's one CLI failure format: ``dpomath train: --flag: message``, one line, exit 2."""
    from test_cli_failures import FORMAT  # tests/ is on sys.path under pytest

    from dpomath.verify.cli import main

    model, data = tiny
    base = {"--model": str(model), "--data": str(data), "--mode": "full", "--loss": "dpo", "--beta": "0.1",
            "--lr": "1e-3", "--steps": "1", "--batch-size": "4"}
    for k, v in zip(argv[::2], argv[1::2]):
        base[k] = v
    args = ["train", "--device", "cpu", "--json"] + [x for kv in base.items() for x in kv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(start) and FORMAT.match(err[0]), err


def test_cli_a_corrupted_checkpoint_on_resume_is_one_line(tiny, tmp_path, capsys):
    from dpomath.verify.cli import main

    model, data = tiny
    args = ["train", "--model", str(model), "--data", str(data), "--mode", "last-layer", "--loss", "dpo",
            "--beta", "0.1", "--lr", "1e-3", "--steps", "1", "--batch-size", "4", "--device", "cpu",
            "--out", str(tmp_path / "run"), "--greedy-prompts", "0", "--json"]
    assert main(args) == 0
    for p in CK.list_checkpoints(tmp_path / "run" / "checkpoints"):
        (p / "manifest.json").write_text("{")
    capsys.readouterr()
    assert main(args[:-1] + ["--resume", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("dpomath train: --resume: no valid checkpoint"), err


@pytest.mark.parametrize("mode", ["full", "last-layer"])
def test_two_processes_under_torchrun_equal_one(tiny, tmp_path, mode):
    """The distributed path (accelerate over gloo on the CPU: two processes, each half of every
    micro-batch) logs the rows of the one-process run, to float tolerance."""
    import shutil

    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    if not Path(torchrun).exists():
        pytest.skip("torchrun not found")
    model, data = tiny
    args = ["train", "--model", str(model), "--data", str(data), "--mode", mode, "--loss", "dpo",
            "--beta", "0.1", "--lr", "1e-2", "--steps", "3", "--batch-size", "4", "--device", "cpu",
            "--json", "--greedy-prompts", "0", "--log-every", "3"]
    env = dict(os.environ, DPOMATH_THREADS="1", PYTHONPATH=str(ROOT))
    one = subprocess.run([sys.executable, "-m", "dpomath", *args], env=env, capture_output=True, text=True,
                         timeout=600)
    two = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "dpomath", *args], env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-3000:]
    a, b = json.loads(one.stdout), json.loads(two.stdout)  # one document: only the first process reports
    assert a["config"]["processes"] == 1 and b["config"]["processes"] == 2
    for x, y in zip(a["history"], b["history"], strict=True):
        for k in ("loss", "rewards/margins", "logps/chosen", "logps/rejected"):
            assert x[k] == pytest.approx(y[k], rel=1e-5, abs=1e-6), (k, x, y)
    assert b["history"][-1]["rewards/margins"] != 0


def test_bf16_mixed_precision_keeps_float32_trained_weights(tiny):
    """bf16-mixed (the GPU default, run here on the CPU's bf16 autocast): frozen weights in bf16,
    trained ones in float32, and the rows close to the float32 run (bf16 tolerance)."""
    model, data = tiny
    kw = dict(steps=3, batch_size=4, lr=1e-2, device="cpu", greedy_prompts=1, log_every=3)
    lora = train(str(model), str(data), TrainConfig(mode="lora", precision="bf16-mixed", **kw))
    dtypes = {p.dtype for p in lora.model.parameters() if p.requires_grad}
    frozen = {p.dtype for p in lora.model.parameters() if not p.requires_grad}
    assert dtypes == {torch.float32} and frozen == {torch.bfloat16}
    ref = train(str(model), str(data), TrainConfig(mode="lora", precision="float32", **kw))
    for a, b in zip(lora.history, ref.history):
        assert a["loss"] == pytest.approx(b["loss"], abs=2e-2)
        assert a["logps/chosen"] == pytest.approx(b["logps/chosen"], rel=2e-2)
    full = train(str(model), str(data), TrainConfig(mode="full", precision="bf16-mixed", **kw))
    assert {p.dtype for p in full.model.parameters()} == {torch.float32}
    assert full.history[-1]["loss"] != full.history[0]["loss"]


# ---------------------------------------------------------------- the GPU check, where no GPU is

DEVICE_CHECK = ROOT / "benchmarks" / "device_check.sh"


def _device_check(args, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, DPOMATH_THREADS="1")
    return subprocess.run(["bash", str(DEVICE_CHECK), *args, "--out", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_device_check_refuses_to_run_without_a_gpu(tmp_path, monkeypatch, capsys):
    """Without --dry-run and without a GPU the check stops at once with exit code 3 (in-process,
    torch seeing no GPU), writing nothing."""
    import runpy

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["device_check.py", "--out", str(tmp_path)])
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(ROOT / "benchmarks" / "device_check.py"), run_name="__main__")
    assert e.value.code == 3 and "torch sees no GPU" in capsys.readouterr().out
    assert not (tmp_path / "device_check.json").exists()


def test_device_check_dry_run(tmp_path):
    """The GPU check's shell script end to end on the CPU (its --dry-run: the tiny stand-in of
    the 8B model, LoRA and full), without the SmolLM2 section (minutes on the CPU)."""
    assert subprocess.run(["bash", "-n", str(DEVICE_CHECK)]).returncode == 0
    r = _device_check(["--dry-run", "--skip", "smollm2"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / "device_check.json").read_text())
    assert doc["dry_run"] is True and doc["device"] == "cpu (dry run)" and doc["matmul_flops"] > 0
    assert doc["smollm2"]["status"] == "SKIPPED"
    assert {m: v["status"] for m, v in doc["llama"].items()} == {"lora": "OK", "full": "OK"}
    for v in doc["llama"].values():
        assert len(v["loss"]) == 2 and all(math.isfinite(x) for x in v["loss"])
        # row 1 is at the reference: log 2, up to float32 sums of 2 x 128 token log-probabilities
        # (policy and reference passes batched differently)
        assert v["loss"][0] == pytest.approx(math.log(2), abs=1e-3)
        assert v["tokens_per_s"] > 0 and 0 < v["fraction_of_matmul_rate"]
