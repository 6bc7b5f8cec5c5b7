"""One training job: evaluate the base (and the adapter being served), train an adapter, evaluate it.

:class:`Trainer` is the seam the queue calls; :class:`QLoRATrainer` is the real one (torch inside its
methods only) and ``repomind.testing.training.FakeTrainer`` the fake. Metrics, per model evaluated
(``base``, ``current`` when an adapter is being served, ``adapter``): ``loss`` (mean cross-entropy per
target token on the held-out supervised examples) and ``exact_match`` (the share of a few held-out
examples where greedy generation makes the same change as the target: same files, same search and
replace text after whitespace normalisation).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from repomind.training.config import TrainConfig
from repomind.training.dataset import load_info, load_split
from repomind.training.examples import Supervised, same_patch
from repomind.training.packing import (
    Row,
    Tokenised,
    batches,
    pack,
    prompt_ids,
    tokenise,
    tokenise_turns,
    unpacked,
)

Progress = Callable[[str], None]


@dataclass
class TrainRequest:
    dataset: Path
    base_model: str
    out: Path
    config: TrainConfig = field(default_factory=TrainConfig)
    #: The adapter being served for this base model, evaluated beside the new one for promotion.
    current_adapter: Path | None = None


@dataclass
class TrainOutcome:
    adapter: Path
    metrics: dict[str, Any]


class Trainer(Protocol):
    def train(self, request: TrainRequest, progress: Progress | None = None) -> TrainOutcome: ...


def _supervised(dataset: Path, split: str) -> list[Supervised]:
    return [e for e in load_split(dataset, "sft", split) if isinstance(e, Supervised)]


def tokenise_all(tokenizer: Any, examples: list[Supervised], max_len: int) -> tuple[list[Tokenised], int]:
    items, dropped = [], 0
    for example in examples:
        item = (
            tokenise_turns(tokenizer, example.messages, max_len, example.tools)
            if example.tools
            else tokenise(tokenizer, example.messages, max_len)
        )
        if item is None:
            dropped += 1
        else:
            items.append(item)
    return items, dropped


def make_rows(items: list[Tokenised], config: TrainConfig, pad_id: int) -> list[Row]:
    return pack(items, config.max_seq_len, pad_id) if config.packing else unpacked(items)


def held_out_loss(loaded: Any, rows: list[Row], config: TrainConfig) -> float | None:
    import torch

    from repomind.training.qlora import target_loss, tensors

    if not rows:
        return None
    model = loaded.model
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    try:
        with torch.no_grad(), _autocast(loaded):
            for group in batches(rows, config.batch_size, loaded.tokenizer.pad_token_id):
                loss, count = target_loss(model, tensors(group, loaded.device), target_only_head=True)
                total += float(loss)
                n += count
    finally:
        if was_training:
            model.train()
    return total / n if n else None


def exact_match(loaded: Any, examples: list[Supervised], config: TrainConfig) -> float | None:
    from repomind.training.qlora import generate

    chosen = [e for e in examples if not e.tools][: config.exact_match_examples]  # a patch to compare
    if not chosen:
        return None
    hits = 0
    for example in chosen:
        target = example.messages[-1]["content"]
        prompt = prompt_ids(loaded.tokenizer, example.messages[:-1])
        budget = min(config.max_new_tokens, len(loaded.tokenizer(target)["input_ids"]) + 32)
        hits += same_patch(generate(loaded, prompt, max_new_tokens=budget), target)
    return hits / len(chosen)


def _autocast(loaded: Any) -> Any:
    import contextlib

    import torch

    if loaded.device == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def evaluate(loaded: Any, rows: list[Row], examples: list[Supervised], config: TrainConfig) -> dict[str, Any]:
    return {
        "loss": held_out_loss(loaded, rows, config),
        "exact_match": exact_match(loaded, examples, config),
        "n": len(examples),
    }


class QLoRATrainer:
    """:class:`Trainer` on transformers + peft (+ bitsandbytes on CUDA)."""

    def train(self, request: TrainRequest, progress: Progress | None = None) -> TrainOutcome:
        import torch

        from repomind.training.qlora import attach_lora, load_base, target_loss, tensors

        say = progress or (lambda _line: None)
        config = request.config
        started = time.monotonic()
        torch.manual_seed(config.seed)
        info = load_info(request.dataset)
        train_examples = _supervised(request.dataset, "train")
        eval_examples = _supervised(request.dataset, "eval")
        if not train_examples:
            from repomind.errors import UsageError

            raise UsageError(f"dataset {request.dataset} has no supervised training examples")
        say(f"loading {request.base_model}")
        loaded = load_base(request.base_model, config, cache_dir=request.out / "base")
        pad = loaded.tokenizer.pad_token_id
        train_items, dropped_train = tokenise_all(loaded.tokenizer, train_examples, config.max_seq_len)
        eval_items, dropped_eval = tokenise_all(loaded.tokenizer, eval_examples, config.max_seq_len)
        if not train_items:
            from repomind.errors import UsageError

            raise UsageError(
                f"no training example fits in max_seq_len {config.max_seq_len} tokens "
                f"({dropped_train} longer ones dropped)"
            )
        train_rows = make_rows(train_items, config, pad)
        eval_rows = make_rows(eval_items, config, pad)
        model = attach_lora(loaded, config)
        metrics: dict[str, Any] = {
            "dataset_hash": info.hash,
            "base_model": request.base_model,
            "quantized": loaded.quantized,
            "device": loaded.device,
            "notes": loaded.notes,
            "train_examples": len(train_items),
            "eval_examples": len(eval_items),
            "dropped_too_long": dropped_train + dropped_eval,
            "train_rows": len(train_rows),
            "target_tokens": sum(i.targets for i in train_items),
            "config": config.to_dict(),
        }
        say("evaluating the base model")
        with model.disable_adapter():
            metrics["base"] = evaluate(loaded, eval_rows, eval_examples, config)
        metrics["current"] = None
        if request.current_adapter is not None and request.current_adapter.is_dir():
            say(f"evaluating the served adapter {request.current_adapter}")
            model.load_adapter(str(request.current_adapter), adapter_name="current")
            model.set_adapter("current")
            metrics["current"] = evaluate(loaded, eval_rows, eval_examples, config)
            model.set_adapter("default")
            model.delete_adapter("current")
            model.train()
        losses = self._fit(loaded, train_rows, config, say, target_loss, tensors)
        metrics["train_loss"] = {"first": losses[0], "last": losses[-1], "steps": len(losses)}
        say("evaluating the new adapter")
        metrics["adapter"] = evaluate(loaded, eval_rows, eval_examples, config)
        adapter_dir = request.out / "adapter"
        model.save_pretrained(str(adapter_dir))
        loaded.tokenizer.save_pretrained(str(adapter_dir))
        metrics["seconds"] = round(time.monotonic() - started, 2)
        if loaded.device == "cuda":
            metrics["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        (request.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        return TrainOutcome(adapter_dir, metrics)

    @staticmethod
    def _fit(
        loaded: Any, rows: list[Row], config: TrainConfig, say: Progress, loss_fn: Any, to_tensors: Any
    ) -> list[float]:
        import torch

        model = loaded.model
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
        per_epoch = math.ceil(len(rows) / config.batch_size)
        steps = config.max_steps or max(1, math.ceil(config.epochs * per_epoch / config.grad_accum))
        warmup = min(config.warmup_steps, max(0, steps - 1))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: min(1.0, (s + 1) / (warmup + 1)) * max(0.1, 1 - s / steps)
        )
        losses: list[float] = []
        rng = random.Random(config.seed)
        queue: list[list[Row]] = []
        model.train()
        for step in range(steps):
            total, count = None, 0
            for _ in range(config.grad_accum):
                if not queue:
                    queue = batches(
                        rows, config.batch_size, loaded.tokenizer.pad_token_id, seed=rng.randrange(1 << 30)
                    )
                group = queue.pop()
                with _autocast(loaded):
                    loss, n = loss_fn(
                        model, to_tensors(group, loaded.device), target_only_head=config.target_only_head
                    )
                if n == 0:
                    continue
                (loss / max(n, 1) / config.grad_accum).backward()
                value = float(loss.detach())
                total = value if total is None else total + value
                count += n
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad(set_to_none=True)
            if total is not None and count:
                losses.append(total / count)
                say(f"step {step + 1}/{steps} loss {losses[-1]:.4f}")
        if not losses:
            raise ValueError("no target token in any training row")
        return losses
