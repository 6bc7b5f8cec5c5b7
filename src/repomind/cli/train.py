"""`repomind train`: the fine-tuning queue (consume it, run one job, enqueue, status) and datasets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from repomind.cli.context import Context, pass_ctx
from repomind.errors import UsageError


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


_INSTALLATION = click.option(
    "--installation",
    type=click.IntRange(min=1),
    default=None,
    help="The installation whose data this is: its adapter serves only that installation's runs "
    "(REPOMIND_TRAINING_SCOPE=installation). Without it the adapter is shared.",
)


def _scope(service: Any, installation: int | None) -> str:
    from repomind.training.scope import SHARED, scope_key

    return SHARED if installation is None else scope_key(service.settings.scope, installation) or SHARED


def _service(ctx: Context, config: Path | None = None) -> Any:
    from repomind.store import Ledger, make_engine
    from repomind.training.compose import load_config, make_service

    return make_service(ctx.settings, Ledger(make_engine(ctx.settings.database)), config=load_config(config))


@click.group("train", invoke_without_command=True)
@click.option("--once", is_flag=True, help="One pass: check for new feedback, run what is queued, exit.")
@click.option(
    "--poll", type=click.FloatRange(min=0.1), default=30.0, show_default=True, help="Seconds between passes."
)
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Hyperparameters (JSON)."
)
@click.pass_context
def train(click_ctx: click.Context, once: bool, poll: float, config: Path | None) -> None:
    """Consume the training queue: enqueue a job when enough new feedback has arrived
    (REPOMIND_TRAIN_MIN_NEW_EXAMPLES), run queued jobs, retry failures up to REPOMIND_TRAIN_MAX_ATTEMPTS.

    `repomind worker --queue training` does the same from the job queue.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    service = _service(ctx, config)
    while True:
        service.check()
        for job in service.run_pending():
            click.echo(
                f"training job {job.id}: {job.state}" + (f" ({job.error})" if job.error else ""), err=True
            )
        if once:
            return
        time.sleep(poll)


@train.command("run")
@click.option(
    "--dataset", required=True, type=click.Path(path_type=Path, exists=True), help="A dataset directory."
)
@click.option("--base-model", default=None, help="A hub name, local directory or GGUF file.")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Where the adapter and metrics go."
)
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Hyperparameters (JSON)."
)
@click.option(
    "--register", is_flag=True, help="Record the adapter in the registry and apply the promotion rule."
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics on stdout.")
@_INSTALLATION
@pass_ctx
def run(
    ctx: Context,
    dataset: Path,
    base_model: str | None,
    out: Path,
    config: Path | None,
    register: bool,
    as_json: bool,
    installation: int | None,
) -> None:
    """Train one adapter on DATASET now, in this process (evaluated before and after)."""
    from repomind.progress import status
    from repomind.training.dataset import load_info
    from repomind.training.promotion import decide
    from repomind.training.trainer import TrainRequest

    try:
        info = load_info(dataset)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    service = _service(ctx, config)
    model = base_model or service.settings.base_model
    scope = _scope(service, installation)
    current = service.ledger.promoted(model, scope=scope) if register else None
    request = TrainRequest(
        dataset,
        model,
        out,
        service.config,
        current_adapter=Path(current.path) if current is not None else None,
    )
    with status(f"training on {info.short_hash}") as say:
        outcome = service.trainer.train(request, say)
    metrics = dict(outcome.metrics)
    if register:
        adapter = service.ledger.register_adapter(
            job_id=None,
            dataset_hash=info.hash,
            base_model=model,
            path=str(outcome.adapter),
            metrics=metrics,
            scope=scope,
        )
        decision = decide(metrics, has_current=current is not None)
        service.ledger.decide(adapter.id, promote=decision.promote, decision=decision.reason)
        metrics["promotion"] = {
            "promoted": decision.promote,
            "reason": decision.reason,
            "version": adapter.version,
        }
    if as_json:
        _echo_json(metrics)
    else:
        base, new = metrics.get("base") or {}, metrics.get("adapter") or {}
        click.echo(f"adapter: {outcome.adapter}")
        click.echo(
            f"held-out loss {base.get('loss')} -> {new.get('loss')}; exact-patch match "
            f"{base.get('exact_match')} -> {new.get('exact_match')}; quantized: {metrics.get('quantized')}"
        )


@train.command("enqueue")
@click.option("--dataset", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None)
@click.option("--from-store", is_flag=True, help="Build a dataset from the store's feedback and runs first.")
@click.option("--base-model", default=None, help="A hub name, local directory or GGUF file.")
@_INSTALLATION
@pass_ctx
def enqueue(
    ctx: Context, dataset: Path | None, from_store: bool, base_model: str | None, installation: int | None
) -> None:
    """Ask for a training job on demand (one per dataset hash: asking again is a no-op)."""
    from repomind.store.queue import open_queue
    from repomind.training.queue import announcer

    if (dataset is None) == (not from_store):
        raise UsageError("give exactly one of --dataset DIR and --from-store")
    service = _service(ctx)
    service.notify = announcer(open_queue(data_dir=ctx.settings.data_dir, redis_url=ctx.settings.redis_url))
    scope = _scope(service, installation)
    if dataset is None:
        try:
            dataset = service.dataset_from_store(scope=scope).path
        except ValueError as exc:
            raise UsageError(f"{exc} (--installation ID)") from None
    job = service.enqueue(dataset, base_model=base_model, scope=scope)
    click.echo(f"training job {job.id} ({job.state}) for dataset {job.dataset_hash[:12]}")


@train.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON on stdout.")
@pass_ctx
def train_status(ctx: Context, as_json: bool) -> None:
    """The queue, the jobs and the adapter registry."""
    data = _service(ctx).status()
    if as_json:
        _echo_json(data)
        return
    click.echo(f"new feedback: {data['new_feedback']} (a job is enqueued at {data['min_new_examples']})")
    click.echo(f"jobs ({len(data['jobs'])}):")
    for j in data["jobs"]:
        err = f"  error: {j['error']}" if j["error"] else ""
        click.echo(
            f"  #{j['id']} {j['state']:<9} {j['scope']} dataset {j['dataset']} "
            f"tries {j['attempts']}/{j['max_attempts']}{err}"
        )
    click.echo(f"adapters ({len(data['adapters'])}):")
    for a in data["adapters"]:
        mark = "*" if a["promoted"] else " "
        click.echo(
            f" {mark}v{a['version']} {a['scope']} dataset {a['dataset']} loss {a['loss']} "
            f"match {a['exact_match']}: {a['decision']}"
        )


from repomind.cli.train_dataset import dataset  # noqa: E402

train.add_command(dataset)
