"""The server's budget ceiling: a repository's ``budget_usd`` / ``budget_tokens`` cannot exceed it.

``REPOMIND_MAX_BUDGET_USD`` and ``REPOMIND_MAX_BUDGET_TOKENS`` are the operator's: a repository that asks
for more (or sets no budget, which means no limit) runs with the ceiling, and the status comment says so.
"""

from __future__ import annotations

from repomind.repoconfig import RepoConfig


def clamp(
    config: RepoConfig, *, max_usd: float | None, max_tokens: int | None
) -> tuple[RepoConfig, list[str]]:
    """The config with its budget held to the ceiling, and a sentence for each value that was lowered."""
    notes: list[str] = []
    changes: dict[str, float | int] = {}
    if max_usd is not None and (config.budget_usd is None or config.budget_usd > max_usd):
        changes["budget_usd"] = max_usd
        asked = "no limit" if config.budget_usd is None else f"${config.budget_usd:g}"
        notes.append(
            f"Budget: `budget_usd` ({asked}) is above this server's ceiling; this run may spend at most "
            f"${max_usd:g}."
        )
    if max_tokens is not None and (config.budget_tokens is None or config.budget_tokens > max_tokens):
        changes["budget_tokens"] = max_tokens
        asked = "no limit" if config.budget_tokens is None else f"{config.budget_tokens:,}"
        notes.append(
            f"Budget: `budget_tokens` ({asked}) is above this server's ceiling; this run may use at most "
            f"{max_tokens:,} tokens."
        )
    return (config.model_copy(update=changes) if changes else config), notes
