"""The conformance kit on other people's DPO code, as it is — no adapter: torchtune's loss
modules, OpenRLHF's loss modules (its ``models/loss.py`` loaded by path: the package import pulls
deepspeed), liger-kernel's per-pair loss functions. The correct losses pass; the two latent bugs
are found and named: liger's ``discopop`` (e^{−ρ}·σ(ρ/τ) = inf·0 = NaN) and OpenRLHF's
``LogExpLoss`` (log(1 + e^x) = inf) overflow.

The peers are three ``--no-deps`` installs that ``make test`` attempts (torchtune 0.6.1,
liger-kernel 0.8.5, openrlhf 0.11.2); every test skips with the reason when its peer is missing.
torchtune's ``rlhf/loss/dpo.py`` is loaded by path as well: the package import needs torchao
0.11.0, which peft >= 0.19 refuses to run beside (and the loss file needs torch only). The versions are pinned there; docs/kit.md records
what the kit reports for each.
"""
import ast
import functools
import importlib.metadata
import importlib.util
import re
import sys
import types
from pathlib import Path

import pytest

from dpomath.testing import check_preference_loss

torch = pytest.importorskip("torch")

EX = 15  # generated batches per property: enough to find the overflow, quick on 2 cores


def _skip_reason(dist: str, how: str) -> str:
    return f"{dist} is not installed ({how}; `make test` installs it when it can)"


