"""The conformance kit meets code as it is (issue 12): each friction an outside user met, run on
small stand-ins written here in the peers' conventions — call conventions detected, every check
reported, pytest-native, the kinds users have, sharper diagnoses. (The peers themselves:
tests/test_peers.py.)"""
import math
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dpomath import BadType, BadValue
from dpomath.testing import CHECK_NAMES, check_preference_loss

torch = pytest.importorskip("torch")
F = torch.nn.functional
EX = 12


def _logits(pc, pr, rc, rr):
    return (pc - pr) - (rc - rr)


class TupleDPO(torch.nn.Module):
    """torchtune/OpenRLHF style: β in the constructor, (losses, chosen_rewards, rejected_rewards)."""

    def __init__(self, beta, label_smoothing=0.0, mean=False):
        super().__init__()
        self.beta, self.eps, self.mean = beta, label_smoothing, mean

    def forward(self, policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                reference_rejected_logps):
        z = self.beta * _logits(policy_chosen_logps, policy_rejected_logps,
                                reference_chosen_logps, reference_rejected_logps)
        losses = -(1 - self.eps) * F.logsigmoid(z) - self.eps * F.logsigmoid(-z)
        return (losses.mean() if self.mean else losses,
                self.beta * (policy_chosen_logps - reference_chosen_logps).detach(),
                self.beta * (policy_rejected_logps - reference_rejected_logps).detach())


# ---------------------------------------------------------------- 1. β fixed inside; modules

def test_module_with_beta_in_its_constructor_is_checked_as_it_is():
    report = check_preference_loss(TupleDPO(0.1), "sigmoid", beta=0.1, examples=EX)
    conv = report.convention
    assert conv.startswith("Called as TupleDPO(...)(policy_chosen_logps=πθ(y_w)")
    assert "torch.nn.Module" in conv and "fixed inside the function; checked at β = 0.1" in conv
    assert "a tuple of 3: element 0 is checked" in conv
    assert report.backend.startswith("torch")


def test_beta_fixed_inside_and_not_given_is_refused_naming_beta():
    with pytest.raises(BadValue, match=r"^beta: TupleDPO\(\.\.\.\) takes no β argument"):
        check_preference_loss(TupleDPO(0.1), "sigmoid")


def test_beta_fixed_inside_at_another_value_is_caught():
    report = check_preference_loss(TupleDPO(0.5), "sigmoid", beta=0.1, examples=EX,
                                   raise_on_failure=False)
    assert not report.passed and report.failures[0][0] == "value"


# ---------------------------------------------------------------- 2. tuple and dict returns

def test_tuple_return_with_the_default_backend_and_the_mean():
    report = check_preference_loss(TupleDPO(0.1, mean=True), beta=0.1, examples=EX)
    assert report.reduction.startswith("batch mean")


def test_output_chooses_the_element_by_position_or_key():
    def rewards_first(pc, pr, rc, rr, beta):
        z = beta * _logits(pc, pr, rc, rr)
        return beta * (pc - rc).detach(), -F.logsigmoid(z)

    def as_dict(pc, pr, rc, rr, beta):
        return {"metrics": pc.detach(), "loss": -F.logsigmoid(beta * _logits(pc, pr, rc, rr)).mean()}

    report = check_preference_loss(rewards_first, output=1, examples=EX)
    assert "element 1 is checked" in report.convention
    report = check_preference_loss(as_dict, examples=EX)
    assert "'loss' is checked" in report.convention
    # the wrong element: a failure that says what it got, not a numpy error
    report = check_preference_loss(rewards_first, examples=EX, raise_on_failure=False)
    name, msg = report.failures[0]
    assert name == "probe" and msg.startswith("its output carries no gradient")
    assert "it returned a tuple of 2: element 0 is checked — if the losses are another element, " \
           "say which with output=" in msg


def test_a_dict_without_a_losses_key_asks_for_output():
    def metrics(pc, pr, rc, rr, beta):
        return {"a": pc, "b": pr}

    report = check_preference_loss(metrics, examples=EX, raise_on_failure=False)
    assert report.failures[0][0] == "probe"
    assert "keys ['a', 'b']; say which holds the losses with output=" in report.failures[0][1]


