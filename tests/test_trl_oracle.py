"""Hugging Face TRL as an outside oracle for dpomath's loss family (pinned: trl==1.16.0, the
``trl`` extra).

TRL's loss is computed by its own trainer code — ``DPOTrainer.compute_loss`` on a tiny randomly
initialised ``LlamaForCausalLM`` policy and a perturbed copy as the reference — for every loss type
both packages implement, and compared with ``dpomath.losses.preference_loss`` (float64) on the
log-probabilities TRL computed (read from its own forward passes). Criterion, fixed before the
run: |TRL − dpomath| ≤ 1e-6 · max(1, |loss|) for the float32 batch loss. Then the conformance kit
is run on TRL's loss code, fed the kit's log-probabilities through the same ``compute_loss``.
"""
import copy
import random
from types import SimpleNamespace

import numpy as np
import pytest

from dpomath import losses as L
from dpomath.testing import check_preference_loss

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl", reason="trl is not installed: pip install 'dpomath[trl]' (trl==1.16.0)")
transformers = pytest.importorskip("transformers")

#: TRL loss_type → TRL configuration used here (label_smoothing for robust and exo_pair)
CONFIG = {"robust": {"label_smoothing": 0.1}, "exo_pair": {"label_smoothing": 1e-3},
          "discopop": {"discopop_tau": 0.05}}
BETAS = (0.1, 0.5)
#: TRL's configs (DPOConfig, CPOConfig, ORPOConfig) turn gradient checkpointing on by default
#: under its deprecated name, which makes transformers warn (FutureWarning) on every config; the
#: new name, set off here: a tiny model needs no recomputation, and checkpointing changes memory,
#: not the values.
NO_CHECKPOINTING = {"activation_checkpointing": False}
CRITERION = 1e-6  # relative to max(1, |loss|), float32, stated before the run


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>"] + [f"w{i}" for i in range(61)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                   unk_token="<unk>")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Tiny Llama policy, perturbed reference, tokenizer, a preference data set, one batch."""
    import datasets
    from transformers import LlamaConfig, LlamaForCausalLM

    datasets.disable_progress_bars()
    torch.manual_seed(0)
    tok = _tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok.get_vocab()), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=64)
    policy = LlamaForCausalLM(cfg).float()
    reference = copy.deepcopy(policy)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.5 * torch.randn_like(p))
    rng = random.Random(0)

    def text(k):
        return " ".join(f"w{rng.randrange(61)}" for _ in range(k))

    rows = [{"prompt": text(rng.randint(2, 5)) + " ", "chosen": text(rng.randint(1, 9)),
             "rejected": text(rng.randint(1, 9))} for _ in range(8)]
    return SimpleNamespace(tok=tok, policy=policy, reference=reference,
                           data=datasets.Dataset.from_list(rows),
                           out=str(tmp_path_factory.mktemp("trl")))


def _trainer(setup, loss_type, beta):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(output_dir=setup.out, report_to=[], use_cpu=True, beta=beta,
                     loss_type=[loss_type], per_device_train_batch_size=8, logging_strategy="no",
                     save_strategy="no", bf16=False, fp16=False, seed=0, **NO_CHECKPOINTING,
                     **CONFIG.get(loss_type, {}))
    return DPOTrainer(model=setup.policy, ref_model=setup.reference, args=args,
                      train_dataset=setup.data, processing_class=setup.tok)


def _trl_loss_and_logps(trainer, setup):
    """TRL's batch loss, and the per-sequence log-probabilities its forward passes produced."""
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(trainer.train_dataset))])
    seen = {}

    def grab(name):
        def hook(module, inputs, output):
            seen[name] = output.log_probs.detach()
        return hook

    handles = [setup.policy.register_forward_hook(grab("policy")),
               setup.reference.register_forward_hook(grab("reference"))]
    try:
        trainer.model.eval()
        loss = trainer.compute_loss(trainer.model, batch)
    finally:
        for h in handles:
            h.remove()
    seq_len = batch["completion_mask"].shape[1] - 1
    logps = {k: v[:, -seq_len:].sum(dim=1).double() for k, v in seen.items()}  # as TRL sums
    pc, pr = logps["policy"].chunk(2)
    rc, rr = logps["reference"].chunk(2)
    n_c, n_r = batch["completion_mask"].double().sum(dim=1).clamp(min=1.0).chunk(2)
    return loss, (pc, pr, rc, rr), (n_c, n_r), batch