@pytest.fixture(scope="module")
def torchtune_loss():
    """torchtune's ``rlhf/loss/dpo.py`` (``DPOLoss``, ``RSOLoss``) executed from the installed
    distribution's file, without importing the ``torchtune`` package (whose ``__init__`` needs
    torchao)."""
    try:
        dist = importlib.metadata.distribution("torchtune")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(_skip_reason("torchtune", "pip install --no-deps torchtune==0.6.1"))
    path = Path(dist.locate_file("torchtune/rlhf/loss/dpo.py"))
    if not path.is_file():
        pytest.skip(f"torchtune {dist.version} has no rlhf/loss/dpo.py")
    spec = importlib.util.spec_from_file_location("_peer_torchtune_dpo", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def liger():
    pytest.importorskip("liger_kernel", reason=_skip_reason(
        "liger-kernel", "pip install --no-deps liger-kernel==0.8.5"))
    from liger_kernel.chunked_loss import cpo_loss, dpo_loss, orpo_loss, simpo_loss
    return types.SimpleNamespace(dpo=dpo_loss.LigerFusedLinearDPOFunction.preference_loss_fn,
                                 simpo=simpo_loss.LigerFusedLinearSimPOFunction.preference_loss_fn,
                                 cpo=cpo_loss.LigerFusedLinearCPOFunction.preference_loss_fn,
                                 orpo=orpo_loss.LigerFusedLinearORPOFunction.preference_loss_fn)


def load_openrlhf_loss():
    """``openrlhf/models/loss.py`` as a module without running ``openrlhf/models/__init__.py``
    (which imports peft, deepspeed and flash_attn): the file is found through the installed
    distribution and executed in a private parent package whose ``utils`` holds the one function
    ``loss.py`` imports from there (``masked_mean``, compiled from the installed ``utils.py``)."""
    name = "_peer_openrlhf_models"
    if name + ".loss" in sys.modules:
        return sys.modules[name + ".loss"]
    models = Path(importlib.metadata.distribution("openrlhf").locate_file("openrlhf/models"))
    pkg = types.ModuleType(name)
    pkg.__path__ = []
    utils = types.ModuleType(name + ".utils")
    tree = ast.parse((models / "utils.py").read_text())
    keep = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "masked_mean"]
    exec("import torch\nfrom typing import Optional", utils.__dict__)
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(models / "utils.py"), "exec"), utils.__dict__)
    sys.modules[name], sys.modules[name + ".utils"] = pkg, utils
    spec = importlib.util.spec_from_file_location(name + ".loss", models / "loss.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def openrlhf():
    try:
        importlib.metadata.distribution("openrlhf")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(_skip_reason("openrlhf", "pip install --no-deps openrlhf==0.11.2"))
    return load_openrlhf_loss()


def _passes(*args, **kwargs):
    report = check_preference_loss(*args, examples=EX, **kwargs)
    assert report.passed
    return report


def _fails(*args, examples=EX, **kwargs):
    report = check_preference_loss(*args, examples=examples, raise_on_failure=False, **kwargs)
    assert not report.passed, str(report)
    return report


# ---------------------------------------------------------------- torchtune 0.6.1

def test_torchtune_dpo_module_as_it_is(torchtune_loss):
    """nn.Module with β fixed in its constructor, returning (losses, chosen_rewards,
    rejected_rewards): detected, said once, checked at the β given to the kit."""
    report = _passes(torchtune_loss.DPOLoss(beta=0.1), "sigmoid", beta=0.1)
    assert report.reduction.startswith("per-sample")
    assert "fixed inside the function; checked at β = 0.1" in report.convention
    assert "a tuple of 3: element 0 is checked" in report.convention
    assert "torch.nn.Module" in report.convention


def test_torchtune_dpo_label_smoothing_is_cdpo(torchtune_loss):
    _passes(torchtune_loss.DPOLoss(beta=0.1, label_smoothing=0.1), "cdpo", beta=0.1,
            label_smoothing=0.1, dtype="float32")
    # and it is not robust DPO: the kit names the member it is
    report = _fails(torchtune_loss.DPOLoss(beta=0.1, label_smoothing=0.1), "robust", beta=0.1,
                    label_smoothing=0.1)
    assert "equals dpomath's `cdpo` loss" in str(report)


def test_torchtune_rso_is_hinge(torchtune_loss):
    """RSOLoss(gamma=β): its `gamma` is β, fixed inside; `rso` names the hinge member."""
    _passes(torchtune_loss.RSOLoss(gamma=0.1), "rso", beta=0.1)


# ---------------------------------------------------------------- OpenRLHF 0.11.2

def test_openrlhf_dpo_module(openrlhf):
    report = _passes(openrlhf.DPOLoss(0.1), "sigmoid", beta=0.1)
    assert report.reduction.startswith("batch mean")
    _passes(openrlhf.DPOLoss(0.1, label_smoothing=0.1), "cdpo", beta=0.1, label_smoothing=0.1)
    _passes(openrlhf.DPOLoss(0.1, ipo=True), "ipo", beta=0.1)  # unnormalised (Azar's) IPO


def test_openrlhf_pairwise_reward_loss_on_two_rewards(openrlhf):
    """A reward loss takes (r₊, r₋) directly; its `margin` is the target margin γ, passed."""
    report = _passes(openrlhf.PairWiseLoss(), "reward-model")
    assert "two rewards (r₊, r₋) directly" in report.convention
    report = _passes(openrlhf.PairWiseLoss(), "reward-model", gamma=0.5)
    assert "margin=gamma" in report.convention


def test_openrlhf_logexp_overflows(openrlhf):
    """LogExpLoss computes log(1 + exp(r₋ − r₊)) directly: inf once r₋ − r₊ > 709.78."""
    report = _fails(openrlhf.LogExpLoss(), "reward-model")
    failed = dict(report.failures)
    assert set(failed) == {"extreme margins"}, list(failed)  # finite and right below the overflow
    msg = failed["extreme margins"]
    assert "an exponential overflows (the value is inf)" in msg
    assert re.search(r"finite down to ρ = -709\.78", msg), msg
    assert "log(1 + e^x) = inf" in msg
    # at float32 the value check meets it too (e^x overflows past 88.72)
    report = _fails(openrlhf.LogExpLoss(), "reward-model", dtype="float32")
    assert re.search(r"finite down to ρ = -88\.72", dict(report.failures)["value"])
    # its `margin` argument is accepted and ignored: with γ = 0.5 the kit says so
    report = _fails(openrlhf.LogExpLoss(), "reward-model", gamma=0.5, max_margin=80.0)
    assert "with gamma = 0 instead of 0.5" in dict(report.failures)["value"]


# ---------------------------------------------------------------- liger-kernel 0.8.5

@pytest.mark.parametrize("loss_type,kind,params", [
    ("sigmoid", "sigmoid", {}),
    ("hinge", "hinge", {}),
    ("robust", "robust", {"label_smoothing": 0.1}),
    ("nca_pair", "nca-pair", {}),
    ("bco_pair", "bco-pair", {}),
    ("sppo_hard", "sppo-hard", {}),
    ("apo_zero", "apo-zero", {}),
    ("apo_down", "apo-down", {}),
    ("exo_pair", "exo-pair", {"label_smoothing": 1e-3, "dtype": "float32"}),
])
def test_liger_dpo_loss_types_pass(liger, loss_type, kind, params):
    """liger's per-pair function as it is: its own argument names (chosen_logps,
    ref_chosen_logps, ...), its full_target divisor (the kit passes length 2n: the batch mean),
    a 3-tuple return; the loss type fixed with functools.partial."""
    report = _passes(functools.partial(liger.dpo, loss_type=loss_type), kind, **params)
    assert "full_target=<empty, length 2n>" in report.convention
    assert report.reduction.startswith("batch mean")


def test_liger_exo_pair_float32_epsilon_is_named(liger):
    """ε is made a float32 tensor: at float64 the kit sees a 1e-8 relative difference and says
    it is one of precision."""
    report = _fails(functools.partial(liger.dpo, loss_type="exo_pair"), "exo-pair",
                    label_smoothing=1e-3)
    msg = dict(report.failures)["value"]
    assert re.search(r"precision difference, not another formula: it agrees with the definition "
                     r"to [1-9]e-0[89] relative — a float32 constant", msg), msg
    _passes(functools.partial(liger.dpo, loss_type="exo_pair"), "exo-pair", label_smoothing=1e-3,
            rtol=1e-7)


def test_liger_discopop_overflows(liger):
    """e^{−ρ}·σ(ρ/τ): inf·0 = NaN once e^{−ρ} overflows; the kit names the overflow, the
    threshold, and the rows of the batch mean at fault."""
    fn = functools.partial(liger.dpo, loss_type="discopop")
    report = _fails(fn, "discopop", discopop_tau=0.05, examples=50)  # TRL's and liger's τ
    assert "discopop_tau=tau" in report.convention
    failed = dict(report.failures)
    assert {"value", "extreme margins"} <= set(failed)
    for msg in (failed["value"], failed["extreme margins"]):
        assert "an exponential overflows (the value is NaN)" in msg, msg
        assert "inf·0 = NaN" in msg and "exp(log σ(ρ/τ) − ρ)" in msg
        assert re.search(r"finite down to ρ = -709\.78", msg)
    assert "Called alone, 4 of the 24 rows return inf or NaN" in failed["extreme margins"]
    # the other checks still ran, on the batches where it is finite
    assert {"reduction", "log-ratio", "shift invariance", "gradients"} <= {n for n, _, _ in report.checks}
    # within the margins it is finite at, it conforms — whatever β is drawn
    _passes(fn, "discopop", tau=0.05, max_margin=700.0)
    _passes(fn, "discopop", tau=0.05, max_margin=80.0, dtype="float32")


def test_liger_sigmoid_ignores_label_smoothing(liger):
    report = _fails(liger.dpo, "cdpo", label_smoothing=0.1)
    msg = dict(report.failures)["value"]
    assert "label_smoothing=label_smoothing" in report.convention  # it was passed
    assert "equals dpomath's `sigmoid` loss" in msg and "the same function as `reward-model`" in msg


def test_liger_reference_free_losses(liger):
    """SimPO (γ absolute, liger's `gamma`), CPO's preference term (the SFT term is added outside
    it: cpo_alpha=0), ORPO's odds-ratio term."""
    report = _passes(liger.simpo, "simpo", gamma=0.5)
    assert "the policy's log-probabilities only" in report.convention
    _passes(liger.cpo, "cpo", cpo_alpha=0.0)
    _passes(liger.orpo, "orpo")
    report = _fails(liger.cpo, "cpo")  # TRL's default α = 1 includes the SFT term
    assert "with cpo_alpha = 0 instead of 1" in dict(report.failures)["value"]
    # the SimPO code's γ/β given: liger's absolute gamma gets β·γ_r per batch
    report = _passes(liger.simpo, "simpo", gamma_beta_ratio=0.5)
    assert "gamma=γ + β·γ_r" in report.convention


def test_liger_ipo_refuses_itself(liger):
    report = _fails(functools.partial(liger.dpo, loss_type="ipo"), "ipo-norm")
    assert report.failures[0][0] == "probe"
    assert "NotImplementedError: loss_type='ipo'" in report.failures[0][1]
    assert len(report.not_run) == 8
