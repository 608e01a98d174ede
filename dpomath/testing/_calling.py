"""How the kit calls the function it checks: the call convention, found from the function's
signature and from what it returns, so that other people's code is checked as it is.

* **Inputs by name**, in the spellings of TRL, torchtune, OpenRLHF and liger-kernel
  (:data:`SPELLINGS`: ``policy_chosen_logps`` or ``chosen_logps``, ``reference_chosen_logps``
  or ``ref_chosen_logps``, OpenRLHF's ``chosen_reward``/``reject_reward``, ...); the inputs not
  found by name go to the function's remaining positional parameters in the classic order
  (policy chosen, policy rejected, reference chosen, reference rejected); ``argmap`` maps the
  rest explicitly.
* **What is checked** follows the member: the four log-probabilities (πθ and π_ref of chosen and
  rejected); the policy's two alone for a reference-free member (SimPO, CPO, ORPO: reference
  arguments the function requires get zeros); two rewards (r₊, r₋) for the reward-model loss
  when the function takes two inputs.
* **β** is passed where the function takes it (``beta``); otherwise it is fixed inside the
  function (a module built with ``beta=...``) and the kit checks at the β it is given.
* **The member's parameters** are passed under whichever of their spellings the function
  takes (``label_smoothing``, ``discopop_tau`` for ``tau``, ``simpo_gamma`` or ``gamma`` for γ,
  OpenRLHF's ``margin``); the lengths of the length-normalised members likewise (a function
  without them is given per-token averages: lengths 1). liger-kernel's ``full_target`` gets an
  empty array of length 2n (liger divides the summed loss by its length over 2: the batch mean).
* **torch.nn.Module** instances are called as modules (their ``forward`` gives the signature) and
  with torch tensors only.
* **Returns**: a tensor or array; from a tuple or list the element ``output`` (default 0, the
  losses of the original DPO code's ``(losses, chosen_rewards, rejected_rewards)``); from a dict
  the key ``output`` (default ``"losses"`` or ``"loss"``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .. import _args

__all__ = ["Convention", "detect", "SPELLINGS", "LOGP_ROLES", "REWARD_ROLES"]

LOGP_ROLES = ("policy_chosen_logps", "policy_rejected_logps",
              "reference_chosen_logps", "reference_rejected_logps")
REWARD_ROLES = ("chosen_rewards", "rejected_rewards")
LENGTH_ROLES = ("chosen_lengths", "rejected_lengths")

#: The kit's inputs → the names implementations give them (TRL ≤ 0.11 and torchtune and
#: OpenRLHF: ``policy_*``/``reference_*``; TRL ≥ 0.12 and liger-kernel: ``chosen_logps`` and
#: ``ref_chosen_logps``; OpenRLHF's reward losses: ``chosen_reward``/``reject_reward``; TRL's
#: reward trainer: ``rewards_chosen``/``rewards_rejected``).
SPELLINGS: dict[str, tuple[str, ...]] = {
    "policy_chosen_logps": ("policy_chosen_logps", "chosen_logps", "policy_chosen_logp",
                            "chosen_logp", "policy_chosen_logprobs", "chosen_logprobs"),
    "policy_rejected_logps": ("policy_rejected_logps", "rejected_logps", "policy_rejected_logp",
                              "rejected_logp", "policy_rejected_logprobs", "rejected_logprobs"),
    "reference_chosen_logps": ("reference_chosen_logps", "ref_chosen_logps",
                               "reference_chosen_logp", "ref_chosen_logp",
                               "reference_chosen_logprobs", "ref_chosen_logprobs"),
    "reference_rejected_logps": ("reference_rejected_logps", "ref_rejected_logps",
                                 "reference_rejected_logp", "ref_rejected_logp",
                                 "reference_rejected_logprobs", "ref_rejected_logprobs"),
    "chosen_rewards": ("chosen_reward", "chosen_rewards", "rewards_chosen", "reward_chosen"),
    "rejected_rewards": ("reject_reward", "rejected_reward", "rejected_rewards",
                         "rewards_rejected", "reward_rejected"),
    "chosen_lengths": ("chosen_lengths", "chosen_length", "chosen_lens"),
    "rejected_lengths": ("rejected_lengths", "rejected_length", "rejected_lens"),
    "beta": ("beta",),
}
_SHORT = {"policy_chosen_logps": "πθ(y_w)", "policy_rejected_logps": "πθ(y_l)",
          "reference_chosen_logps": "π_ref(y_w)", "reference_rejected_logps": "π_ref(y_l)",
          "chosen_rewards": "r₊", "rejected_rewards": "r₋", "beta": "β",
          "chosen_lengths": "n_w", "rejected_lengths": "n_l"}
FULL_TARGET = "full_target"  # liger-kernel's divisor argument
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _is_module(fn) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(fn, torch.nn.Module)


def _name(fn) -> str:
    if _is_module(fn):
        return type(fn).__name__ + "(...)"
    base = getattr(fn, "func", None)  # functools.partial
    if base is not None:
        return "partial(" + _name(base) + ")"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return name.rsplit("<locals>.", 1)[-1]  # a function defined in a test: its own name


@dataclass
class Convention:
    """How the function is called and read (see the module docstring); :func:`detect` finds it."""

    fname: str
    mode: str                       # "log-ratios", "reference-free" or "rewards"
    module: bool = False
    where: dict = field(default_factory=dict)    # role → argument name (str) or position (int)
    zero_refs: tuple = ()           # reference roles passed as zeros (reference-free member)
    beta_passed: bool = True
    params: dict = field(default_factory=dict)   # member parameter → the function's name for it
    unpassed: tuple = ()            # member parameters the function does not take
    lengths: bool = False           # the drawn lengths are passed
    full_target: str | None = None
    output: int | str | None = None
    returned: str = ""              # what the probe saw it return, in words
    beta_note: str = ""
    length_note: str = ""
    derived: dict = field(default_factory=dict)  # argument → (words, f(params, β)): SimPO's γ ↔ γ/β
    beta_fixed: float | None = None

    # ---- calling

    def call(self, fn, values: Mapping[str, Any], params: Mapping[str, Any], n: int, backend: str,
             torch=None, select: bool = True):
        """``fn`` called with the roles' ``values`` (arrays or tensors), the member's
        ``params`` and β (``values["beta"]``); returns the selected output (all of it if not
        ``select``)."""
        args, kwargs = [], {}
        positional = {}
        for role, at in self.where.items():
            if role not in values:
                continue
            if isinstance(at, int):
                positional[at] = values[role]
            else:
                kwargs[at] = values[role]
        for i in sorted(positional):
            args.append(positional[i])
        for p, at in self.params.items():
            kwargs[at] = params[p]
        for at, (_, value) in self.derived.items():
            kwargs[at] = value(params, values.get("beta", self.beta_fixed))
        if self.full_target:
            kwargs[self.full_target] = (torch.empty(2 * n) if backend == "torch" else np.empty(2 * n))
        out = fn(*args, **kwargs)
        return self.select(out) if select else out

    def select(self, out):
        """The element of ``out`` that holds the losses."""
        if isinstance(out, dict):
            key = self.output if isinstance(self.output, str) else next(
                (k for k in ("losses", "loss") if k in out), None)
            if key is None or key not in out:
                raise _SelectError(f"It returned a dict with keys {sorted(map(str, out))}; "
                                   "say which holds the losses with output='...'.")
            return out[key]
        if isinstance(out, (tuple, list)):
            i = 0 if self.output is None else self.output
            if not isinstance(i, int) or not -len(out) <= i < len(out):
                raise _SelectError(f"It returned a {type(out).__name__} of {len(out)}; output={i!r} "
                                   "is not one of its positions.")
            return out[i]
        return out

    def describe_output(self, out) -> str:
        if isinstance(out, dict):
            key = self.output if isinstance(self.output, str) else next(
                (k for k in ("losses", "loss") if k in out), None)
            return f"a dict with keys {', '.join(map(str, out))}: {key!r} is checked"
        if isinstance(out, (tuple, list)):
            i = 0 if self.output is None else self.output
            return f"a {type(out).__name__} of {len(out)}: element {i} is checked"
        return ""

    # ---- in words

    def words(self, beta) -> str:
        """The convention, once, at the top of a report or failure."""
        arg = []
        for role, at in sorted(self.where.items(), key=lambda kv: (
                isinstance(kv[1], str), kv[1] if isinstance(kv[1], int) else 0)):
            what = _SHORT.get(role, role)
            if role in self.zero_refs:
                what = "0"
            arg.append(f"{at}={what}" if isinstance(at, str) else what)
        arg += [f"{at}={p}" for p, at in self.params.items()]
        arg += [f"{at}={words}" for at, (words, _) in self.derived.items()]
        if self.full_target:
            arg.append(f"{self.full_target}=<empty, length 2n>")
        lines = [f"Called as {self.fname}({', '.join(arg)})"
                 + ("  [torch.nn.Module: torch tensors only]" if self.module else "")]
        inputs = {"log-ratios": "log-probabilities of policy and reference",
                  "reference-free": "the policy's log-probabilities only (a reference-free member)",
                  "rewards": "two rewards (r₊, r₋) directly"}[self.mode]
        lines.append(f"  inputs: {inputs}" + (
            "; reference arguments given zeros" if self.zero_refs else ""))
        if self.beta_note:
            lines.append(f"  β: {self.beta_note}")
        if self.unpassed:
            lines.append(f"  not arguments of the function (fixed inside it?): {', '.join(self.unpassed)}")
        if self.lengths is False and self.length_note:
            lines.append(f"  lengths: {self.length_note}")
        if self.returned:
            lines.append(f"  returns {self.returned}")
        return "\n".join(lines)


class _SelectError(Exception):
    pass


def _signature(fn):
    target = fn.forward if _is_module(fn) else fn
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def detect(fn, spec, beta, params: Mapping[str, Any], argmap: Mapping[str, Any] | None,
           output, given=()) -> Convention:
    """The call convention of ``fn`` for member ``spec`` (see the module docstring).

    ``params``: the member's parameters (defaults filled in); ``given``: those the user gave.

    Raises
    ------
    dpomath.BadType, dpomath.BadValue
        ``fn`` needs an argument the kit cannot fill, ``argmap`` names something unknown, or β
        is fixed inside ``fn`` and not given.
    """
    argmap = _own_names(argmap or {}, spec)
    module = _is_module(fn)
    conv = Convention(fname=_name(fn), mode="log-ratios", module=module, output=output)
    sig = _signature(fn)
    if sig is None:  # a builtin: the classic positional call, β as a keyword
        roles = LOGP_ROLES if not spec.reference_free else LOGP_ROLES[:2]
        conv.where = {r: i for i, r in enumerate(roles)}
        conv.where["beta"] = "beta"
        conv.mode = "reference-free" if spec.reference_free else "log-ratios"
        conv.beta_note = "passed as beta= (no signature to read)"
        return conv
    ps = list(sig.parameters.values())
    named = {p.name: p for p in ps if p.kind is not inspect.Parameter.VAR_POSITIONAL
             and p.kind is not inspect.Parameter.VAR_KEYWORD}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in ps)
    var_pos = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in ps)
    for k, v in argmap.items():
        if not isinstance(v, str) or (v not in named and not var_kw):
            raise _args.BadValue(f"argmap: {k!r} → {v!r}: {conv.fname} has no argument {v!r} "
                                 f"(its arguments: {', '.join(named) or 'none'})")

    found: dict[str, str] = {}
    for role in SPELLINGS:
        if role in argmap:
            found[role] = argmap[role]
            continue
        for name in SPELLINGS[role]:
            if name in named and name not in found.values() and name not in argmap.values():
                found[role] = name
                break
    free = [p.name for p in ps if p.kind in _POSITIONAL and p.default is p.empty
            and p.name not in found.values() and p.name not in argmap.values()
            and p.name != FULL_TARGET]

    has_refs = any(r in found for r in LOGP_ROLES[2:])
    has_rewards = any(r in found for r in REWARD_ROLES)
    n_inputs = sum(r in found for r in LOGP_ROLES[:2]) + len(free) + (99 if var_pos else 0)

    if spec.rewards and (has_rewards or (not has_refs and n_inputs == 2)):
        conv.mode = "rewards"
        wanted = list(REWARD_ROLES)
        for role, alias in zip(REWARD_ROLES, LOGP_ROLES[:2]):  # a two-input function by its policy names
            if role not in found and alias in found:
                found[role] = found.pop(alias)
    elif spec.reference_free:
        conv.mode = "reference-free"
        wanted = list(LOGP_ROLES[:2])
    else:
        conv.mode = "log-ratios"
        wanted = list(LOGP_ROLES)
    for r in (REWARD_ROLES if conv.mode != "rewards" else LOGP_ROLES):
        if r in found and r not in argmap:
            if conv.mode == "reference-free" and r in LOGP_ROLES[2:]:
                continue
            free_name = found.pop(r)  # a name of the other convention: not an input here
            if named[free_name].default is named[free_name].empty:
                free.insert(0, free_name)

    where: dict[str, Any] = {}
    for role in wanted:
        if role in found:
            where[role] = found[role]
    missing = [r for r in wanted if r not in where]
    available = len(where) + len(free)
    pos_names = [p.name for p in ps if p.kind in _POSITIONAL]
    for role in list(missing):
        if free:
            name = free.pop(0)
            p = named[name]
            where[role] = name if p.kind is not inspect.Parameter.POSITIONAL_ONLY else pos_names.index(name)
            missing.remove(role)
    if missing and var_pos and not pos_names:  # f(*args, ...): the inputs by position
        for k, role in enumerate(wanted):
            where[role] = k
        missing = []
    if missing:
        have = ", ".join(named) or "none"
        hint = {"log-ratios": "; for a reference-free loss use kind='simpo', 'cpo' or 'orpo', "
                              "for a loss of two rewards kind='reward-model'",
                "reference-free": "", "rewards": ""}[conv.mode]
        raise _args.BadType(
            f"fn: {conv.fname} takes {available} input(s) the kit can fill (its arguments: "
            f"{have}), but the `{spec.kind}` loss needs {len(wanted)} ({', '.join(wanted)}){hint}; "
            f"or name them with argmap={{{missing[0]!r}: '<argument>'}}")

    if conv.mode == "reference-free":  # reference arguments of a reference-based signature
        refs = [r for r in LOGP_ROLES[2:] if r in found]
        if not refs and len(free) >= 2:
            refs = list(LOGP_ROLES[2:])
            for r in refs:
                found[r] = free.pop(0)
        required = [r for r in refs if named[found[r]].default is named[found[r]].empty]
        for r in required:
            where[r] = found[r]
        conv.zero_refs = tuple(required)

    # lengths of the length-normalised members
    if "chosen_lengths" in spec.params:
        if all(r in found for r in LENGTH_ROLES) or var_kw:  # **kwargs: the kit's names
            for r in LENGTH_ROLES:
                where[r] = found.get(r, r)
            conv.lengths = True
        else:
            conv.length_note = ("not arguments of the function: its inputs are taken as per-token "
                                "averages (lengths 1)")
    # β
    if "beta" in found or var_kw:
        where["beta"] = found.get("beta", "beta")
        conv.beta_note = "passed as " + where["beta"] + "=" + (
            " (into **kwargs)" if "beta" not in found else "")
    else:
        conv.beta_passed = False
        if beta is None and conv.mode != "rewards":
            raise _args.BadValue(
                f"beta: {conv.fname} takes no β argument, so β is fixed inside it (a module built "
                "with beta=..., say): give the kit that value, check_preference_loss(fn, kind, "
                "beta=...)")
        conv.beta_note = ("not an argument: fixed inside the function; checked at β = "
                          + ("1 (the plain reward loss)" if beta is None else f"{beta:g}, as given"))
    # the member's parameters, under the function's spelling of them
    unpassed = []
    for p in params:
        names = [argmap[p]] if p in argmap else [p, *spec.params[p].spellings]
        at = next((n for n in names if n in named and n not in where.values()), None)
        if at is not None:
            conv.params[p] = at
        elif p in given or spec.params[p].default:  # given, or a default that is not "none"
            unpassed.append(f"{p} = {params[p]!r}")
    # SimPO's target margin, absolute (γ: TRL's simpo_gamma, liger's gamma) or over β (γ_r: the
    # SimPO code's gamma_beta_ratio): z = β(Δ − γ_r) − γ, so a function taking one of them gets
    # the whole margin in its own terms, γ + βγ_r or γ_r + γ/β
    if {"gamma", "gamma_beta_ratio"} <= set(spec.params):
        a, r = conv.params.get("gamma"), conv.params.get("gamma_beta_ratio")
        if a and not r and "gamma_beta_ratio" in given:
            del conv.params["gamma"]
            conv.derived[a] = ("γ + β·γ_r", lambda p, b: p["gamma"] + b * p["gamma_beta_ratio"])
            unpassed = [u for u in unpassed if not u.startswith("gamma_beta_ratio ")]
        elif r and not a and "gamma" in given:
            del conv.params["gamma_beta_ratio"]
            conv.derived[r] = ("γ_r + γ/β", lambda p, b: p["gamma_beta_ratio"] + p["gamma"] / b)
            unpassed = [u for u in unpassed if not u.startswith("gamma ")]
    conv.beta_fixed = beta
    conv.unpassed = tuple(unpassed)
    if FULL_TARGET in named and FULL_TARGET not in where.values():
        conv.full_target = FULL_TARGET
    used = (set(v for v in where.values() if isinstance(v, str)) | set(conv.params.values())
            | set(conv.derived))
    if conv.full_target:
        used.add(conv.full_target)
    left = [p.name for p in ps if p.kind in (*_POSITIONAL, inspect.Parameter.KEYWORD_ONLY)
            and p.default is p.empty and p.name not in used]
    if left:
        raise _args.BadType(
            f"fn: {conv.fname} requires {', '.join(repr(n) for n in left)}, which the kit cannot "
            f"fill: map an input or parameter to it with argmap={{'<input>': {left[0]!r}}} "
            f"(inputs: {', '.join(SPELLINGS)}), or bind it with functools.partial(fn, {left[0]}=...)")
    conv.where = where
    return conv


def _own_names(argmap: Mapping[str, Any], spec) -> dict:
    """``argmap`` with its keys checked and the member's parameters under their own names
    (``discopop_tau`` → ``tau``)."""
    out = {}
    for k, v in argmap.items():
        own = k if k in SPELLINGS else next(iter(spec.canonical({k: None})))
        if own not in SPELLINGS and own not in spec.params:
            raise _args.BadValue(f"argmap: {k!r} is not an input or parameter the kit passes "
                                 f"(inputs: {', '.join(SPELLINGS)}; parameters of {spec.kind!r}: "
                                 f"{', '.join(spec.params) or 'none'})")
        out[own] = v
    return out
