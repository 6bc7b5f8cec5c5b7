"""Edit-application benchmark: Repomind's applier against ``git apply`` and ``patch --fuzz=3``. Prints JSON.

    PYTHONPATH=src .venv/bin/python bench/edits.py [--dataset F.jsonl] [--repos DIR] [--seed 0]

From each gold patch of the dataset this builds cases in two forms and applies every case to the files at
``base_commit`` (materialised in a temporary directory; the repositories are only read):

* ``blocks``: search/replace blocks as an LLM writes them: each hunk's changed lines plus 1-3 context lines
  on each side (drawn at random), widened until the SEARCH part is unique in the file, in three reply
  styles (path line before the fence, ``### path`` inside it, path in the fence header) with prose around;
* ``diff``: the gold unified diff (3 context lines, correct numbers) in a ```diff fence.

Perturbations, as LLMs make them: ``reindent`` (each block or hunk shifted by ±4 spaces), ``trailing-ws``
(random trailing spaces/tabs on half the lines), ``crlf-reply`` (the reply has CRLF line endings),
``crlf-file`` (the target file has CRLF endings, the edit LF; the gold result is converted to CRLF),
``blank-edges`` (blocks: a blank line added at the block's start or end), ``stale-context`` (one context line
per block/hunk altered as a neighbouring commit would: an identifier renamed; simulated, not taken from
history), ``reindent+trailing-ws``; for diffs only: ``wrong-line-numbers`` (all hunk headers start at
random lines), ``offset`` (header numbers shifted by ±3..40) and ``wrong-counts`` (header counts off by
1-2).

The baselines get the diff form of every case: for a diff case the perturbed diff itself, for a block case
the equivalent diff (the block's lines as one hunk with correct header numbers, carrying the same
perturbation). Outcomes: ``exact`` (every touched file byte-identical to the gold result), ``wrong`` (the
tool reported success but the result differs) and ``refused`` (the tool reported failure; for ``patch``
a partial application that exits non-zero counts as refused). Target (issue #4): Repomind ≥ 98% exact,
0 wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from repomind.pipeline.edits import EditError, apply_edits, parse_edits

DATASET = Path("/work/shared/data/swebench-lite-dev.jsonl")
REPOS = Path("/work/repos")
METHODS = ("repomind", "git-apply", "git-apply-iw", "patch-fuzz3")
BLOCK_PERTURBATIONS = (
    "none", "reindent", "trailing-ws", "crlf-reply", "crlf-file", "blank-edges", "stale-context",
    "reindent+trailing-ws",
)  # fmt: skip
DIFF_PERTURBATIONS = (
    "none", "reindent", "trailing-ws", "crlf-reply", "crlf-file", "wrong-line-numbers", "offset",
    "wrong-counts", "stale-context", "reindent+trailing-ws",
)  # fmt: skip
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_IDENT = re.compile(r"[A-Za-z_]\w{2,}")


@dataclass(frozen=True)
class Piece:
    """One hunk: body lines as (tag, text) with tag in ' -+', and its header numbers (1-based)."""

    path: str
    old_start: int
    new_start: int
    body: tuple[tuple[str, str], ...]
    old_count: int | None = None  # None: computed from the body
    new_count: int | None = None

    def counts(self) -> tuple[int, int]:
        old = sum(tag in " -" for tag, _ in self.body)
        new = sum(tag in " +" for tag, _ in self.body)
        return (
            old if self.old_count is None else self.old_count,
            new if self.new_count is None else self.new_count,
        )


def gold_pieces(patch: str) -> list[Piece]:
    """The hunks of a well-formed git diff (the bench's own parser, independent of Repomind's)."""
    pieces: list[Piece] = []
    path = ""
    lines = patch.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("+++ "):
            path = line[4:].removeprefix("b/")
        m = _HUNK.match(line)
        if m:
            old_n, new_n = int(m.group(2) or 1), int(m.group(4) or 1)
            body = []
            i += 1
            while old_n > 0 or new_n > 0:
                tag, text = (lines[i][:1] or " "), lines[i][1:]
                body.append((tag, text))
                old_n -= tag in " -"
                new_n -= tag in " +"
                i += 1
            pieces.append(Piece(path, int(m.group(1)), int(m.group(3)), tuple(body)))
            continue
        i += 1
    return pieces


def _count(haystack: list[str], needle: list[str]) -> int:
    n = len(needle)
    return sum(haystack[k : k + n] == needle for k in range(len(haystack) - n + 1))


def block_pieces(gold: list[Piece], base: dict[str, str], rng: random.Random) -> list[Piece]:
    """LLM-like blocks: each hunk's changed span with 1-3 context lines, widened until unique."""
    out: list[Piece] = []
    current = {path: text.split("\n")[:-1] for path, text in base.items()}
    delta: dict[str, int] = defaultdict(int)
    for piece in gold:
        lines = current[piece.path]
        # Gold headers may be off by a few lines (SWE-bench patches): place the hunk by its old side.
        old_side = [t for tag, t in piece.body if tag in " -"]
        hint = piece.old_start - 1 + delta[piece.path]
        found = [k for k in range(len(lines) - len(old_side) + 1) if lines[k : k + len(old_side)] == old_side]
        pos = min(found, key=lambda k: abs(k - hint))
        changed = [k for k, (tag, _) in enumerate(piece.body) if tag != " "]
        a, b = changed[0], changed[-1]
        span_start = pos + a
        span = piece.body[a : b + 1]
        span_end = span_start + sum(tag in " -" for tag, _ in span)
        before, after = rng.randint(1, 3), rng.randint(1, 3)
        while True:
            lo, hi = max(0, span_start - before), min(len(lines), span_end + after)
            if _count(lines, lines[lo:hi]) == 1 or (lo == 0 and hi == len(lines)):
                break
            before, after = before + 1, after + 1
        body = (
            *((" ", t) for t in lines[lo:span_start]),
            *span,
            *((" ", t) for t in lines[span_end:hi]),
        )
        out.append(Piece(piece.path, lo + 1 - delta[piece.path], lo + 1, body))
        new_side = [t for tag, t in span if tag in " +"]
        lines[span_start:span_end] = new_side
        delta[piece.path] += len(new_side) - (span_end - span_start)
    return out