def _independent_logps(model, batch):
    """Sequence log-probabilities by a plain forward and log-softmax (no TRL code)."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    tok = batch["input_ids"][:, 1:]
    per_token = logp.gather(-1, tok.unsqueeze(-1)).squeeze(-1)
    return (per_token * batch["completion_mask"][:, 1:]).sum(dim=1)


def _dpomath_params(loss_type, trainer, lengths):
    kind, mapping = L.TRL_LOSS_TYPES[loss_type]
    p = {}
    for name, trl_name in mapping.items():
        if name == "chosen_lengths":
            p[name] = lengths[0].numpy()
        elif name == "rejected_lengths":
            p[name] = lengths[1].numpy()
        elif trl_name == "discopop_tau":
            p[name] = trainer.args.discopop_tau
        else:
            p[name] = getattr(trainer, trl_name)
    return kind, p


@pytest.mark.parametrize("loss_type", list(L.TRL_LOSS_TYPES))
def test_dpomath_equals_trl(setup, loss_type):
    worst = worst_rel = 0.0
    for beta in BETAS:
        trainer = _trainer(setup, loss_type, beta)
        loss, (pc, pr, rc, rr), lengths, batch = _trl_loss_and_logps(trainer, setup)
        assert loss.dtype == torch.float32
        # TRL's log-probabilities are the sequence log-probabilities of a plain forward pass
        ind = _independent_logps(setup.policy, batch)
        assert torch.allclose(ind, torch.cat([pc, pr]), atol=1e-4), (ind, pc, pr)
        # the log-ratios are not trivial (a perturbed reference), so the comparison means something
        h = torch.cat([pc - rc, pr - rr]).abs()
        assert float(h.max()) > 1.0 and float(h.min()) > 1e-3, h
        kind, p = _dpomath_params(loss_type, trainer, lengths)
        ours = float(np.mean(L.preference_loss(kind, (pc - rc).numpy(), (pr - rr).numpy(), beta, **p)))
        theirs = float(loss.detach())
        diff = abs(theirs - ours)
        worst = max(worst, diff)
        worst_rel = max(worst_rel, diff / max(1.0, abs(ours)))
        assert diff <= CRITERION * max(1.0, abs(ours)), (loss_type, beta, theirs, ours, diff)
    print(f"\nTRL {loss_type:<13} = dpomath {kind:<13} over beta in {BETAS}: max |diff| {worst:.2e}, "
          f"max |diff|/max(1, |L|) {worst_rel:.2e} (|h| up to {float(h.max()):.1f})")


# ---------------------------------------------------------------- the kit on TRL's loss code

class _GivenLogps(torch.nn.Module):
    """Stands in for the policy in TRL's ``compute_loss``: returns the given sequence
    log-probabilities as a fused-LM-head output (the first completion position carries the sum,
    so TRL's sum over positions gives it back, with gradient)."""

    def __init__(self):
        super().__init__()
        self.logps = None

    def forward(self, input_ids, labels=None, **kwargs):
        rows, width = input_ids.shape[0], input_ids.shape[1] - 1
        per_token = torch.zeros(rows, width, dtype=self.logps.dtype)
        per_token = torch.cat([self.logps[:, None], per_token[:, 1:]], dim=1)
        zeros = torch.zeros(rows, width, dtype=self.logps.dtype)
        return SimpleNamespace(log_probs=per_token, entropy=zeros, mean_logits=zeros,
                               is_top1=torch.zeros(rows, width, dtype=torch.bool), aux_loss=None)


def trl_loss_function(trainer):
    """TRL's loss as a function of the four log-probability vectors (the classic signature)."""
    stub = _GivenLogps()
    trainer.precompute_ref_logps = True  # read the reference log-probabilities from the inputs

    def trl_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                 reference_rejected_logps, beta, chosen_lengths=None, rejected_lengths=None):
        assert beta == trainer.beta
        n = policy_chosen_logps.shape[0]
        nc = torch.ones(n, dtype=torch.long) if chosen_lengths is None else chosen_lengths.long()
        nr = torch.ones(n, dtype=torch.long) if rejected_lengths is None else rejected_lengths.long()
        width = int(torch.cat([nc, nr]).max()) + 1
        pos = torch.arange(width)
        mask = torch.cat([(pos >= 1) & (pos <= nc[:, None]), (pos >= 1) & (pos <= nr[:, None])]).long()
        inputs = {"input_ids": torch.ones(2 * n, width, dtype=torch.long),
                  "attention_mask": torch.ones(2 * n, width, dtype=torch.long),
                  "completion_mask": mask,
                  "ref_chosen_logps": reference_chosen_logps,
                  "ref_rejected_logps": reference_rejected_logps}
        stub.logps = torch.cat([policy_chosen_logps, policy_rejected_logps])
        return trainer.compute_loss(stub, inputs)

    return trl_loss


