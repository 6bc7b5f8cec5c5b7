"""When a new adapter replaces the one being served.

The rule, on the new dataset's held-out examples (all three models evaluated on the same ones):

1. The new adapter must beat its own base model: held-out loss lower by at least ``margin`` (relative),
   and exact-patch match no lower. An adapter that does not help is never served.
2. With no adapter served yet for this base model, that is enough.
3. Otherwise it must beat the served adapter: a higher exact-patch match, or the same exact-patch match
   and a held-out loss lower by at least ``margin``.

Exact-patch match comes first because it is what the pipeline needs (a change that applies and is the
right one); the loss breaks ties and catches regressions that a handful of generations cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_MARGIN = 0.01


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def _score(metrics: dict[str, Any] | None) -> tuple[float | None, float]:
    if not metrics:
        return None, 0.0
    loss = metrics.get("loss")
    return (float(loss) if loss is not None else None), float(metrics.get("exact_match") or 0.0)


def decide(metrics: dict[str, Any], *, has_current: bool, margin: float = DEFAULT_MARGIN) -> Decision:
    """Apply the rule to a job's metrics (``base``, ``current``, ``adapter`` as the trainer reports them)."""
    new_loss, new_em = _score(metrics.get("adapter"))
    base_loss, base_em = _score(metrics.get("base"))
    if new_loss is None:
        return Decision(False, "no held-out loss for the new adapter: nothing to judge it by")
    if base_loss is not None and not new_loss < base_loss * (1 - margin):
        return Decision(False, f"held-out loss {new_loss:.4f} does not beat the base model's {base_loss:.4f}")
    if new_em < base_em:
        return Decision(False, f"exact-patch match {new_em:.2f} is below the base model's {base_em:.2f}")
    if not has_current:
        return Decision(
            True, f"beats the base model (loss {new_loss:.4f} < {base_loss}); no adapter served yet"
        )
    cur_loss, cur_em = _score(metrics.get("current"))
    if cur_loss is None and metrics.get("current") is None:
        return Decision(False, "the served adapter could not be evaluated on these examples: keeping it")
    if new_em > cur_em:
        return Decision(True, f"exact-patch match {new_em:.2f} beats the served adapter's {cur_em:.2f}")
    if new_em == cur_em and cur_loss is not None and new_loss < cur_loss * (1 - margin):
        return Decision(True, f"same exact-patch match, loss {new_loss:.4f} beats the served {cur_loss:.4f}")
    return Decision(
        False,
        f"does not beat the served adapter (match {new_em:.2f} vs {cur_em:.2f}, loss "
        f"{new_loss:.4f} vs {cur_loss})",
    )
