"""Settings of the training queue (``REPOMIND_TRAIN_`` prefix) and the hyperparameters of one job."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The default base model for people with hub access; any local directory or GGUF file serves too.
DEFAULT_BASE_MODEL = "deepseek-ai/deepseek-coder-6.7b-instruct"


class TrainingSettings(BaseSettings):
    """What the training queue reads from its environment; the data dir and store come from
    :class:`repomind.settings.Settings`."""

    model_config = SettingsConfigDict(env_prefix="REPOMIND_TRAIN_", extra="ignore", env_ignore_empty=True)

    min_new_examples: int = Field(
        default=20, ge=1, description="enqueue a job when this many new feedback records have arrived"
    )
    max_attempts: int = Field(default=3, ge=1, description="a failing job is tried at most this many times")
    retry_backoff_s: float = Field(
        default=60.0, ge=0, description="a failed job is tried again this long after (doubling each time)"
    )
    base_model: str = Field(default=DEFAULT_BASE_MODEL, description="a hub name, a local directory or GGUF")
    lease_s: float = Field(default=6 * 3600.0, gt=0, description="a job silent this long is taken over")
    out_dir: Path | None = Field(
        default=None, description="datasets and adapters (default DATA_DIR/training)"
    )
    include_unreviewed: bool = Field(
        default=False, description="also learn from verified runs that no maintainer has reviewed yet"
    )
    eval_fraction: float = Field(default=0.1, gt=0, lt=1, description="share of issues held out for eval")
    scope: Literal["installation", "shared"] = Field(
        default="installation",
        validation_alias=AliasChoices("REPOMIND_TRAINING_SCOPE", "scope"),
        description="installation: each installation's data trains only its own adapter; shared: pooled",
    )

    def root(self, data_dir: Path) -> Path:
        return self.out_dir or data_dir / "training"


@dataclass
class TrainConfig:
    """Hyperparameters of one job (QLoRA by default: NF4, double quantisation, bf16 compute)."""

    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    #: ``all-linear``: every linear layer but the output head (the QLoRA paper's choice).
    target_modules: str | list[str] = "all-linear"
    learning_rate: float = 2e-4
    epochs: float = 2.0
    max_steps: int | None = None
    #: Packed sequences per optimiser step (micro-batch) and gradient accumulation.
    batch_size: int = 4
    grad_accum: int = 1
    max_seq_len: int = 2048
    packing: bool = True
    gradient_checkpointing: bool = True
    #: 4-bit NF4 when CUDA and bitsandbytes are there; on CPU plain LoRA in fp32 (reported).
    quantize: bool = True
    #: Compute the language-model head only where the loss is taken (the assistant's target tokens).
    target_only_head: bool = True
    attn_implementation: str = "sdpa"
    #: Liger's fused Triton kernels (RMSNorm, SwiGLU, RoPE) for Llama-family models, where installed on CUDA.
    fused_kernels: bool = True
    warmup_steps: int = 5
    seed: int = 0
    #: Held-out examples for the greedy exact-patch match (generation is slow: a few).
    exact_match_examples: int = 8
    max_new_tokens: int = 512
    threads: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
