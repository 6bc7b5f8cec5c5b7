"""`repomind localise`, `calibrate` and `eval localise` through the console script, on a fixture dataset."""

from __future__ import annotations

import json
from pathlib import Path

from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS
from repomind.testing import git, make_git_repo
from tests.pipeline.test_localise import FILES
from tests.test_cli import run

ISSUES = {
    "shop/pricing.py": [
        "The discount rate is applied twice",
        "apply_discount ignores rate=0",
        "Discount amount wrong",
    ],
    "shop/shipping.py": [
        "shipping_cost too high for heavy parcels",
        "Shipping cost negative weight",
        "weight_kg rounding",
    ],
    "shop/users.py": [
        "Customer greeting should be polite",
        "`Customer.greeting` says hello twice",
        "greeting locale",
    ],
    "shop/cart.py": [
        "ShoppingCart.total_price wrong with no items",
        "cart total of empty cart",
        "total_price crash",
    ],
}


def _dataset(tmp_path: Path) -> tuple[Path, Path, str]:
    repo = make_git_repo(tmp_path / "src" / "shop", FILES)
    commit = git(repo, "rev-parse", "HEAD").strip()
    repos = tmp_path / "repos"
    repos.mkdir()
    (repos / "acme__shop").symlink_to(repo)
    lines = []
    for path, texts in ISSUES.items():
        for number, text in enumerate(texts):
            lines.append(
                {
                    "instance_id": f"acme__shop-{path.split('/')[-1][:-3]}-{number}",
                    "repo": "acme/shop",
                    "base_commit": commit,
                    "problem_statement": text,
                    "patch": f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n",
                }
            )
    lines.append({**lines[0], "instance_id": "other__missing-1", "repo": "other/missing"})
    data = tmp_path / "dev.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return data, repos, commit


def test_localise_prints_the_contracted_json(tmp_path: Path) -> None:
    _, repos, commit = _dataset(tmp_path)
    env = {"REPOMIND_DATA_DIR": str(tmp_path / "data"), "REPOMIND_EMBEDDING_MODEL": "none"}
    proc = run(
        "localise", "--repo", str(repos / "acme__shop"), "--rev", commit,
        "--issue-text", "shipping_cost is wrong for heavy parcels", "--json", "--top-k", "3", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["files"][0] == {"path": "shop/shipping.py", "score": out["files"][0]["score"]}
    assert 1 <= len(out["files"]) <= 3 and out["set"] is None and out["confidence"] == 0.9
    assert "bm25" in out["signals"] and "dense" not in out["signals"]
    assert out["calibration"] == {"source": "none", "n": 0}  # nothing stands behind a set

    bad = run("localise", "--repo", str(repos / "acme__shop"), "--rev", "nope", "--issue-text", "x", env=env)
    assert bad.returncode == 2 and "revision 'nope' does not exist" in bad.stderr

    # The packaged calibration was scored with dense similarity on: with it off, it is refused, clearly.
    shop = str(repos / "acme__shop")
    builtin = run("localise", "--repo", shop, "--issue-text", "x", "--calibration", "builtin", env=env)
    assert builtin.returncode == 2 and "embedding model 'all-MiniLM-L6-v2-128'" in builtin.stderr


def test_calibrate_then_eval_with_resume(tmp_path: Path) -> None:
    data, repos, _ = _dataset(tmp_path)
    env = {"REPOMIND_DATA_DIR": str(tmp_path / "data"), "REPOMIND_EMBEDDING_MODEL": "none"}
    calibration = tmp_path / "calibration.json"
    proc = run("calibrate", "--dataset", str(data), "--repos", str(repos), "--out", str(calibration), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "other/missing" in proc.stderr
    fitted = json.loads(calibration.read_text())
    assert fitted["n"] == 12 and fitted["meta"]["skipped"] == ["other__missing-1"]
    assert (fitted["meta"]["embedder"], fitted["meta"]["reranker"]) == ("none", "none")
    assert fitted["meta"]["weights"] == DEFAULT_WEIGHTS

    # Other fusion weights score otherwise: the calibration is refused, and says which weights differ.
    shop = str(repos / "acme__shop")
    text = ["--issue-text", "shipping_cost is wrong", "--calibration", str(calibration)]
    other = run("localise", "--repo", shop, *text, "--weights", "bm25=1", env=env)
    assert other.returncode == 2 and "bm25 2.5 → 1" in other.stderr and "same --weights" in other.stderr
    same = run("localise", "--repo", shop, *text, "--weights", "rerank=3", "--json", env=env)
    assert same.returncode == 0 and json.loads(same.stdout)["set"], same.stderr  # no re-ranker: no matter
    assert json.loads(same.stdout)["calibration"] == {"source": "shared", "n": 12}  # a named file: as it is
    assert fitted["meta"]["source"] == "shared"

    out = tmp_path / "eval" / "report.json"
    first = ["acme__shop-pricing-0", "acme__shop-users-1"]
    args = [
        "eval",
        "localise",
        "--dataset",
        str(data),
        "--repos",
        str(repos),
        "--calibration",
        str(calibration),
    ]
    proc = run(*args, "--instances", ",".join(first), "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    done = (out.parent / "instances.jsonl").read_text().splitlines()
    assert [json.loads(line)["instance_id"] for line in done] == first

    proc = run(*args, "--resume", "--baseline", "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert summary["n"] == 12 and [s["instance_id"] for s in summary["skipped"]] == ["other__missing-1"]
    for key in ("acc@1", "acc@3", "acc@5", "acc@10", "mrr", "coverage", "mean_set_size"):
        assert 0 <= summary[key] <= (1 if key != "mean_set_size" else 20), key
    assert summary["confidence"] == 0.9 and summary["acc@10"] == 1.0
    by_id = {r["instance_id"]: r for r in report["instances"]}
    resumed = [json.loads(line) for line in done]
    assert all(by_id[r["instance_id"]]["query_s"] == r["query_s"] for r in resumed)  # kept, not recomputed
    assert "baseline_hit_rank" in by_id["acme__shop-cart-0"]
    assert json.loads(proc.stdout)["n"] == 12
    for plot in ("accuracy_at_k.png", "coverage.png", "set_sizes.png", "coverage_by_repo.png"):
        assert (out.parent / plot).stat().st_size > 1000, plot
    assert "coverage_by_repo.png" in report["plots"]
    # per repository (owner/name), at the report's confidence
    assert summary["coverage_by_repo"] == {"acme/shop": summary["coverage"]}
    assert summary["mean_set_size_by_repo"] == {"acme/shop": summary["mean_set_size"]}
    # what the bot would state: sets of at most max_set_size (the config's default, 10) files
    sizes = [r["set_size"] for r in report["instances"]]
    assert summary["claimed"]["max_set_size"] == 10
    assert summary["claimed"]["n"] + summary["claimed"]["hints"] == len(sizes)
    assert summary["claimed"]["hints"] == sum(size > 10 for size in sizes)