# Perturbations of the pieces (the edit's lines) --------------------------------------------------------


def _map_lines(pieces: list[Piece], fn: Callable[[str, str], str]) -> list[Piece]:
    return [replace(p, body=tuple((tag, fn(tag, text)) for tag, text in p.body)) for p in pieces]


def reindent(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    out = []
    for p in pieces:
        texts = [t for _, t in p.body if t.strip()]
        can_dedent = all(t.startswith("    ") for t in texts)
        dedent = can_dedent and rng.random() < 0.5

        def shift(_tag: str, text: str, dedent: bool = dedent) -> str:
            if not text.strip():
                return text
            return text[4:] if dedent else "    " + text

        out.extend(_map_lines([p], shift))
    return out


def trailing_ws(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    return _map_lines(pieces, lambda _tag, t: t + rng.choice((" ", "  ", "\t")) if rng.random() < 0.5 else t)


def blank_edges(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    out = []
    for p in pieces:
        blank = ((" ", ""),)
        out.append(replace(p, body=blank + p.body if rng.random() < 0.5 else p.body + blank))
    return out


def stale_context(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    out = []
    for p in pieces:
        candidates = [k for k, (tag, text) in enumerate(p.body) if tag == " " and _IDENT.search(text)]
        if not candidates:
            out.append(p)
            continue
        k = rng.choice(candidates)
        text = p.body[k][1]
        match = rng.choice(list(_IDENT.finditer(text)))
        text = text[: match.end()] + "_v2" + text[match.end() :]
        out.append(replace(p, body=(*p.body[:k], (" ", text), *p.body[k + 1 :])))
    return out


def wrong_numbers(pieces: list[Piece], rng: random.Random, sizes: dict[str, int]) -> list[Piece]:
    out = []
    for p in pieces:
        start = rng.randint(1, max(1, sizes[p.path]))
        out.append(replace(p, old_start=start, new_start=start))
    return out


def offset(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    out = []
    for p in pieces:
        by = rng.choice((-1, 1)) * rng.randint(3, 40)
        out.append(replace(p, old_start=max(1, p.old_start + by), new_start=max(1, p.new_start + by)))
    return out


def wrong_counts(pieces: list[Piece], rng: random.Random) -> list[Piece]:
    out = []
    for p in pieces:
        old, new = p.counts()
        out.append(
            replace(
                p, old_count=max(0, old + rng.choice((-2, -1, 1, 2))), new_count=new + rng.choice((-1, 1))
            )
        )
    return out


# Rendering ----------------------------------------------------------------------------------------------


def render_diff(pieces: list[Piece]) -> str:
    out: list[str] = []
    path = None
    for p in pieces:
        if p.path != path:
            path = p.path
            out += [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}"]
        old, new = p.counts()
        out.append(f"@@ -{p.old_start},{old} +{p.new_start},{new} @@")
        out += [tag + text for tag, text in p.body]
    return "\n".join(out) + "\n"


def render_blocks(pieces: list[Piece], rng: random.Random) -> str:
    out = ["I found the cause. Here are the changes:", ""]
    for p in pieces:
        search = [t for tag, t in p.body if tag in " -"]
        repl = [t for tag, t in p.body if tag in " +"]
        style = rng.randrange(3)
        head = {0: [p.path, "```python"], 1: ["```python", f"### {p.path}"], 2: [f"```python {p.path}"]}[
            style
        ]
        out += [*head, "<<<<<<< SEARCH", *search, "=======", *repl, ">>>>>>> REPLACE", "```", ""]
    out.append("This keeps the public API unchanged.")
    return "\n".join(out) + "\n"


# Running the methods ------------------------------------------------------------------------------------


def materialise(files: dict[str, bytes]) -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-edits-"))
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def read_back(root: Path, paths: list[str]) -> dict[str, bytes | None]:
    return {rel: (root / rel).read_bytes() if (root / rel).is_file() else None for rel in paths}


_ENV = {**os.environ, "GIT_CEILING_DIRECTORIES": tempfile.gettempdir()}


def run_tool(method: str, diff: str, root: Path) -> bool:
    (root.parent / f"{root.name}.diff").write_bytes(diff.encode())
    patch_file = str(root.parent / f"{root.name}.diff")
    if method == "patch-fuzz3":
        argv = ["patch", "--fuzz=3", "-p1", "--batch", "--forward", "--no-backup-if-mismatch",
                "--reject-file=-", "-s", "-i", patch_file]  # fmt: skip
    else:
        argv = ["git", "apply", "--whitespace=nowarn", patch_file]
        if method == "git-apply-iw":
            argv.insert(2, "--ignore-whitespace")
    proc = subprocess.run(argv, cwd=root, capture_output=True, env=_ENV, check=False)
    os.unlink(patch_file)
    return proc.returncode == 0


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@dataclass
class Case:
    instance: str
    form: str
    perturbation: str
    reply: str  # what Repomind gets
    diff: str  # what the baselines get
    files: dict[str, bytes]
    gold: dict[str, bytes | None]


def build_cases(row: dict[str, Any], base: dict[str, bytes], gold: dict[str, bytes | None]) -> list[Case]:
    rng = random.Random(f"{row['instance_id']}")
    base_text = {p: b.decode() for p, b in base.items()}
    sizes = {p: len(t.split("\n")) for p, t in base_text.items()}
    gpieces = gold_pieces(row["patch"])
    bpieces = block_pieces(gpieces, base_text, rng)
    crlf_files = {p: crlf(b) for p, b in base.items()}
    crlf_gold = {p: (crlf(b) if b is not None else None) for p, b in gold.items()}
    cases = []
    for form, perturbations, pieces in (
        ("blocks", BLOCK_PERTURBATIONS, bpieces),
        ("diff", DIFF_PERTURBATIONS, gpieces),
    ):
        for name in perturbations:
            p = pieces
            for step in name.split("+"):
                p = {
                    "reindent": lambda q: reindent(q, rng),
                    "trailing-ws": lambda q: trailing_ws(q, rng),
                    "blank-edges": lambda q: blank_edges(q, rng),
                    "stale-context": lambda q: stale_context(q, rng),
                    "wrong-line-numbers": lambda q: wrong_numbers(q, rng, sizes),
                    "offset": lambda q: offset(q, rng),
                    "wrong-counts": lambda q: wrong_counts(q, rng),
                }.get(step, lambda q: q)(p)
            diff = render_diff(p)
            reply = render_blocks(p, rng) if form == "blocks" else f"The fix:\n\n```diff\n{diff}```\n"
            if name == "crlf-reply":
                reply, diff = reply.replace("\n", "\r\n"), diff.replace("\n", "\r\n")
            files, expected = (crlf_files, crlf_gold) if name == "crlf-file" else (base, gold)
            cases.append(Case(row["instance_id"], form, name, reply, diff, files, expected))
    return cases


def run_case(case: Case, method: str) -> tuple[str, float, str]:
    root = materialise(case.files)
    try:
        start = time.perf_counter()
        reason = ""
        if method == "repomind":
            try:
                result = apply_edits(root, parse_edits(case.reply))
                ok = True
                reason = "; ".join(result.notes)
            except EditError as exc:
                ok, reason = False, str(exc)
        else:
            ok = run_tool(method, case.diff, root)
        elapsed = time.perf_counter() - start
        if not ok:
            return "refused", elapsed, reason
        same = read_back(root, list(case.gold)) == case.gold
        return ("exact" if same else "wrong"), elapsed, reason
    finally:
        shutil.rmtree(root, ignore_errors=True)


def git_show(repo: Path, commit: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, check=True
    ).stdout


def gold_result(base: dict[str, bytes], patch: str) -> dict[str, bytes | None]:
    root = materialise(base)
    try:
        (root / "gold.diff").write_text(patch)
        subprocess.run(["git", "apply", "gold.diff"], cwd=root, check=True, capture_output=True, env=_ENV)
        return read_back(root, list(base))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _rates(counter: Counter[str]) -> dict[str, Any]:
    n = sum(counter.values())
    return {k: round(counter[k] / n, 4) if n else 0.0 for k in ("exact", "wrong", "refused")} | {"n": n}


def plot(by_group: dict[str, dict[str, Counter[str]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(by_group)
    fig, ax = plt.subplots(figsize=(12, 0.35 * len(groups) * len(METHODS) / 2 + 2))
    height = 0.8 / len(METHODS)
    for m, method in enumerate(METHODS):
        exact = [_rates(by_group[g][method])["exact"] for g in groups]
        wrong = [_rates(by_group[g][method])["wrong"] for g in groups]
        ys = [g + m * height for g in range(len(groups))]
        ax.barh(ys, exact, height=height, label=f"{method} exact")
        ax.barh(ys, wrong, left=exact, height=height, color="black", alpha=0.35, hatch="//")
    ax.set_yticks([g + 0.4 - height / 2 for g in range(len(groups))], groups)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of cases (bar: exact; grey hatched: applied but wrong)")
    ax.set_title("Edit application on SWE-bench Lite (dev) gold patches, perturbed")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--repos", type=Path, default=REPOS)
    parser.add_argument("--limit", type=int, default=0, help="only the first N instances")
    parser.add_argument("--plot", type=Path, default=Path("bench/out/edits.png"))
    args = parser.parse_args()

    rows = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    if args.limit:
        rows = rows[: args.limit]
    skipped: list[dict[str, str]] = []
    by_group: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    times: dict[str, list[float]] = defaultdict(list)
    notes: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    started = time.perf_counter()
    for n, row in enumerate(rows, 1):
        repo = args.repos / row["repo"].replace("/", "__")
        if not repo.exists():
            skipped.append(
                {"instance_id": row["instance_id"], "reason": f"repository {repo.name} is missing"}
            )
            print(f"[{n}/{len(rows)}] {row['instance_id']}: skipped (no repository)", file=sys.stderr)
            continue
        paths = sorted({p.path for p in gold_pieces(row["patch"])})
        base = {p: git_show(repo, row["base_commit"], p) for p in paths}
        gold = gold_result(base, row["patch"])
        cases = build_cases(row, base, gold)
        line = Counter[str]()
        for case in cases:
            group = f"{case.form}/{case.perturbation}"
            for method in METHODS:
                outcome, elapsed, reason = run_case(case, method)
                by_group[group][method][outcome] += 1
                totals[method][outcome] += 1
                times[method].append(elapsed)
                if method == "repomind":
                    line[outcome] += 1
                    for note in filter(None, reason.split("; ")) if outcome != "refused" else ():
                        notes[re.sub(r"\d+", "N", re.sub(r"^edit \d+ \([^)]*\): ", "", note))] += 1
                    if outcome != "exact":
                        failures.append(
                            {"case": f"{case.instance} {group}", "outcome": outcome, "reason": reason}
                        )
        print(
            f"[{n}/{len(rows)}] {row['instance_id']}: {len(cases)} cases, repomind {dict(line)}",
            file=sys.stderr,
        )
    plot(by_group, args.plot)
    report = {
        "dataset": str(args.dataset),
        "instances": len(rows) - len(skipped),
        "skipped": skipped,
        "cases": sum(totals["repomind"].values()),
        "overall": {m: _rates(totals[m]) for m in METHODS},
        "by_perturbation": {g: {m: _rates(c[m]) for m in METHODS} for g, c in by_group.items()},
        "median_ms": {m: round(1000 * statistics.median(times[m]), 2) for m in METHODS if times[m]},
        "total_s": {m: round(sum(times[m]), 2) for m in METHODS},
        "repomind_tolerances_used": dict(notes.most_common()),
        "repomind_not_exact": failures,
        "wall_s": round(time.perf_counter() - started, 1),
        "plot": str(args.plot),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
