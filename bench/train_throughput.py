"""QLoRA training throughput and memory at 6.7B scale: the plain recipe against Repomind's trainer.

    python bench/train_throughput.py [--steps 8] [--warmup 2] [--out bench/out/train_throughput.json]
    python bench/train_throughput.py --tiny          # CPU smoke test of the script (no quantisation)

A randomly initialised Llama (hidden 4096, 32 layers, intermediate 11008, vocabulary 32256: deepseek-coder
6.7B's shape; weights do not change speed) is saved once as a bf16 checkpoint, then each variant loads it
in its own process, in 4-bit NF4 with double quantisation and bf16 compute, with LoRA r=16, alpha=32 on
every linear layer, gradient checkpointing, micro-batches of 4 and sequences of up to 2048 tokens:

* ``baseline``: the plain transformers + peft + bitsandbytes recipe: ``prepare_model_for_kbit_training``,
  the model's own loss over full logits, batches padded to their longest example.
* ``repomind``: :mod:`repomind.training.qlora`: examples packed into 2048-token rows (positions restart
  per example), SDPA, the output head only on target tokens (chunked), non-reentrant checkpointing, no
  fp32 up-casting of the frozen weights, Liger's fused kernels where installed.

Two workloads, each measured for both: ``full`` (every example 2048 tokens: nothing to pack, so it
measures the kernels alone) and ``mixed`` (lengths drawn like real training examples, log-normal around
900 tokens, 30% of each example the target: what packing is for). Throughput counts real (non-padding)
tokens per second; peak memory is ``torch.cuda.max_memory_allocated``. Prints JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHAPE_67B = {"hidden": 4096, "layers": 32, "heads": 32, "intermediate": 11008, "vocab": 32256}
SHAPE_TINY = {"hidden": 64, "layers": 2, "heads": 4, "intermediate": 128, "vocab": 512}


def make_checkpoint(directory: Path, shape: dict[str, int]) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=shape["vocab"],
        hidden_size=shape["hidden"],
        intermediate_size=shape["intermediate"],
        num_hidden_layers=shape["layers"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape["heads"],
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    model.save_pretrained(str(directory))
    # A tokenizer only so that the loaders find one (the workload is token ids already).
    from repomind.testing.training import tiny_tokenizer

    tiny_tokenizer().save_pretrained(str(directory))
    del model
    gc.collect()


def workload(kind: str, n: int, max_len: int, vocab: int, seed: int) -> list[Any]:
    """Examples as (input ids, labels): ``full`` all max_len long, ``mixed`` log-normal lengths."""
    from repomind.training.packing import IGNORE, Tokenised

    rng = random.Random(seed)
    items = []
    for _ in range(n):
        if kind == "full":
            length = max_len
        else:
            length = int(min(max_len, max(64, rng.lognormvariate(math.log(max_len * 0.44), 0.6))))
        ids = [rng.randrange(3, vocab) for _ in range(length)]
        prompt = int(length * 0.7)
        items.append(Tokenised(ids, [IGNORE] * prompt + ids[prompt:]))
    return items


def _baseline_model(path: str, quantize: bool) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict[str, Any] = {"attn_implementation": "sdpa"}
    if quantize:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["dtype"] = torch.bfloat16
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    lora = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    model = get_peft_model(model, lora)
    model.train()
    return model


def run_variant(variant: str, path: str, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from repomind.training.config import TrainConfig
    from repomind.training.packing import batches, pack, unpacked
    from repomind.training.qlora import attach_lora, load_base, target_loss, tensors

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    shape = SHAPE_TINY if args.tiny else SHAPE_67B
    n = args.batch * (args.steps + args.warmup) * (4 if kind == "mixed" else 1)
    items = workload(kind, n, args.seq, shape["vocab"], seed=1)
    notes: list[str] = []
    if variant == "baseline":
        from repomind.training.qlora import quantisation_available

        quantize = quantisation_available()[0]
        model = _baseline_model(path, quantize)
        groups = batches(unpacked(items), args.batch, pad_id=0)
    else:
        config = TrainConfig(
            lora_dropout=0.05, max_seq_len=args.seq, batch_size=args.batch, fused_kernels=not args.no_fused
        )
        loaded = load_base(path, config, cache_dir=Path(tempfile.mkdtemp()))
        model = attach_lora(loaded, config)
        quantize, notes = loaded.quantized, loaded.notes
        groups = batches(pack(items, args.seq, pad_id=0), args.batch, pad_id=0)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=2e-4)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    real_tokens, seconds, losses = 0, 0.0, []
    for step, group in enumerate(groups[: args.steps + args.warmup]):
        batch = tensors(group, device)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        if variant == "baseline":
            ids = batch["input_ids"]  # one example per row, right-padded: the plain attention mask
            mask = torch.tensor([[1] * r.real + [0] * (r.used - r.real) for r in group], device=device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                out = model(input_ids=ids, attention_mask=mask, labels=batch["labels"])
            loss = out.loss
        else:
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                total, count = target_loss(model, batch)
            loss = total / count
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if step >= args.warmup:
            seconds += time.perf_counter() - start
            real_tokens += sum(r.real for r in group)
        losses.append(float(loss.detach()))
    return {
        "variant": variant,
        "workload": kind,
        "quantized": quantize,
        "tokens_per_s": round(real_tokens / seconds, 1) if seconds else None,
        "real_tokens": real_tokens,
        "seconds": round(seconds, 3),
        "steps": args.steps,
        "rows_per_step": args.batch,
        "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None,
        "loss_first": losses[0],
        "notes": notes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny model on CPU: checks the script runs")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--workloads", default="full,mixed")
    parser.add_argument(
        "--no-fused", action="store_true", help="without Liger's kernels even where installed"
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="reuse a saved random checkpoint")
    parser.add_argument("--out", type=Path, default=Path("bench/out/train_throughput.json"))
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--workload", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tiny:
        args.seq, args.steps, args.warmup, args.batch = min(args.seq, 256), min(args.steps, 3), 1, 2
    if args.variant:  # a child process: one variant on one workload
        print(json.dumps(run_variant(args.variant, str(args.checkpoint), args.workload, args)))
        return
    shape = SHAPE_TINY if args.tiny else SHAPE_67B
    checkpoint = args.checkpoint or Path(tempfile.mkdtemp(prefix="repomind-6.7b-")) / "model"
    if not (checkpoint / "config.json").is_file():
        made = time.perf_counter()
        make_checkpoint(checkpoint, shape)
        print(f"checkpoint written in {time.perf_counter() - made:.0f}s", file=sys.stderr)
    results = []
    for kind in args.workloads.split(","):
        for variant in ("baseline", "repomind"):
            cmd = [
                sys.executable,
                __file__,
                "--variant",
                variant,
                "--workload",
                kind,
                "--checkpoint",
                str(checkpoint),
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
                "--batch",
                str(args.batch),
                "--seq",
                str(args.seq),
                *(["--no-fused"] if args.no_fused else []),
            ] + (["--tiny"] if args.tiny else [])
            done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}, check=False)
            if done.returncode != 0:
                results.append({"variant": variant, "workload": kind, "error": done.stderr[-2000:]})
            else:
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr)
    summary: dict[str, Any] = {}
    for kind in args.workloads.split(","):
        pair = {r["variant"]: r for r in results if r["workload"] == kind and "error" not in r}
        if len(pair) == 2 and pair["baseline"]["tokens_per_s"]:
            summary[kind] = {
                "speedup": round(pair["repomind"]["tokens_per_s"] / pair["baseline"]["tokens_per_s"], 3),
                "memory_ratio": (
                    round(pair["repomind"]["peak_gib"] / pair["baseline"]["peak_gib"], 3)
                    if pair["baseline"]["peak_gib"]
                    else None
                ),
            }
    report = {"shape": shape, "seq": args.seq, "batch": args.batch, "results": results, "summary": summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
