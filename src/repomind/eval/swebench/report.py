"""The run's report: ``report.json`` (summary and instances), ``report.md``, and plots (matplotlib Agg)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from repomind.eval.swebench import causes
from repomind.eval.swebench.harness import RESOLVED, UNAVAILABLE, UNRESOLVED

#: How many of the left-out predictions' ids the summary names.
SHOWN_LEFT_OUT = 5


def by_cause(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The unavailable instances by the kind of cause (``causes.CAUSES`` order; empty kinds left out):
    the cause the harness recorded, else the one its reason names (verdicts of earlier runs)."""
    found: dict[str, list[str]] = {}
    for r in records:
        if r["verdict"] == UNAVAILABLE:
            cause = r.get("cause") or causes.classify(str(r.get("reason", "")))
            found.setdefault(cause, []).append(r["instance_id"])
    order = [*causes.CAUSES, *sorted(set(found) - set(causes.CAUSES))]
    return {c: found[c] for c in order if c in found}


def left_out_summary(left_out: Sequence[str]) -> dict[str, Any]:
    """``{"count": n, "first": [ids...]}`` of the predictions that name no instance evaluated."""
    return {"count": len(left_out), "first": list(left_out[:SHOWN_LEFT_OUT])}


def summarise(
    records: list[dict[str, Any]], skipped: list[dict[str, str]], left_out: Sequence[str] = ()
) -> dict[str, Any]:
    verdicts = Counter(r["verdict"] for r in records)
    graded = verdicts[RESOLVED] + verdicts[UNRESOLVED]
    cold = [r["total_s"] for r in records if r.get("env_cached") is False]
    warm = [r["total_s"] for r in records if r.get("env_cached") is True]
    tokens = [r["tokens"] for r in records if isinstance(r.get("tokens"), int)]
    costs = [r["cost_usd"] for r in records if isinstance(r.get("cost_usd"), int | float)]
    checked = [r for r in records if "f2p_fail_before" in r]
    summary: dict[str, Any] = {
        "n": len(records),
        "skipped": skipped,
        "resolved": verdicts[RESOLVED],
        "unresolved": verdicts[UNRESOLVED],
        "unavailable": verdicts[UNAVAILABLE],
        "resolve_rate": verdicts[RESOLVED] / graded if graded else None,
        "unavailable_reasons": dict(
            Counter(_reason_kind(r["reason"]) for r in records if r["verdict"] == UNAVAILABLE)
        ),
        "unavailable_by_cause": by_cause(records),
        "predictions_left_out": left_out_summary(left_out),
        "median_s_cold": statistics.median(cold) if cold else None,
        "median_s_cached": statistics.median(warm) if warm else None,
        "tokens": sum(tokens) if tokens else None,
        "cost_usd": sum(costs) if costs else None,
    }
    if checked:
        summary["f2p_fail_before"] = {
            "instances": len(checked),
            "all_failed_before": sum(1 for r in checked if not r.get("f2p_pass_before")),
        }
    hits = [r["localisation_hit"] for r in records if isinstance(r.get("localisation_hit"), bool)]
    if hits:
        summary["localisation_hit_rate"] = sum(hits) / len(hits)
    return summary


def _reason_kind(reason: str) -> str:
    """A short class of an unavailable reason, for counting."""
    if reason.startswith("needs Python"):
        return reason.split(",")[0]
    if "unable to read sha1 file" in reason or "(a partial mirror)" in reason:
        return "the given repository lacks file contents (git objects) at base_commit"
    if "environment could not be built" in reason:
        return "environment build failed"
    return reason.split(":")[0][:80]


def markdown(summary: dict[str, Any], records: list[dict[str, Any]], plots: list[str]) -> str:
    rate = summary["resolve_rate"]
    lines = [
        "# SWE-bench evaluation",
        "",
        f"- instances: {summary['n']} (skipped: {len(summary['skipped'])})",
        f"- resolved: {summary['resolved']}, unresolved: {summary['unresolved']}, "
        f"unavailable here: {summary['unavailable']}",
        f"- resolve rate (resolved / graded): {'n/a' if rate is None else f'{rate:.1%}'}",
        f"- median time per instance: cold {summary['median_s_cold']} s, "
        f"cached {summary['median_s_cached']} s",
    ]
    for cause, ids in summary.get("unavailable_by_cause", {}).items():
        lines.append(f"- unavailable, {cause}: {len(ids)} ({', '.join(ids)})")
    dropped = summary.get("predictions_left_out") or {}
    if dropped.get("count"):
        more = " ..." if dropped["count"] > len(dropped["first"]) else ""
        lines.append(
            f"- predictions left out (no instance evaluated here has their id): {dropped['count']} "
            f"({', '.join(dropped['first'])}{more})"
        )
    if summary.get("f2p_fail_before"):
        fb = summary["f2p_fail_before"]
        lines.append(
            f"- FAIL_TO_PASS failing before the patch: {fb['all_failed_before']}/{fb['instances']} instances"
        )
    if summary.get("tokens") is not None:
        lines.append(f"- tokens: {summary['tokens']}, cost: {summary['cost_usd']}")
    lines += ["", "| instance | verdict | reason | time (s) |", "| --- | --- | --- | --- |"]
    for r in records:
        reason = str(r.get("reason", "")).replace("|", "\\|").replace("\n", " ")[:160]
        lines.append(f"| {r['instance_id']} | {r['verdict']} | {reason} | {r.get('total_s', '')} |")
    for s in summary["skipped"]:
        lines.append(f"| {s['instance_id']} | skipped | {s['reason']} | |")
    lines += ["", *(f"![{p}]({p})" for p in plots)]
    return "\n".join(lines) + "\n"


def plots(out: Path, records: list[dict[str, Any]]) -> list[str]:
    """Verdicts per repository and time per instance (cold and cached environments)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names: list[str] = []
    if not records:
        return names
    repos = sorted({r["repo"] for r in records})
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(repos) + 1.5))
    left = [0] * len(repos)
    for verdict, colour in ((RESOLVED, "tab:green"), (UNRESOLVED, "tab:red"), (UNAVAILABLE, "tab:gray")):
        counts = [sum(1 for r in records if r["repo"] == repo and r["verdict"] == verdict) for repo in repos]
        ax.barh(repos, counts, left=left, color=colour, label=verdict)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_xlabel("instances")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "verdicts.png", dpi=100)
    plt.close(fig)
    names.append("verdicts.png")
    timed = [r for r in records if "env_cached" in r]
    if timed:
        fig, ax = plt.subplots(figsize=(8, 4))
        for cached, colour in ((False, "tab:blue"), (True, "tab:orange")):
            xs = [r["total_s"] for r in timed if r["env_cached"] is cached]
            if xs:
                ax.hist(xs, bins=20, alpha=0.7, color=colour, label="cached env" if cached else "cold env")
        ax.set_xlabel("seconds per instance")
        ax.set_ylabel("instances")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "times.png", dpi=100)
        plt.close(fig)
        names.append("times.png")
    return names


def write(
    out: Path,
    records: list[dict[str, Any]],
    skipped: list[dict[str, str]],
    meta: dict[str, Any],
    *,
    left_out: Sequence[str] = (),
) -> dict[str, Any]:
    summary = summarise(records, skipped, left_out)
    names = plots(out, records)
    keep = ("instance_id", "repo", "version", "verdict", "reason")
    instances = [
        {**{k: r.get(k) for k in keep}, **{k: v for k, v in r.items() if k not in keep}} for r in records
    ]
    report = {"summary": summary, "meta": meta, "plots": names, "instances": instances}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(markdown(summary, records, names))
    return report