#: the kit's parameters for each TRL loss type (dpomath names)
KIT_PARAMS = {"robust": {"label_smoothing": 0.1}, "exo_pair": {"label_smoothing": 1e-3},
              "discopop": {"tau": 0.05}, "bco_pair": {"delta": 0.0}}


@pytest.mark.parametrize("loss_type", [t for t in L.TRL_LOSS_TYPES if t != "discopop"])
def test_trl_passes_the_conformance_kit(setup, loss_type):
    trainer = _trainer(setup, loss_type, 0.1)
    kind = L.TRL_LOSS_TYPES[loss_type][0]
    report = check_preference_loss(trl_loss_function(trainer), kind, beta=0.1, dtype="float32",
                                   examples=8, **KIT_PARAMS.get(loss_type, {}))
    assert report.reduction == "batch mean (a scalar)"


def test_trl_discopop_overflows_at_large_negative_margins(setup):
    """TRL forms e^{−ρ} directly (then multiplies by σ(ρ/τ) ≈ 0): NaN once e^{−ρ} overflows
    (ρ < −88.7 in float32). The kit says so; below that it conforms."""
    trainer = _trainer(setup, "discopop", 0.1)
    fn = trl_loss_function(trainer)
    with pytest.raises(AssertionError, match="not finite at extreme margins"):
        check_preference_loss(fn, "discopop", beta=0.1, dtype="float32", examples=8, tau=0.05)
    check_preference_loss(fn, "discopop", beta=0.1, dtype="float32", examples=8, tau=0.05,
                          max_margin=80.0)


def test_trl_sigmoid_ignores_label_smoothing(setup):
    """TRL ≥ 0.29 reads `label_smoothing` only in robust, exo_pair and aot: its `sigmoid` with
    label_smoothing=0.1 is plain DPO, not cDPO (TRL ≤ 0.28's meaning). The kit names it."""
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(output_dir=setup.out, report_to=[], use_cpu=True, beta=0.1,
                     loss_type=["sigmoid"], label_smoothing=0.1, logging_strategy="no",
                     save_strategy="no", bf16=False, fp16=False, **NO_CHECKPOINTING)
    trainer = DPOTrainer(model=setup.policy, ref_model=setup.reference, args=args,
                         train_dataset=setup.data, processing_class=setup.tok)
    with pytest.raises(AssertionError, match="equals dpomath's `sigmoid` loss"):
        check_preference_loss(trl_loss_function(trainer), "cdpo", beta=0.1, dtype="float32",
                              examples=8, label_smoothing=0.1)


