"""TRL 1.16's ``DPOTrainer`` as the outside oracle for :func:`dpomath.train.engine.train`.

:func:`run_trl` trains with TRL on the same weights (a model directory), the same pairs, the
same batches in the same order, and the same hyperparameters as a dpomath run, and returns
TRL's own logged rows (``loss``, ``rewards/*``, ``logps/*``, one per optimizer step). How the
two are made to meet:

* **weights**: both load the same safetensors directory (TRL builds its reference model from
  that path, as it always does); in ``lora`` mode both wrap the loaded model with the same
  ``peft.LoraConfig`` right after seeding torch with the run's seed; in ``last-layer`` mode TRL
  gets the model with its head untied and everything else frozen;
* **data and tokenisation**: dpomath tokenises by TRL's rules (:func:`dpomath.train.data.tokenize`:
  EOS appended to standard responses, chat template for conversational ones, the prompt as the
  common prefix); TRL gets the very same records;
* **batches**: TRL's sampler is replaced by one that yields dpomath's schedule
  (:func:`dpomath.train.engine.batch_schedule`), micro-batch by micro-batch;
* **hyperparameters**: AdamW with weight decay 0 (= Adam), a constant learning rate, no
  gradient clipping unless asked, float32 (``bf16=False``), dropout disabled (both);
  ``logging_steps=1`` so that row k is TRL's log of update k.

TRL keeps its own defaults otherwise (gradient checkpointing on, its fused LM head, padding
of prompt + response per sequence, the reference model run at every step unless
``precompute=True``).
"""
from __future__ import annotations

import tempfile
import time
from typing import Any, Sequence

__all__ = ["run_trl", "trl_loss_type"]


def trl_loss_type(kind: str) -> str:
    """TRL's ``loss_type`` for a dpomath loss kind (TRL's ``ipo`` is dpomath's ``ipo-norm``)."""
    from dpomath.losses import TRL_LOSS_TYPES, get_loss

    k = get_loss(kind).kind
    for trl_name, (ours, _) in TRL_LOSS_TYPES.items():
        if ours == k:
            return trl_name
    raise ValueError(f"loss: {kind!r} has no TRL counterpart")


def run_trl(model_path: str, tokenizer, records: Sequence[dict], *, mode: str = "full",
            loss: str = "sigmoid", beta: float = 0.1, lr: float = 1e-5, steps: int = 5,
            batch_size: int = 4, grad_accum: int = 1, seed: int = 0, shuffle: bool = True,
            max_grad_norm: float | None = None, max_length: int | None = 1024,
            precompute: bool = False, lora_r: int = 8, lora_alpha: float = 16.0,
            lora_targets=None, activation_checkpointing: bool = True,
            loss_params: dict | None = None, output_dir: str | None = None) -> dict[str, Any]:
    """Train with TRL's ``DPOTrainer`` on ``records`` (TRL-format dicts) and return
    ``{"history": [row per step], "seconds": train() wall time, "init_seconds": the trainer's
    construction (reference precomputation included), "step_seconds": [per update]}``.

    ``activation_checkpointing`` (on by default, as TRL's configs have it) is passed under
    transformers' current name: TRL's default sets the deprecated ``gradient_checkpointing``,
    which makes transformers warn (FutureWarning) on every config."""
    import datasets
    import torch
    from torch.utils.data import Sampler
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from .engine import batch_schedule
    from .models import untie_head

    datasets.disable_progress_bars()
    n = len(records)
    if n % batch_size:
        raise ValueError(f"records: {n} pairs do not fill whole batches of {batch_size}")
    order = [i for s in range(steps) for i in batch_schedule(n, batch_size, s, seed, shuffle)]

    class _Fixed(Sampler):
        def __init__(self, idx):
            self.idx = idx

        def __iter__(self):
            return iter(self.idx)

        def __len__(self):
            return len(self.idx)

    class _Trainer(DPOTrainer):
        def _get_train_sampler(self, train_dataset=None):
            return _Fixed(order)

    class _Rows(TrainerCallback):
        def __init__(self):
            self.rows = []
            self.step_seconds = []
            self.t = None

        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.step_seconds.append(time.perf_counter() - self.t)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "rewards/chosen" in logs:
                self.rows.append(dict(logs, step=state.global_step))

    extra = dict(loss_params or {})
    if "tau" in extra:
        extra["discopop_tau"] = extra.pop("tau")
    kw: dict[str, Any] = {"activation_checkpointing": bool(activation_checkpointing)}
    out = output_dir or tempfile.mkdtemp(prefix="dpomath-trl-")
    args = DPOConfig(output_dir=out, report_to=[], use_cpu=not torch.cuda.is_available(),
                     beta=beta, loss_type=[trl_loss_type(loss)], learning_rate=lr,
                     lr_scheduler_type="constant", weight_decay=0.0, optim="adamw_torch",
                     per_device_train_batch_size=batch_size // grad_accum,
                     gradient_accumulation_steps=grad_accum, max_steps=steps, logging_steps=1,
                     save_strategy="no", bf16=False, fp16=False, seed=seed,
                     max_grad_norm=max_grad_norm or 0.0, max_length=max_length,
                     precompute_ref_log_probs=precompute, disable_tqdm=True,
                     model_init_kwargs={"dtype": torch.float32}, **extra, **kw)
    peft_config = None
    t0 = time.perf_counter()
    if mode == "full":
        model = model_path
    else:
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32,
                                                     local_files_only=True, trust_remote_code=False)
        if mode == "last-layer":
            untie_head(model)
            for p in model.parameters():
                p.requires_grad_(False)
            model.get_output_embeddings().weight.requires_grad_(True)
            args.model_init_kwargs = None
        elif mode == "lora":
            from peft import LoraConfig, get_peft_model

            torch.manual_seed(seed)
            model = get_peft_model(model, LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0,
                                                     target_modules=list(lora_targets) if lora_targets else None,
                                                     task_type="CAUSAL_LM"))
            args.model_init_kwargs = None
        else:
            raise ValueError(f"mode: must be full, lora or last-layer, got {mode!r}")
    rows = _Rows()
    trainer = _Trainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(list(records)),
                       processing_class=tokenizer, callbacks=[rows], peft_config=peft_config)
    init = time.perf_counter() - t0
    t1 = time.perf_counter()
    trainer.train()
    secs = time.perf_counter() - t1
    return {"history": rows.rows, "seconds": secs, "init_seconds": init, "trainer": trainer,
            "step_seconds": rows.step_seconds}
