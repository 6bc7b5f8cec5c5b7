"""`repomind train dataset`: build a training dataset from the store, SWE-bench gold patches and history."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from repomind.cli.context import Context, pass_ctx
from repomind.errors import UsageError


def _token_counter(path: str | None) -> tuple[Callable[[str], int] | None, str | None]:
    if path is None:
        return None, None
    from transformers import AutoTokenizer

    source = Path(path)
    kwargs = {"gguf_file": source.name} if source.suffix == ".gguf" else {}
    directory = source.parent if source.suffix == ".gguf" else source
    tokenizer = AutoTokenizer.from_pretrained(str(directory), **kwargs)
    return (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), f"tokenizer {path}"


@click.command("dataset")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="The dataset directory."
)
@click.option("--from-store", is_flag=True, help="Feedback in the store joined with the runs under --runs.")
@click.option(
    "--runs",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run dirs (default: DATA_DIR/runs).",
)
@click.option("--include-unreviewed", is_flag=True, help="Also verified runs no maintainer has reviewed.")
@click.option(
    "--installation",
    type=click.IntRange(min=1),
    default=None,
    help="With --from-store: only this installation's feedback and runs (required unless "
    "REPOMIND_TRAINING_SCOPE=shared).",
)
@click.option(
    "--swebench",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="SWE-bench JSONL.",
)
@click.option(
    "--repos",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="owner__name repositories.",
)
@click.option(
    "--history",
    "history",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A git repository whose small source-only commits become examples (repeatable).",
)
@click.option(
    "--history-max",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Examples per repository.",
)
@click.option(
    "--history-limit", type=click.IntRange(min=1), default=3000, show_default=True, help="Commits looked at."
)
@click.option(
    "--eval-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
)
@click.option(
    "--tokenizer", default=None, help="Count tokens with this tokenizer (directory or GGUF); else chars/4."
)
@click.option(
    "--max-tokens", type=click.IntRange(min=16), default=None, help="Drop examples longer than this."
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest on stdout.")
@pass_ctx
def dataset(
    ctx: Context,
    out: Path,
    from_store: bool,
    runs: Path | None,
    include_unreviewed: bool,
    installation: int | None,
    swebench: Path | None,
    repos: Path | None,
    history: tuple[Path, ...],
    history_max: int,
    history_limit: int,
    eval_fraction: float,
    tokenizer: str | None,
    max_tokens: int | None,
    as_json: bool,
) -> None:
    """Build a dataset (supervised, KTO and DPO files, split by issue, scrubbed, with a card) in OUT."""
    from repomind.progress import bar
    from repomind.training.dataset import build_dataset
    from repomind.training.examples import Example
    from repomind.training.from_external import history_examples, swebench_examples
    from repomind.training.scrub import Scrubber

    if not (from_store or swebench or history):
        raise UsageError("no source: give --from-store, --swebench F --repos DIR, or --history REPO")
    if swebench is not None and repos is None:
        raise UsageError("--swebench needs --repos DIR (one git repository per owner__name)")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty: choose a new directory")
    examples: list[Example] = []
    sources: list[str] = []
    if from_store:
        from repomind.store import Ledger, make_engine
        from repomind.training.config import TrainingSettings

        if installation is None and TrainingSettings().scope != "shared":
            raise UsageError(
                "--from-store needs --installation ID: training data is kept per installation "
                "(REPOMIND_TRAINING_SCOPE=installation)"
            )
        from repomind.store.artifacts import open_artifacts
        from repomind.training.store_source import store_examples

        ledger = Ledger(make_engine(ctx.settings.database))
        with bar("feedback") as progress:
            found, counts = store_examples(
                ledger,
                runs or ctx.settings.runs_dir,
                include_unreviewed=include_unreviewed,
                progress=progress,
                installation_id=installation,
                artifacts=open_artifacts(ctx.settings, ledger),
            )
        examples += found
        sources.append(f"the store ({counts['feedback']} feedback rows, {counts['with_run']} with their run)")
    if swebench is not None and repos is not None:
        with bar("gold patches") as progress:
            gold, skipped = swebench_examples(swebench, repos, progress=progress)
        examples += gold
        sources.append(
            f"{len(gold)} gold patches from {swebench.name} ({len(skipped)} skipped: no repository)"
        )
    for repo in history:
        with bar(f"history of {repo.name}") as progress:
            found_h = history_examples(repo, limit=history_limit, max_examples=history_max, progress=progress)
        examples += found_h
        sources.append(f"{len(found_h)} commits of {repo.name}")
    count, name = _token_counter(tokenizer)
    info = build_dataset(
        examples,
        out,
        eval_fraction=eval_fraction,
        scrubber=Scrubber(ctx.settings.secret_values()),
        count_tokens=count,
        tokenizer_name=name,
        max_tokens=max_tokens,
        description="Built from " + "; ".join(sources) + ".",
    )
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
    else:
        c = info.counts
        click.echo(
            f"dataset {info.short_hash} in {out}: sft {c['sft']['train']}+{c['sft']['eval']}, "
            f"kto {c['kto']['train']}+{c['kto']['eval']}, dpo {c['dpo']['train']}+{c['dpo']['eval']} "
            f"(train+eval); {info.issues['eval']} of {info.issues['train'] + info.issues['eval']} "
            "issues held out"
        )
