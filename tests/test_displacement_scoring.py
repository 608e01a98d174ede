"""CHES of a preference dataset through a model (dpomath.displacement.scoring) and the
``dpomath ches`` command, on tiny random models the tests build (nothing downloaded); Theorem 6's
α coefficients without one-hot rows; one real-model test (marked ``model``)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import train_helpers as H  # noqa: E402

from dpomath.displacement.ches import ches_scores, normalized_edit_distance  # noqa: E402
from dpomath.displacement.scoring import ches_of_data, score_token_pairs  # noqa: E402
from dpomath.displacement.sequences import alpha_coefficients  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    H.model_dir(d, seed=1, tie=True, chat=False)
    return d


@pytest.fixture(scope="module")
def prefs(tmp_path_factory):
    p = tmp_path_factory.mktemp("prefs") / "prefs.jsonl"
    return H.write_jsonl(p, H.pairs(6, seed=3), extra_lines=["{broken", json.dumps({"prompt": "w1 ", "chosen": "w2"})])


def _left_padded_hidden(model, seqs, pad):
    """Final hidden states of sequences run as ONE left-padded batch through the full causal LM
    (output_hidden_states, attention mask): a different path from the scorer's unpadded
    backbone calls."""
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, T - len(s):] = torch.tensor(s)
        mask[i, T - len(s):] = 1
    pos = (mask.cumsum(1) - 1).clamp_min(0)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, output_hidden_states=True)
    return out.hidden_states[-1].double().numpy(), T


def test_ches_of_data_equals_ches_py_on_a_left_padded_batch_of_the_full_model(tiny, prefs):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dpomath.train.data import read_preference_jsonl, tokenize

    tok = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny).float().eval()
    s = ches_of_data(prefs, model, tokenizer=tok)
    ex = tokenize(read_preference_jsonl(prefs), tok).train
    assert len(s) == len(ex) == 6
    chosen = [list(e.prompt_ids + e.chosen_ids) for e in ex]
    rejected = [list(e.prompt_ids + e.rejected_ids) for e in ex]
    Hc, Tc = _left_padded_hidden(model, chosen, tok.pad_token_id)
    Hr, Tr = _left_padded_hidden(model, rejected, tok.pad_token_id)
    ic = np.array([Tc - len(c) + len(e.prompt_ids) - 1 for c, e in zip(chosen, ex)])
    ir = np.array([Tr - len(r) + len(e.prompt_ids) - 1 for r, e in zip(rejected, ex)])
    ref = ches_scores(Hc, Hr, ic, ir)
    np.testing.assert_allclose(s.ches, ref.ches, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.ln_ches, ref.length_normalized, rtol=1e-5, atol=1e-6)
    assert s.chosen_lengths.tolist() == [len(e.chosen_ids) for e in ex]
    assert s.edit_distance.tolist() == [normalized_edit_distance(e.chosen_ids, e.rejected_ids) for e in ex]
    # bad records: reported with file and line, the rest kept
    assert sorted(b.line for b in s.bad) == [7, 8]
    assert all(src.startswith(str(prefs)) for src in s.sources)


def test_score_token_pairs_last_hidden_inner_and_errors():
    rng = np.random.default_rng(0)
    table = {}

    def forward(ids):
        return table.setdefault(tuple(ids), rng.normal(size=(len(ids), 3)))
    s = score_token_pairs(forward, [([1, 2], [3, 4], [5])])
    assert s.last_hidden_inner[0] == pytest.approx(table[(1, 2, 3, 4)][-1] @ table[(1, 2, 5)][-1])
    from dpomath import BadType, BadValue
    with pytest.raises(BadValue, match="pairs"):
        score_token_pairs(forward, [])
    with pytest.raises(BadType, match="forward"):
        score_token_pairs("nope", [([1], [2], [3])])


def test_ches_of_data_argument_errors(tiny):
    from transformers import AutoModelForCausalLM

    from dpomath import BadType, BadValue
    model = AutoModelForCausalLM.from_pretrained(tiny)
    with pytest.raises(BadValue, match="tokenizer"):
        ches_of_data([{"prompt": "w1 ", "chosen": "w2", "rejected": "w3"}], model)
    with pytest.raises(BadValue, match=r"data\[0\]"):
        ches_of_data([{"prompt": "w1 ", "chosen": "w2"}], model, tokenizer=H.tokenizer(False))
    with pytest.raises(BadType, match="data"):
        ches_of_data(42, model, tokenizer=H.tokenizer(False))


def test_alpha_coefficients_equal_the_one_hot_formula():
    rng = np.random.default_rng(1)
    V = 7
    Pa, Pb = rng.dirichlet(np.ones(V), size=4), rng.dirichlet(np.ones(V), size=3)
    a, b = rng.integers(0, V, 4), rng.integers(0, V, 3)
    E = np.eye(V)
    want = (E[a] - Pa) @ (E[b] - Pb).T
    np.testing.assert_allclose(alpha_coefficients(Pa, Pb, a, b), want, atol=1e-15)
    # a deliberately wrong variant (no cross term) differs
    assert not np.allclose(want, (E[a] @ E[b].T) - Pb[:, a].T - Pa[:, b])


# ---------------------------------------------------------------- the command

def _cli(argv, capsys):
    from dpomath.verify.cli import main

    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_writes_one_json_line_per_pair_and_reports_bad_records(tiny, prefs, tmp_path, capsys):
    rc, out, err = _cli(["ches", "--model", str(tiny), "--data", str(prefs)], capsys)
    assert rc == 0
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["index"] for r in rows] == list(range(6))
    assert {"ches", "ln_ches", "chosen_length", "rejected_length", "edit_distance"} <= set(rows[0])
    assert f"{prefs}:7: invalid JSON" in err and f"{prefs}:8:" in err
    target = tmp_path / "scores.jsonl"
    rc, out, err = _cli(["ches", "--model", str(tiny), "--data", str(prefs), "--out", str(target)], capsys)
    assert rc == 0 and out == "" and "wrote 6 scores" in err
    assert [json.loads(x) for x in target.read_text().splitlines()] == rows
    rc, out, err = _cli(["ches", "--model", str(tiny), "--data", str(prefs), "--json"], capsys)
    doc = json.loads(out)
    assert rc == 0 and doc["scores"] == rows and len(doc["bad_records"]) == 2


@pytest.mark.parametrize("argv,match", [
    (["ches"], "--data"),
    (["ches", "--data", "/no/such/file.jsonl"], "no such file"),
    (["ches", "--data", "x.jsonl", "--max-length", "1"], "--max-length"),
    (["ches", "--data", "x.jsonl", "--device", "tpu"], "--device"),
])
def test_cli_bad_arguments_one_line_exit_2(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.jsonl").write_text("")
    rc, out, err = _cli(argv, capsys)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and match in err


def test_cli_data_without_a_pair_names_its_bad_records(capsys, tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    rc, out, err = _cli(["ches", "--data", str(tmp_path / "e.jsonl")], capsys)
    assert rc == 2 and out == "" and err.strip() == f"dpomath ches: --data: no preference pair in {tmp_path / 'e.jsonl'} (it is empty)"
    (tmp_path / "b.jsonl").write_text('notjson\n{"prompt": "a"}\n')
    rc, out, err = _cli(["ches", "--data", str(tmp_path / "b.jsonl")], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "2 bad record(s)" in err and "b.jsonl:1: invalid JSON" in err and "b.jsonl:2: missing field(s) chosen, rejected" in err


def test_cli_unavailable_model_is_a_model_error(capsys, tmp_path):
    (tmp_path / "p.jsonl").write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n')
    rc, out, err = _cli(["ches", "--data", str(tmp_path / "p.jsonl"), "--model", str(tmp_path / "nothing")], capsys)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("dpomath ches: --model: ") and "neither a local path nor in the local hub cache" in err


def test_cli_out_directory_is_refused(tiny, prefs, tmp_path, capsys):
    rc, out, err = _cli(["ches", "--model", str(tiny), "--data", str(prefs), "--out", str(tmp_path)], capsys)
    assert rc == 2 and "--out" in err and len(err.strip().splitlines()) == 1


def test_top_level_name():
    import dpomath

    assert dpomath.ches_of_data is ches_of_data


@pytest.mark.model
def test_real_model_scores_three_pairs(tmp_path, capsys):
    pytest.importorskip("gguf")
    from dpomath.train.models import ModelUnavailable, resolve_model
    try:
        resolve_model(None)
    except ModelUnavailable as e:
        pytest.skip(str(e))
    p = H.write_jsonl(tmp_path / "p.jsonl", [
        {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"},
        {"prompt": "Say hello.", "chosen": "Hello there!", "rejected": "Hello there."},
        {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "I would rather not say anything."}])
    rc, out, err = _cli(["ches", "--data", str(p)], capsys)
    assert rc == 0, err
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == 3 and all(np.isfinite(r["ches"]) for r in rows)
    # near-identical responses are more similar than unrelated ones
    assert rows[1]["ln_ches"] > rows[2]["ln_ches"]
