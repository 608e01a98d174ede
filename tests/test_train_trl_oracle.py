"""TRL 1.16's DPOTrainer as the oracle of ``dpomath train``: from the same weights (a tiny random
Llama with tied embeddings, saved as safetensors), the same pairs, batches and
hyperparameters, five updates of dpomath and of TRL log the same rows.

Criterion (the issue's, float32): on every row, |dpomath − TRL| ≤ 1e-4 · |TRL| for ``loss``,
``logps/chosen`` and ``logps/rejected``; for ``rewards/chosen`` and ``rewards/rejected``,
which are β times the difference of two float32 log-probabilities of size |log π| (and exactly
0 on row 1 in TRL, where both terms come from one forward pass), the relative error is taken
against the size of the terms, ≤ 1e-4 · max(|reward|, β |log π|). Negative control: a run at
a learning rate 1.5 times TRL's fails the same criterion. TRL's activation checkpointing is off
here (as in tests/test_trl_oracle.py): recomputation changes memory, not the values, and TRL's
default turns it on under transformers' deprecated name (a FutureWarning on every run).
"""
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("trl", reason="trl is not installed: pip install 'dpomath[trl]' (trl==1.16.0)")

import train_helpers as H  # noqa: E402
from dpomath.train.engine import TrainConfig, train  # noqa: E402
from dpomath.train.trl import run_trl  # noqa: E402

RTOL = 1e-4
NAMES = ("loss", "rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected")


def worst_relative(ours, theirs, beta):
    """Largest relative difference per metric over the rows (the module's criterion)."""
    assert len(ours) == len(theirs) == 5
    worst = dict.fromkeys(NAMES, 0.0)
    for a, b in zip(ours, theirs):
        assert a["step"] == b["step"]
        for k in NAMES:
            scale = abs(b[k])
            if k.startswith("rewards/"):
                scale = max(scale, beta * abs(b["logps/" + k.split("/")[1]]))
            worst[k] = max(worst[k], abs(a[k] - b[k]) / max(scale, 1e-30))
    return worst


def plain_relative(ours, theirs):
    """Largest |dpomath − TRL| / |TRL| per metric (the issue's rule as written; printed beside
    the module's criterion as a revision record, not asserted: TRL's rewards are exactly 0 on
    row 1, where no relative rule on the reward alone can hold)."""
    worst = dict.fromkeys(NAMES, 0.0)
    for a, b in zip(ours, theirs):
        for k in NAMES:
            d = abs(a[k] - b[k])
            worst[k] = max(worst[k], d / abs(b[k]) if b[k] != 0 else (0.0 if d == 0 else math.inf))
    return worst


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle")
    d = H.model_dir(root / "model", seed=0, tie=True)
    data = {}
    for form in ("standard", "conversational"):
        rows = H.pairs(16, seed=1, conversational=form == "conversational")
        data[form] = (rows, H.write_jsonl(root / f"{form}.jsonl", rows))
    return d, data


CASES = [("full", "standard", 1), ("full", "conversational", 1), ("lora", "standard", 2),
         ("lora", "conversational", 1), ("last-layer", "standard", 1)]


@pytest.mark.parametrize("mode,form,accum", CASES)
def test_five_steps_agree_with_trl(setup, mode, form, accum):
    d, data = setup
    rows, path = data[form]
    kw = dict(mode=mode, steps=5, batch_size=4, grad_accum=accum, beta=0.1, seed=3,
              lr=1e-3 if mode == "full" else 1e-2)
    ours = train(str(d), str(path), TrainConfig(device="cpu", log_every=5, greedy_prompts=0, **kw))
    theirs = run_trl(str(d), H.tokenizer(), rows, activation_checkpointing=False, **kw)["history"]
    worst = worst_relative(ours.history, theirs, kw["beta"])
    print(f"\n{mode}/{form}: worst relative differences " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    plain = plain_relative(ours.history, theirs)
    print(f"{mode}/{form}: the issue's rule as written (|diff| / |TRL|): "
          + ", ".join(f"{k} {v:.1e}" for k, v in plain.items())
          + (" -> PASS" if all(v <= RTOL for v in plain.values()) else " -> FAIL"))
    print(f"{mode}/{form}: rows 2-5 under that rule: " + ", ".join(
        f"{k} {v:.1e}" for k, v in plain_relative(ours.history[1:], theirs[1:]).items()))
    assert all(v <= RTOL for v in worst.values()), worst
    # row 1 is the reference: DPO's loss is log 2 there
    assert math.isclose(ours.history[0]["loss"], math.log(2), rel_tol=1e-6)
    # the runs moved: the comparison is not between two unchanged models
    assert abs(theirs[-1]["rewards/margins"]) > 1e-3


def test_negative_control_a_different_learning_rate_fails(setup):
    d, data = setup
    rows, path = data["standard"]
    kw = dict(mode="full", steps=5, batch_size=4, beta=0.1, seed=3, lr=1e-3)
    ours = train(str(d), str(path), TrainConfig(device="cpu", log_every=5, greedy_prompts=0,
                                                **dict(kw, lr=1.5e-3)))
    theirs = run_trl(str(d), H.tokenizer(), rows, activation_checkpointing=False, **kw)["history"]
    worst = worst_relative(ours.history, theirs, kw["beta"])
    assert max(worst.values()) > RTOL, worst
