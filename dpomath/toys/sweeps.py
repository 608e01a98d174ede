"""The sweep of paper Y's toy model behind the paper-Y claims: which settings run
(:class:`SweepSpec`; :data:`FULL` for the report, :data:`QUICK` for ``--quick`` and the tests),
and one cached run of it per process (:func:`cached_sweep`), shared by the claims.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

from .. import _args
from .mlp import Setting, ToyResult, run

__all__ = ["SweepSpec", "FULL", "QUICK", "sweep", "cached_sweep"]


@dataclass(frozen=True)
class SweepSpec:
    """The settings swept for the paper-Y claims.

    DPO (``sigmoid``) runs cover scenarios × widths × optimizers × learning rates × betas;
    Flex-DPO runs fix β₊ = ``flex_beta_plus`` and sweep β₋ (β₋ = β₊ is the DPO run itself);
    SFT-DPO runs use β = ``sft_beta`` and sweep γ; ``free_logit`` adds the tabular control
    (DPO only). ``lrs`` gives the learning rates of each optimizer.
    """

    seeds: int = 20
    epochs: int = 500
    scenarios: tuple = (1, 2, 3, 4)
    widths: tuple = (16, 32)
    optimizers: tuple = ("adam", "sgd")
    lrs: tuple = (("adam", (1e-3, 1e-2)), ("sgd", (0.1, 1.0)))
    betas: tuple = (0.1, 0.5)
    flex_beta_plus: float = 0.1
    flex_beta_minus: tuple = (0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.14)
    sft_beta: float = 0.1
    sft_gammas: tuple = (0.01, 0.1, 1.0)
    free_logit: bool = True
    pairs_per_prompt: int = 16
    record_every: int = 5

    def lr_values(self, optimizer: str) -> tuple:
        return dict(self.lrs)[optimizer]

    def dpo_settings(self, widths=None) -> list[Setting]:
        return [Setting(sc, opt, lr, b, w)
                for w in (self.widths if widths is None else widths)
                for opt in self.optimizers for lr in self.lr_values(opt)
                for b in self.betas for sc in self.scenarios]

    def flex_settings(self) -> list[Setting]:
        bp = self.flex_beta_plus
        return [Setting(sc, opt, lr, bp, w, "flex", beta_minus=bm)
                for w in self.widths for opt in self.optimizers for lr in self.lr_values(opt)
                for bm in self.flex_beta_minus if not math.isclose(bm, bp)
                for sc in self.scenarios]

    def sft_settings(self) -> list[Setting]:
        return [Setting(sc, opt, lr, self.sft_beta, w, "sft", gamma=g)
                for w in self.widths for opt in self.optimizers for lr in self.lr_values(opt)
                for g in self.sft_gammas for sc in self.scenarios]

    def all_settings(self) -> list[Setting]:
        out = self.dpo_settings() + self.flex_settings() + self.sft_settings()
        if self.free_logit:
            out += self.dpo_settings(widths=(0,))
        # base DPO runs must exist at the Flex β₊ and the SFT-DPO β (the γ = 0 / β₋ = β₊ point)
        extra = [replace(s, beta=b) for b in {self.flex_beta_plus, self.sft_beta}
                 for s in self.dpo_settings() if b not in self.betas]
        seen, uniq = set(), []
        for s in out + extra:
            if s not in seen:
                seen.add(s)
                uniq.append(s)
        return uniq


FULL = SweepSpec()
QUICK = SweepSpec(seeds=8, epochs=300, widths=(16,), lrs=(("adam", (1e-2,)), ("sgd", (1.0,))),
                  betas=(0.1,), flex_beta_minus=(0.04, 0.08, 0.10, 0.14), sft_gammas=(0.1,),
                  record_every=10)


def sweep(spec: SweepSpec = FULL, seed: int = 0) -> ToyResult:
    """Run a :class:`SweepSpec`: seeds ``1000·seed + k`` for k < ``spec.seeds``."""
    if not isinstance(spec, SweepSpec):
        raise _args.BadType(f"spec: expected a SweepSpec, got {type(spec).__name__}")
    seed = _args.integer("seed", seed, lo=0)
    seeds = [1000 * seed + k for k in range(spec.seeds)]
    return run(spec.all_settings(), seeds, epochs=spec.epochs,
               pairs_per_prompt=spec.pairs_per_prompt, record_every=spec.record_every)


@lru_cache(maxsize=2)
def cached_sweep(seed: int = 0, quick: bool = False) -> ToyResult:
    """:func:`sweep` of :data:`QUICK` or :data:`FULL`, computed once per process."""
    return sweep(QUICK if quick else FULL, seed)
