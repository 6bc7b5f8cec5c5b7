"""QLoRA on transformers + peft + bitsandbytes: loading the base, the adapter, the loss, generation.

torch, transformers, peft and bitsandbytes are imported inside these functions only (the ``train`` extra).

* 4-bit NF4 with double quantisation and bf16 compute when CUDA and bitsandbytes are there; otherwise
  (a CPU host, CI) plain LoRA in fp32, said in the returned notes and in the job's metrics
  (``quantized: false``).
* LoRA r=16, alpha=32 on every linear layer but the output head (``all-linear``).
* Gradient checkpointing (non-reentrant) with the model put in train mode: ``from_pretrained`` returns a
  model in eval mode, and transformers' layers checkpoint only while ``model.training`` is true.
* The loss is taken on the assistant's target tokens only, and the output head runs only there (in
  chunks, each recomputed in the backward pass), so a 32k-vocabulary logits tensor over the whole batch
  is never built.
* A base model is a hub name, a local directory, or a GGUF file (de-quantised once by transformers and
  saved as a directory beside the job, since bitsandbytes quantises from full-precision weights).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repomind.training.config import TrainConfig
from repomind.training.packing import IGNORE, Row, ensure_chat_template

#: Target tokens per chunk of the output head (bounds the logits held at once: chunk x vocab floats).
HEAD_CHUNK = 1024


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    device: str
    quantized: bool
    notes: list[str] = field(default_factory=list)


def quantisation_available() -> tuple[bool, str]:
    import torch

    if not torch.cuda.is_available():
        return False, "no CUDA device: 4-bit quantisation is unavailable, plain LoRA in fp32 on CPU"
    if importlib.util.find_spec("bitsandbytes") is None:
        return False, "bitsandbytes is not installed: LoRA on bf16 weights without 4-bit quantisation"
    return True, ""


def materialise_gguf(path: Path, cache_dir: Path) -> Path:
    """A GGUF file as a transformers model directory (de-quantised), made once under ``cache_dir``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_dir / f"{path.stem}-hf"
    if (target / "config.json").is_file():
        return target
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
    # transformers refuses to save a model it loaded from GGUF: copy the de-quantised weights into a
    # plain model of the same configuration, which saves as any other.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    model.load_state_dict(loaded.state_dict())
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target


def resolve_base(base_model: str, cache_dir: Path) -> str:
    path = Path(base_model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            from repomind.errors import UsageError

            raise UsageError(f"no GGUF file at {path}")
        return str(materialise_gguf(path, cache_dir))
    return str(path) if path.exists() else base_model


def fuse_kernels(notes: list[str]) -> bool:
    """Patch transformers' Llama-family modules with Liger's fused kernels (before the model is built)."""
    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("liger_kernel") is None:
        return False
    try:
        from liger_kernel.transformers import apply_liger_kernel_to_llama

        # The loss is computed here on the target tokens only, so Liger's fused cross-entropy is not used.
        apply_liger_kernel_to_llama(
            rope=True, rms_norm=True, swiglu=True, cross_entropy=False, fused_linear_cross_entropy=False
        )
    except (ImportError, AttributeError, TypeError) as exc:  # a Liger release that does not fit transformers
        notes.append(f"fused kernels unavailable: {type(exc).__name__}: {exc}")
        return False
    notes.append("fused kernels: liger (rope, rms_norm, swiglu)")
    return True


def load_base(base_model: str, config: TrainConfig, *, cache_dir: Path) -> Loaded:
    """The base model and tokenizer, quantised to 4 bits where that is possible."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if config.threads:
        torch.set_num_threads(config.threads)
    source = resolve_base(base_model, cache_dir)
    notes: list[str] = []
    if config.fused_kernels:
        fuse_kernels(notes)
    quantized = False
    kwargs: dict[str, Any] = {"attn_implementation": config.attn_implementation}
    cuda = torch.cuda.is_available()
    if config.quantize:
        quantized, why = quantisation_available()
        if not quantized:
            notes.append(why)
    if quantized:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["dtype"] = torch.bfloat16
        kwargs["device_map"] = {"": 0}
    else:
        kwargs["dtype"] = torch.bfloat16 if cuda else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(source)
    ensure_chat_template(tokenizer)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model: Any = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    device = "cuda" if cuda else "cpu"
    if not quantized:
        model = model.to(device)
    return Loaded(model, tokenizer, device, quantized, notes)


def attach_lora(loaded: Loaded, config: TrainConfig) -> Any:
    """Wrap the base in a trainable LoRA adapter, ready to train (train mode, checkpointing on)."""
    from peft import LoraConfig, get_peft_model

    model = loaded.model
    model.config.use_cache = False
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()  # from_pretrained gave eval mode, where the layers silently skip checkpointing
    loaded.model = model
    return model


def load_adapter(loaded: Loaded, adapter_dir: Path, *, name: str = "default", trainable: bool = False) -> Any:
    """The base with a saved adapter loaded (for evaluation, generation or serving)."""
    from peft import PeftModel

    model = PeftModel.from_pretrained(
        loaded.model, str(adapter_dir), adapter_name=name, is_trainable=trainable
    )
    loaded.model = model
    return model


def _parts(model: Any) -> tuple[Any, Any]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.get_decoder(), base.get_output_embeddings()


def tensors(rows: list[Row], device: str) -> dict[str, Any]:
    import torch

    return {
        "input_ids": torch.tensor([r.input_ids for r in rows], device=device),
        "labels": torch.tensor([r.labels for r in rows], device=device),
        "position_ids": torch.tensor([r.position_ids for r in rows], device=device),
    }


def target_loss(model: Any, batch: dict[str, Any], *, target_only_head: bool = True) -> tuple[Any, int]:
    """(sum of cross-entropy over the target tokens, number of target tokens) for one batch of rows.

    With ``target_only_head`` the decoder's hidden states are taken at the positions that predict a
    target token and only those go through the output head, chunk by chunk under checkpointing.
    Otherwise the model's own forward computes logits everywhere (the plain recipe).
    """
    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    labels = batch["labels"]
    shifted = labels[:, 1:]
    mask = shifted != IGNORE
    n = int(mask.sum().item())
    if not target_only_head:
        out = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False)
        logits = out.logits[:, :-1][mask].float()
        return F.cross_entropy(logits, shifted[mask], reduction="sum"), n
    decoder, head = _parts(model)
    hidden = decoder(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
    ).last_hidden_state
    picked = hidden[:, :-1][mask]
    wanted = shifted[mask]

    def chunk_loss(h: Any, y: Any) -> Any:
        return F.cross_entropy(head(h).float(), y, reduction="sum")

    total = picked.new_zeros((), dtype=torch.float32)
    for start in range(0, picked.shape[0], HEAD_CHUNK):
        h, y = picked[start : start + HEAD_CHUNK], wanted[start : start + HEAD_CHUNK]
        if torch.is_grad_enabled():
            total = total + checkpoint(chunk_loss, h, y, use_reentrant=False)
        else:
            total = total + chunk_loss(h, y)
    return total, n


def generate(loaded: Loaded, prompt: list[int], *, max_new_tokens: int) -> str:
    """Greedy continuation of ``prompt`` (token ids), decoded without special tokens."""
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ids = torch.tensor([prompt], device=loaded.device)
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                use_cache=True,
                pad_token_id=tokenizer.pad_token_id,
            )
    finally:
        if was_training:
            model.train()
    return str(tokenizer.decode(out[0, len(prompt) :], skip_special_tokens=True))
