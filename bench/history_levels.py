"""Regenerate the packaged history levels (``calibrations/history-levels.json`` in pipeline/localise).

    python bench/history_levels.py --records RECORDS.jsonl --histories DIR [--repos DIR] [--dataset F]
        [--min-pairs 50] [--out F]

Scores nothing: it reads the dev issues' rankings (``bench/localise.py --records RECORDS.jsonl``) and the
dev repositories' scored histories (``bench/localise.py --history --history-limit 300`` keeps them under
``<cache>/history/OWNER__NAME.json``), and places each issue among its own repository's past changes
made before its base commit (see ``repomind.pipeline.localise.history_levels``). Issues with fewer than
``--min-pairs`` past changes before them are left out (the bot would not use such a history). Run it
again whenever the scores change meaning (``SCORE_VERSION``), the embedder or the fusion weights change.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from repomind.pipeline import instance as dataset
from repomind.pipeline.localise.calibrate import SCORE_VERSION
from repomind.pipeline.localise.calibration_source import MIN_PAIRS, commit_time
from repomind.pipeline.localise.history_calibration import ScoredHistory
from repomind.pipeline.localise.history_levels import BUILTIN, HistoryLevels, placement

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=Path, required=True, help="bench/localise.py --records output")
    parser.add_argument("--histories", type=Path, required=True, help="the scored histories' folder")
    parser.add_argument("--repos", type=Path, default=Path("/work/repos"))
    parser.add_argument("--dataset", type=Path, default=Path("/work/shared/data/swebench-lite-dev.jsonl"))
    parser.add_argument("--min-pairs", type=int, default=MIN_PAIRS)
    parser.add_argument("--out", type=Path, default=BUILTIN)
    args = parser.parse_args()

    base = {i.instance_id: i for i in dataset.load(args.dataset)}
    records = [json.loads(line) for line in args.records.read_text().splitlines() if line.strip()]
    histories: dict[str, ScoredHistory] = {}
    placements: dict[str, list[float]] = {}
    left_out: list[str] = []
    for record in sorted(records, key=lambda r: r["instance_id"]):
        repo = record["repo"]
        path = args.histories / f"{repo.replace('/', '__')}.json"
        clone = dataset.repo_path(args.repos, repo)
        if clone is None or not path.is_file():
            left_out.append(record["instance_id"])
            continue
        if repo not in histories:
            histories[repo] = ScoredHistory.load(path)
        before = commit_time(clone, base[record["instance_id"]].base_commit)
        past = [e.alpha for e in histories[repo].entries if e.time < before]
        if len(past) < args.min_pairs:
            left_out.append(record["instance_id"])
            continue
        placements.setdefault(repo, []).append(round(placement(float(record["alpha"]), past), 6))
    first = next(iter(histories.values()))
    meta = {
        "made_by": "bench/history_levels.py",
        "dataset": args.dataset.name,
        "score_version": SCORE_VERSION,
        **{k: first.meta.get(k) for k in ("embedder", "reranker", "weights", "limit", "snapshot_every")},
        "max_files": None,
        "min_pairs": args.min_pairs,
        "issues": sum(len(u) for u in placements.values()),
        "left_out": left_out,
        "heads": {repo: h.head for repo, h in sorted(histories.items())},
    }
    HistoryLevels(dict(sorted(placements.items())), meta).save(args.out)
    print(f"{meta['issues']} placements of {len(placements)} repositories -> {args.out}")


if __name__ == "__main__":
    main()
