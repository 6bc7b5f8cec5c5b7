"""Fakes and fixtures for the training queue: a scripted trainer, a tiny random Llama, run directories.

Not re-exported by :mod:`repomind.testing` (import it by its own path), so that importing the bot's fakes
never pulls in training code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repomind.training.trainer import Progress, TrainOutcome, TrainRequest

#: Text the tiny tokenizer is trained on: code-ish, so that diffs tokenise into a few hundred ids.
_CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n```python\n```\n",
    "Fix the bug in the function: it returns the wrong value for negative numbers.\n",
    "system user assistant You are Repomind, a careful software engineer.\n",
]


@dataclass
class FakeTrainer:
    """:class:`repomind.training.trainer.Trainer` that writes an adapter directory and scripted metrics;
    ``fail_times`` makes the first calls raise (to exercise retries)."""

    base_loss: float = 2.0
    adapter_loss: float = 1.5
    exact_match: float = 0.5
    fail_times: int = 0
    calls: list[TrainRequest] = field(default_factory=list)

    def train(self, request: TrainRequest, progress: Progress | None = None) -> TrainOutcome:
        self.calls.append(request)
        if len(self.calls) <= self.fail_times:
            raise RuntimeError(f"scripted failure {len(self.calls)}")
        adapter = request.out / "adapter"
        adapter.mkdir(parents=True, exist_ok=True)
        (adapter / "adapter_config.json").write_text(json.dumps({"base_model": request.base_model}))
        current = None
        if request.current_adapter is not None:
            current = {"loss": self.base_loss - 0.2, "exact_match": 0.0, "n": 4}
        metrics = {
            "quantized": False,
            "base": {"loss": self.base_loss, "exact_match": 0.0, "n": 4},
            "current": current,
            "adapter": {"loss": self.adapter_loss, "exact_match": self.exact_match, "n": 4},
        }
        return TrainOutcome(adapter, metrics)


def tiny_tokenizer(extra_text: Sequence[str] = (), vocab_size: int = 1024) -> Any:
    """A byte-level BPE tokenizer trained here (on a little code and the solve prompt's rules, so that
    training prompts stay a few hundred tokens long), with a ChatML template: no download."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from repomind.pipeline.solve.prompts import system_text
    from repomind.pipeline.toolchain.python import FACTS
    from repomind.training.packing import FALLBACK_CHAT_TEMPLATE

    extra_text = [system_text(FACTS), *extra_text]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|im_start|>", "<|im_end|>", "<pad>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([*_CORPUS, *extra_text] * 4, trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<pad>"
    )
    fast.chat_template = FALLBACK_CHAT_TEMPLATE
    return fast


def tiny_llama(
    directory: Path,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    intermediate: int = 128,
    extra_text: Sequence[str] = (),
    seed: int = 0,
) -> Path:
    """A randomly initialised Llama with a tiny tokenizer, saved as a model directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer(extra_text)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


def write_run(
    directory: Path,
    *,
    run_id: str,
    repo: str,
    issue: str,
    attempts: Sequence[dict[str, Any]],
    success: bool,
    patch_attempt: int | None,
) -> Path:
    """A run directory as ``repomind solve`` writes it (report, trajectory, per-attempt files): the run's
    events through the pipeline's own recorder (:class:`~repomind.pipeline.solve.recorder.RunRecorder`).
    Each attempt: ``messages``, ``reply``, ``category``, ``diff``, ``verified``."""
    from repomind.pipeline.solve import events as ev
    from repomind.pipeline.solve.artifacts import RunArtifacts
    from repomind.pipeline.solve.outcome import Category, Stopped
    from repomind.pipeline.solve.recorder import RunRecorder
    from repomind.pipeline.solve.reflect import AttemptRecord
    from repomind.pipeline.solve.request import SolveReport

    emit = ev.RunEvents(RunRecorder(RunArtifacts(directory, run_id))).emit
    stopped = Stopped.PASSED if success else Stopped.ATTEMPTS_EXHAUSTED
    report = SolveReport(run_id, success, success, stopped, "", "scripted", "0" * 40, max_attempts=3)
    emit(ev.RunStarted(run_id, repo, report.commit, "scripted", issue, 3, {}))
    for n, attempt in enumerate(attempts, start=1):
        emit(ev.AttemptStarted(n, "scripted", attempt["messages"]))
        emit(ev.Replied(n, attempt["reply"], "scripted", 10, 10, None, 0.0))
        diff = attempt.get("diff", "")
        if diff:
            emit(ev.PatchApplied(n, [], [], [], diff=diff))
        record = AttemptRecord(n, Category(attempt["category"]), "", diff=diff)
        record.verified = attempt.get("verified", False)
        report.attempts.append(record)
        emit(ev.Reflected(record))
    report.patch_attempt = patch_attempt
    patch = attempts[patch_attempt - 1].get("diff", "") if patch_attempt else ""
    emit(ev.RunFinished(report, patch))
    return directory