def test_trl_exo_pair_keeps_epsilon_in_float32(setup):
    """TRL builds ε as a float32 tensor, so log ε and log(1 − ε) carry float32 rounding even
    when the log-probabilities are float64 (a 5e-8 error at ρ = 0 for ε = 1e-3). The kit sees
    it at float64 precision; at float32 (TRL's own precision) TRL conforms."""
    fn = trl_loss_function(_trainer(setup, "exo_pair", 0.1))
    with pytest.raises(AssertionError, match="reference-point check failed"):
        check_preference_loss(fn, "exo-pair", beta=0.1, dtype="float64", examples=4,
                              label_smoothing=1e-3)
    check_preference_loss(fn, "exo-pair", beta=0.1, dtype="float64", examples=4,
                          label_smoothing=1e-3, rtol=1e-7)


# ---------------------------------------------------------------- TRL's CPO/SimPO and ORPO, as they are

def _experimental_trainer(setup, name, **config):
    """TRL's CPOTrainer or ORPOTrainer (trl.experimental) on the tiny policy."""
    import importlib

    mod = importlib.import_module(f"trl.experimental.{name.lower()}")
    args = getattr(mod, f"{name}Config")(output_dir=setup.out, report_to=[], use_cpu=True,
                                         logging_strategy="no", save_strategy="no", bf16=False,
                                         fp16=False, **NO_CHECKPOINTING, **config)
    return getattr(mod, f"{name}Trainer")(model=setup.policy, args=args, train_dataset=setup.data,
                                          processing_class=setup.tok)


def test_trl_simpo_and_cpo_losses_need_no_adapter(setup):
    """``CPOTrainer.cpo_loss`` is a bound method of the policy's two log-probabilities, β, γ and
    ε read from the trainer: the kit checks it as it is. TRL's ``simpo_gamma`` is the absolute γ
    (read as the SimPO code's γ/β it fails, and the kit says which it is); the SFT term of CPO
    (``cpo_alpha``) is added outside ``cpo_loss``."""
    simpo = _experimental_trainer(setup, "CPO", loss_type="simpo", beta=0.1, simpo_gamma=0.5)
    report = check_preference_loss(simpo.cpo_loss, "simpo", beta=0.1, gamma=0.5, examples=8,
                                   dtype="float32")
    assert "the policy's log-probabilities only" in report.convention
    assert "fixed inside the function; checked at β = 0.1" in report.convention
    report = check_preference_loss(simpo.cpo_loss, "simpo", beta=0.1, gamma_beta_ratio=0.5,
                                   examples=8, raise_on_failure=False)
    assert "with gamma = 0.5 (the absolute γ of TRL's simpo_gamma" in dict(report.failures)["value"]
    cpo = _experimental_trainer(setup, "CPO", loss_type="sigmoid", beta=0.1, label_smoothing=0.1)
    check_preference_loss(cpo.cpo_loss, "cpo", beta=0.1, cpo_alpha=0.0, label_smoothing=0.1,
                          examples=8)
    report = check_preference_loss(cpo.cpo_loss, "cpo", beta=0.1, label_smoothing=0.1, examples=8,
                                   raise_on_failure=False)
    assert "with cpo_alpha = 0 instead of 1" in dict(report.failures)["value"]


def test_trl_orpo_odds_ratio_loss_has_the_opposite_sign(setup):
    """``ORPOTrainer.odds_ratio_loss`` returns β·log σ(log odds) (the trainer subtracts it from
    the NLL), a 5-tuple: element 0 is minus ORPO's odds-ratio term, and the kit says so."""
    orpo = _experimental_trainer(setup, "ORPO", beta=0.1)
    report = check_preference_loss(orpo.odds_ratio_loss, "orpo", beta=0.1, dtype="float32",
                                   examples=8, raise_on_failure=False)
    assert "a tuple of 5: element 0 is checked" in report.convention
    assert "it equals minus the loss (wrong sign)" in dict(report.failures)["value"]