def test_an_exception_of_the_function_is_reported_without_unrelated_numpy_errors():
    def torch_only(pc, pr, rc, rr, beta):
        raise NotImplementedError("loss_type='ipo' is not supported here")

    report = check_preference_loss(torch_only, examples=EX, raise_on_failure=False)
    name, msg = report.failures[0]
    assert name == "probe" and msg.startswith("calling it raised an exception")
    assert "With torch tensors it raised NotImplementedError: loss_type='ipo'" in msg
    assert msg.count("NotImplementedError") == 1  # the numpy attempt raised the same: said once


# ---------------------------------------------------------------- 3. names and parameters

def test_argument_names_of_trl_liger_and_openrlhf_are_recognised():
    def liger_style(chosen_logps, rejected_logps, full_target, ref_chosen_logps=None,
                    ref_rejected_logps=None, beta=0.1):
        z = beta * _logits(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps)
        return -F.logsigmoid(z).sum() / (full_target.shape[0] // 2), z.detach(), z.detach()

    report = check_preference_loss(liger_style, examples=EX)
    assert "ref_chosen_logps=π_ref(y_w)" in report.convention
    assert "full_target=<empty, length 2n>" in report.convention
    assert report.reduction.startswith("batch mean")  # the full_target divisor gives the mean


def test_keyword_order_is_irrelevant_names_win_over_positions():
    def reordered(reference_rejected_logps, policy_chosen_logps, reference_chosen_logps,
                  policy_rejected_logps, beta):
        return -F.logsigmoid(beta * _logits(policy_chosen_logps, policy_rejected_logps,
                                            reference_chosen_logps, reference_rejected_logps))

    check_preference_loss(reordered, examples=EX)


def test_argmap_maps_the_rest():
    def odd(w, l, w0, l0, temperature):
        return -F.logsigmoid(temperature * _logits(w, l, w0, l0))

    report = check_preference_loss(odd, examples=EX, argmap={"beta": "temperature"})
    assert "temperature=β" in report.convention
    with pytest.raises(BadValue, match="^argmap: 'beta' → 'tau'"):
        check_preference_loss(odd, argmap={"beta": "tau"})
    with pytest.raises(BadValue, match="^argmap: 'nope' is not an input"):
        check_preference_loss(odd, argmap={"nope": "w"})


def test_an_argument_the_kit_cannot_fill_is_named():
    def needs_mask(pc, pr, rc, rr, beta, mask):
        return -F.logsigmoid(beta * _logits(pc, pr, rc, rr))

    with pytest.raises(BadType, match=r"^fn: needs_mask requires 'mask'.*functools\.partial"):
        check_preference_loss(needs_mask)


def test_parameters_are_passed_under_the_functions_spelling():
    def cdpo(pc, pr, rc, rr, beta, label_smoothing=0.0):
        z = beta * _logits(pc, pr, rc, rr)
        return -(1 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)

    def discopop_naive(pc, pr, rc, rr, beta, discopop_tau=0.05):  # TRL's spelling of τ
        r = beta * _logits(pc, pr, rc, rr)
        s = torch.sigmoid(r / discopop_tau)
        return (1 - s) * -F.logsigmoid(r) + s * torch.exp(-r)

    report = check_preference_loss(cdpo, "cdpo", label_smoothing=0.1, examples=EX)
    assert "label_smoothing=label_smoothing" in report.convention
    report = check_preference_loss(discopop_naive, "discopop", discopop_tau=0.1, examples=EX,
                                   max_margin=700.0)
    assert "discopop_tau=tau" in report.convention and report.params == {"tau": 0.1}


def test_cdpo_without_its_epsilon_is_refused():
    with pytest.raises(BadType, match=r"^label_smoothing: required by loss 'cdpo'.*ε = 0 is `sigmoid`"):
        check_preference_loss(TupleDPO(0.1), "cdpo", beta=0.1)


# ---------------------------------------------------------------- 4. the kinds users have

def test_rso_is_hinge_and_the_target_margin_of_sigmoid():
    def rso(pc, pr, rc, rr, beta):
        return torch.relu(1 - beta * _logits(pc, pr, rc, rr))

    def with_margin(pc, pr, rc, rr, beta, gamma):
        return -F.logsigmoid(beta * _logits(pc, pr, rc, rr) - gamma)

    check_preference_loss(rso, "rso", examples=EX)
    check_preference_loss(with_margin, "sigmoid", gamma=0.5, examples=EX)
    report = check_preference_loss(lambda pc, pr, rc, rr, beta: with_margin(pc, pr, rc, rr, beta, 0.0),
                                   "sigmoid", gamma=0.5, examples=EX, raise_on_failure=False)
    assert "with gamma = 0 instead of 0.5" in dict(report.failures)["value"]


def test_reference_free_kinds_take_the_policy_only():
    def simpo_trl(policy_chosen_logps, policy_rejected_logps, beta, simpo_gamma, chosen_lengths,
                  rejected_lengths):
        z = beta * (policy_chosen_logps / chosen_lengths - policy_rejected_logps / rejected_lengths)
        return -F.logsigmoid(z - simpo_gamma)

    def cpo_with_sft(policy_chosen_logps, policy_rejected_logps, beta):
        return -F.logsigmoid(beta * (policy_chosen_logps - policy_rejected_logps)) - policy_chosen_logps

    report = check_preference_loss(simpo_trl, "simpo", gamma=0.5, examples=EX)
    assert "simpo_gamma=gamma" in report.convention and "chosen_lengths=n_w" in report.convention
    report = check_preference_loss(simpo_trl, "simpo", gamma_beta_ratio=0.5, examples=EX)
    assert "simpo_gamma=γ + β·γ_r" in report.convention
    check_preference_loss(cpo_with_sft, "cpo", examples=EX)  # TRL's default cpo_alpha = 1
    with pytest.raises(BadType, match=r"^fn: .*needs 4.*kind='simpo', 'cpo' or 'orpo'"):
        check_preference_loss(cpo_with_sft, "sigmoid")


def test_simpo_gamma_read_as_gamma_over_beta_is_named():
    def simpo_fixed(policy_chosen_logps, policy_rejected_logps, beta):  # γ = 0.5 inside, absolute
        return -F.logsigmoid(beta * (policy_chosen_logps - policy_rejected_logps) - 0.5)

    report = check_preference_loss(simpo_fixed, "simpo", gamma_beta_ratio=0.5, examples=EX,
                                   raise_on_failure=False)
    msg = dict(report.failures)["value"]
    assert "with gamma = 0.5 (the absolute γ of TRL's simpo_gamma and liger's gamma) rather " \
           "than gamma_beta_ratio = 0.5" in msg
    with pytest.raises(BadType, match="^gamma: loss 'simpo' needs one of gamma"):
        check_preference_loss(simpo_fixed, "simpo")


def test_orpo_and_its_sign():
    def orpo(chosen_logps, rejected_logps, beta):
        log_odds = (chosen_logps - rejected_logps) - (
            torch.log1p(-torch.exp(chosen_logps)) - torch.log1p(-torch.exp(rejected_logps)))
        return -beta * F.logsigmoid(log_odds)

    check_preference_loss(orpo, "orpo", examples=EX)
    report = check_preference_loss(lambda chosen_logps, rejected_logps, beta: -orpo(chosen_logps, rejected_logps, beta),
                                   "orpo", examples=EX, raise_on_failure=False)
    assert "it equals minus the loss (wrong sign)" in dict(report.failures)["value"]


def test_dpop_both_placements_are_told_apart():
    def dpop_inside(pc, pr, rc, rr, beta, lambda_dpop):
        pen = torch.clamp(rc - pc, min=0.0)
        return -F.logsigmoid(beta * (_logits(pc, pr, rc, rr) - lambda_dpop * pen))

    def dpop_outside(pc, pr, rc, rr, beta, lambda_dpop):
        return -F.logsigmoid(beta * _logits(pc, pr, rc, rr)) + lambda_dpop * torch.relu(rc - pc)

    check_preference_loss(dpop_inside, "dpop", dpop_lambda=5.0, examples=EX)
    check_preference_loss(dpop_outside, "dpop-outside", dpop_lambda=5.0, examples=EX)
    report = check_preference_loss(dpop_outside, "dpop", dpop_lambda=5.0, examples=EX,
                                   raise_on_failure=False)
    assert "equals dpomath's `dpop-outside` loss" in dict(report.failures)["value"]


def test_reward_model_on_two_rewards():
    def pairwise(chosen_reward, reject_reward, margin=None):
        return -F.logsigmoid(chosen_reward - reject_reward - (0 if margin is None else margin)).mean()

    def two_positional(a, b):
        return -F.logsigmoid(a - b)

    report = check_preference_loss(pairwise, "reward-model", gamma=0.3, examples=EX)
    assert "checked at β = 1 (the plain reward loss)" in report.convention
    assert "margin=gamma" in report.convention
    check_preference_loss(two_positional, "reward-model", examples=EX)
    skipped = dict(report.skipped)
    assert skipped["log-ratio"] == "the inputs are rewards, not log-probabilities"


# ---------------------------------------------------------------- 5. max_margin with β drawn

def test_max_margin_bounds_the_margins_when_beta_is_drawn():
    def discopop_naive(pc, pr, rc, rr, beta):  # TRL's and liger's form: NaN past e^{−ρ} overflow
        r = beta * _logits(pc, pr, rc, rr)
        s = torch.sigmoid(r / 0.05)
        return (1 - s) * -F.logsigmoid(r) + s * torch.exp(-r)

    for dtype, bound in (("float32", 80.0), ("float64", 700.0)):
        report = check_preference_loss(discopop_naive, "discopop", dtype=dtype, max_margin=bound,
                                       examples=30)
        assert report.beta == "drawn from [0.01, 10]"
    report = check_preference_loss(discopop_naive, "discopop", dtype="float32", examples=30,
                                   raise_on_failure=False)
    assert "value" in dict(report.failures)  # β drawn up to 10 reaches |ρ| > 89 in the value check


# ---------------------------------------------------------------- 6. messages

def test_every_failing_check_is_listed_in_one_assertion_error_with_the_convention_first():
    def wrong_sign(pc, pr, rc, rr, beta):
        return F.logsigmoid(beta * _logits(pc, pr, rc, rr))

    with pytest.raises(AssertionError) as info:
        check_preference_loss(wrong_sign, examples=EX)
    msg = str(info.value)
    lines = msg.splitlines()
    assert "does not conform to dpomath's `sigmoid` loss" in lines[0]
    assert lines[1].startswith("Called as wrong_sign(")
    assert msg.count("Called as") == 1
    failed = re.findall(r"^  FAIL  (.+)$", msg, re.M)
    assert {"reference point", "value", "swap identity", "gradients"} <= set(failed), failed
    assert re.search(r"\[1\] reference point: .*\n.*\n", msg)
    assert msg.count("wrong sign") >= 2  # each check with its own diagnosis


def test_report_returned_with_raise_on_failure_false():
    def wrong_sign(pc, pr, rc, rr, beta):
        return F.logsigmoid(beta * _logits(pc, pr, rc, rr))

    report = check_preference_loss(wrong_sign, examples=EX, raise_on_failure=False)
    assert not report.passed
    names = [n for n, _, _ in report.checks] + [n for n, _ in report.failures] + \
        [n for n, _ in report.skipped]
    assert sorted(names) == sorted(CHECK_NAMES)


def test_exp_overflow_is_named_with_its_threshold_not_log_sigmoid():
    def inf_times_zero(pc, pr, rc, rr, beta):
        r = beta * _logits(pc, pr, rc, rr)
        return torch.exp(-r) * torch.sigmoid(r) * 0 + F.softplus(-r)  # NaN once e^{−ρ} = inf

    report = check_preference_loss(inf_times_zero, examples=EX, raise_on_failure=False)
    msg = dict(report.failures)["extreme margins"]
    assert "an exponential overflows (the value is NaN)" in msg
    assert "finite down to ρ = -709.78" in msg and "inf·0 = NaN" in msg
    assert "log(sigmoid(x))" not in msg.split("Likely cause")[1]


def test_a_float32_constant_is_named_a_precision_difference():
    def exo_eps32(pc, pr, rc, rr, beta):  # ε kept as a float32 tensor, as TRL and liger do
        eps = torch.tensor(1e-3)
        r = beta * _logits(pc, pr, rc, rr)
        return (torch.sigmoid(r) * (F.logsigmoid(r) - torch.log1p(-eps))
                + torch.sigmoid(-r) * (F.logsigmoid(-r) - torch.log(eps)))

    report = check_preference_loss(exo_eps32, "exo-pair", label_smoothing=1e-3, examples=EX,
                                   raise_on_failure=False)
    msg = dict(report.failures)["reference point"]
    assert re.search(r"agrees with the definition to \de-0[89] relative — a float32 constant", msg)
    check_preference_loss(exo_eps32, "exo-pair", label_smoothing=1e-3, examples=EX, dtype="float32")


def test_a_mean_returning_loss_names_the_row_at_fault():
    def mean_unstable(pc, pr, rc, rr, beta):
        return -torch.log(torch.sigmoid(beta * _logits(pc, pr, rc, rr))).mean()

    report = check_preference_loss(mean_unstable, examples=EX, raise_on_failure=False)
    msg = dict(report.failures)["extreme margins"]
    assert re.search(r"Called alone, \d+ of the 24 rows return inf or NaN: rows 9, ", msg), msg
    assert "the first row at fault is sample 9, at margin ρ = -1000" in msg


def test_the_same_function_gets_one_diagnosis():
    def plain_dpo(pc, pr, rc, rr, beta):
        return -F.logsigmoid(beta * _logits(pc, pr, rc, rr))

    report = check_preference_loss(plain_dpo, "cdpo", label_smoothing=0.1, examples=EX,
                                   raise_on_failure=False)
    msg = dict(report.failures)["value"]
    assert "equals dpomath's `sigmoid` loss" in msg and "the same function as `reward-model`" in msg
    assert "equals dpomath's `reward-model`" not in msg


def _run_pytest(tmp_path, body: str) -> str:
    f = tmp_path / "test_user.py"
    f.write_text(textwrap.dedent(body))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider",
                          str(f)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    return res.stdout + res.stderr


def test_kit_frames_are_hidden_from_pytest_tracebacks(tmp_path):
    out = _run_pytest(tmp_path, """
        import torch.nn.functional as F
        from dpomath.testing import check_preference_loss

        def wrong_sign(pc, pr, rc, rr, beta):
            return F.logsigmoid(beta * ((pc - pr) - (rc - rr)))

        def test_mine():
            check_preference_loss(wrong_sign, examples=5)
        """)
    assert "1 failed" in out
    assert "does not conform to dpomath's `sigmoid` loss" in out
    assert "def check_preference_loss" not in out and "def run_checks" not in out
    assert "_checks.py" not in out and "_harness.py" not in out and "__tracebackhide__" not in out


def test_parametrize_with_checks_makes_each_check_an_item(tmp_path):
    out = _run_pytest(tmp_path, """
        import torch, torch.nn.functional as F
        from dpomath.testing import parametrize_with_checks

        class DPO(torch.nn.Module):
            def forward(self, policy_chosen_logps, policy_rejected_logps,
                        reference_chosen_logps, reference_rejected_logps):
                z = (policy_chosen_logps - policy_rejected_logps) - (
                    reference_chosen_logps - reference_rejected_logps)
                return -F.logsigmoid(0.1 * z), z

        def hinge_wrong_sign(pc, pr, rc, rr, beta):
            return -torch.relu(1 - beta * ((pc - pr) - (rc - rr)))

        @parametrize_with_checks(DPO(), "sigmoid", beta=0.1, examples=5)
        def test_dpo(check):
            check()

        @parametrize_with_checks(hinge_wrong_sign, "hinge", examples=5)
        def test_hinge(check):
            check()
        """)
    assert re.search(r"test_dpo\[sigmoid-value\]", out) is None  # passed items are quiet
    assert "FAILED test_user.py::test_hinge[hinge-value]" in out
    assert "test_user.py::test_dpo" not in out.split("short test summary")[1].replace("SKIPPED", "")
    assert "SKIPPED" in out and "no closed-form swap identity" in out  # hinge's swap: skipped
    m = re.search(r"(\d+) failed, (\d+) passed, (\d+) skipped", out)
    assert m, out
    failed, passed, skipped = map(int, m.groups())
    assert failed + passed + skipped == 2 * len(CHECK_NAMES)
    assert passed >= len(CHECK_NAMES)  # every check of the correct DPO module passes


@pytest.mark.parametrize("value", [math.inf, -1.0])
def test_max_margin_is_checked(value):
    with pytest.raises((BadValue, BadType), match="^max_margin"):
        check_preference_loss(TupleDPO(0.1), beta=0.1, max_margin=value)
