"""LoRA on a tiny randomly initialised Llama on CPU: packing and label masks, the loss going down, the
adapter saved, reloaded and generating. torch runs with one thread (OMP_NUM_THREADS=1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import require

torch = require("torch")
require("peft")

from repomind.testing.training import tiny_llama  # noqa: E402
from repomind.training.config import TrainConfig  # noqa: E402
from repomind.training.dataset import build_dataset  # noqa: E402
from repomind.training.examples import Supervised  # noqa: E402
from repomind.training.packing import IGNORE, batches, pack, prompt_ids, tokenise, unpacked  # noqa: E402
from repomind.training.qlora import Loaded, generate, load_adapter, load_base, target_loss, tensors  # noqa: E402
from repomind.training.trainer import QLoRATrainer, TrainRequest  # noqa: E402

TARGET = (
    "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```"
)


def _messages(i: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are Repomind."},
        {"role": "user", "content": f"Fix add() number {i}: it subtracts"},
        {"role": "assistant", "content": TARGET},
    ]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return tiny_llama(tmp_path_factory.mktemp("tiny") / "model", extra_text=[TARGET])


def _loaded(tiny: Path, tmp: Path) -> Loaded:
    return load_base(str(tiny), TrainConfig(), cache_dir=tmp)


def test_labels_cover_only_the_assistant_turn(tiny: Path, tmp_path: Path) -> None:
    loaded = _loaded(tiny, tmp_path)
    tok = loaded.tokenizer
    item = tokenise(tok, _messages(1), max_len=512)
    assert item is not None
    prompt = prompt_ids(tok, _messages(1)[:-1])
    assert item.input_ids[: len(prompt)] == prompt
    assert all(x == IGNORE for x in item.labels[: len(prompt)])
    target_ids = [x for x in item.labels if x != IGNORE]
    assert tok.decode(target_ids, skip_special_tokens=True).strip() == TARGET
    assert tokenise(tok, _messages(1), max_len=len(item) - 1) is None  # too long: dropped, not cut


def test_packing_keeps_examples_apart(tiny: Path, tmp_path: Path) -> None:
    """The loss of packed rows equals the loss of the same examples one per row: no example attends to
    its neighbours in a packed row (position ids restart, transformers masks by them)."""
    loaded = _loaded(tiny, tmp_path)
    tok = loaded.tokenizer
    items = [tokenise(tok, _messages(i) if i % 2 else _messages(i)[1:], 512) for i in range(5)]
    assert all(items)
    longest = max(len(i) for i in items if i)
    rows = pack([i for i in items if i], max_len=2 * longest + 5, pad_id=tok.pad_token_id)
    assert len(rows) < 5 and sum(r.examples for r in rows) == 5
    assert rows[0].position_ids.count(0) == rows[0].examples
    loaded.model.eval()
    with torch.no_grad():
        packed = sum(
            float(target_loss(loaded.model, tensors(b, "cpu"))[0]) for b in batches(rows, 2, tok.pad_token_id)
        )
        alone = sum(
            float(target_loss(loaded.model, tensors(b, "cpu"))[0])
            for b in batches(unpacked([i for i in items if i]), 2, tok.pad_token_id)
        )
        full_head = sum(
            float(target_loss(loaded.model, tensors(b, "cpu"), target_only_head=False)[0])
            for b in batches(rows, 2, tok.pad_token_id)
        )
    assert packed == pytest.approx(alone, rel=1e-4)
    assert full_head == pytest.approx(packed, rel=1e-4)  # the target-only head is the same loss


def test_lora_trains_saves_reloads_and_generates(tiny: Path, tmp_path: Path) -> None:
    examples = [Supervised(f"o/r#{i}", "test", _messages(i)) for i in range(16)]
    info = build_dataset(examples, tmp_path / "ds", eval_fraction=0.25)
    assert info.counts["sft"]["eval"] > 0
    config = TrainConfig(
        max_steps=12,
        batch_size=2,
        max_seq_len=256,
        learning_rate=1e-2,
        warmup_steps=1,
        exact_match_examples=1,
        max_new_tokens=48,
        lora_dropout=0.0,
    )
    lines: list[str] = []
    outcome = QLoRATrainer().train(
        TrainRequest(tmp_path / "ds", str(tiny), tmp_path / "job", config), lines.append
    )
    m = outcome.metrics
    assert m["quantized"] is False and "no CUDA device" in m["notes"][0]  # the CPU fallback, reported
    assert m["train_loss"]["last"] < m["train_loss"]["first"] * 0.9
    assert m["adapter"]["loss"] < m["base"]["loss"]
    assert m["adapter"]["exact_match"] is not None and m["dataset_hash"] == info.hash
    assert any(line.startswith("step 12/12") for line in lines)
    saved = json.loads((outcome.adapter / "adapter_config.json").read_text())
    assert saved["r"] == 16 and saved["lora_alpha"] == 32
    adapted = {name.rsplit(".", 1)[-1] for name in saved["target_modules"]}
    assert adapted == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }  # not lm_head
    assert json.loads((tmp_path / "job" / "metrics.json").read_text())["adapter"] == m["adapter"]

    # Reload from disk into a fresh base: the adapter's loss is what training measured, and it generates.
    fresh = _loaded(tiny, tmp_path)
    model: Any = load_adapter(fresh, outcome.adapter)
    model.eval()
    eval_rows = unpacked([x for x in (tokenise(fresh.tokenizer, _messages(i), 256) for i in range(3)) if x])
    with torch.no_grad():
        loss, n = target_loss(model, tensors(eval_rows[:1], "cpu"))
    assert float(loss) / n < m["base"]["loss"]
    text = generate(fresh, prompt_ids(fresh.tokenizer, _messages(0)[:-1]), max_new_tokens=20)
    assert isinstance(text, str) and text.strip()

    # `repomind llm serve --adapter`: the adapter merged into the weights answers the same.
    from repomind.local_llm import TransformersChat

    chat = TransformersChat(tiny, adapter=outcome.adapter)
    assert not hasattr(chat.model, "peft_config")
    assert chat.generate(_messages(0)[:-1], max_tokens=20).text == text


def test_checkpointing_is_active_in_training(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """from_pretrained gives eval mode, where transformers skips checkpointing: attach_lora must switch
    the model to train mode, so that the decoder layers really recompute in the backward pass."""
    from transformers.models.llama import modeling_llama

    from repomind.training.qlora import attach_lora

    loaded = _loaded(tiny, tmp_path)
    assert not loaded.model.training
    model = attach_lora(loaded, TrainConfig())
    assert model.training
    layers = model.get_base_model().get_decoder().layers
    assert all(layer.gradient_checkpointing and layer.training for layer in layers)
    item = tokenise(loaded.tokenizer, _messages(1), 256)
    assert item is not None
    original = modeling_llama.LlamaMLP.forward
    calls = {"n": 0}

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(modeling_llama.LlamaMLP, "forward", counting)

    def mlp_calls() -> int:
        calls["n"] = 0
        loss, n = target_loss(model, tensors(unpacked([item]), "cpu"))
        (loss / n).backward()
        return calls["n"]

    assert mlp_calls() == 2 * len(layers)  # forward, then the recomputation during backward
    model.eval()
    assert mlp_calls() == len(layers)  # what a model left in eval mode does: no checkpointing at all
