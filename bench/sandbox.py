"""Sandbox benchmark: per-command container overhead, and environment setup cold vs cached. Prints JSON.

    .venv/bin/python bench/sandbox.py [--runs 20] [--cold 3] [--out bench/out/sandbox.json]

Targets (issue #2): overhead of a no-op in a fresh container ≤ 0.5 s over ``subprocess`` on the host;
a cached environment at least 10 times faster to get than a cold setup.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from repomind.sandbox import DockerSandbox, Environment, EnvironmentSpec
from repomind.sandbox.client import connect
from repomind.sandbox.environment import ENV_REPOSITORY
from repomind.sandbox.images import base_image_tag
from repomind.testing import make_git_repo

FIXTURE = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "calc"\nversion = "0.1"\n'
        '[project.optional-dependencies]\ntest = ["pytest", "tomli-w"]\n'
    ),
    "src/calc/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": (
        "import tomli_w\nfrom calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    ),
}


def _median_s(samples: list[float]) -> float:
    return round(statistics.median(samples), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/out/sandbox.json"))
    args = parser.parse_args()

    client = connect()
    box = DockerSandbox(client)
    base = Environment(image=base_image_tag(), key="base", cached=True, setup_seconds=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_git_repo(Path(tmp, "calc"), FIXTURE)
        host = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run(["true"], check=True)
            host.append(time.perf_counter() - t)
        container, container_no_diff = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            assert box.run(base, repo, ["true"]).ok
            container.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert box.run(base, repo, ["true"], capture_diff=False).ok
            container_no_diff.append(time.perf_counter() - t)

        cold, cached, names = [], [], []
        cold_e2e, cached_e2e = [], []
        try:
            for i in range(args.cold):
                name = f"bench-calc-{time.time_ns()}-{i}"
                names.append(name)
                t = time.perf_counter()
                env = box.prepare(repo, EnvironmentSpec(name))
                cold.append(time.perf_counter() - t)
                assert not env.cached
                assert box.run(env, repo, ["python", "-m", "pytest", "-q"]).ok
                cold_e2e.append(time.perf_counter() - t)
                for _ in range(5):
                    t = time.perf_counter()
                    again = box.prepare(repo, EnvironmentSpec(name))
                    assert again.cached
                    cached.append(time.perf_counter() - t)
                    assert box.run(again, repo, ["python", "-m", "pytest", "-q"]).ok
                    cached_e2e.append(time.perf_counter() - t)
            tests_pass = box.run(env, repo, ["python", "-m", "pytest", "-q"]).ok
        finally:
            for name in names:
                for image in client.images.list(name=f"{ENV_REPOSITORY}/{name}"):
                    client.images.remove(image.id, force=True)

    overhead = _median_s(container) - _median_s(host)
    speedup = statistics.median(cold) / statistics.median(cached)
    result = {
        "benchmark": "sandbox",
        "machine_cores": __import__("os").cpu_count(),
        "noop": {
            "runs": args.runs,
            "host_subprocess_median_s": _median_s(host),
            "container_median_s": _median_s(container),
            "container_no_diff_capture_median_s": _median_s(container_no_diff),
            "overhead_s": round(overhead, 4),
            "target_overhead_s": 0.5,
            "meets_target": overhead <= 0.5,
        },
        "environment": {
            "cold_runs": args.cold,
            "cold_median_s": _median_s(cold),
            "cached_median_s": _median_s(cached),
            "speedup": round(speedup, 1),
            "target_speedup": 10,
            "meets_target": speedup >= 10,
            "fixture_tests_pass": tests_pass,
            # Setup plus one run of the fixture's tests: what a user waits for, cold and cached.
            "cold_setup_and_tests_median_s": _median_s(cold_e2e),
            "cached_setup_and_tests_median_s": _median_s(cached_e2e),
            "setup_and_tests_speedup": round(statistics.median(cold_e2e) / statistics.median(cached_e2e), 1),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result["plot"] = str(_plot(result, args.out.with_suffix(".png")))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _plot(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noop, env = result["noop"], result["environment"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = ["host\nsubprocess", "container", "container\n(no diff)"]
    values = [
        noop["host_subprocess_median_s"],
        noop["container_median_s"],
        noop["container_no_diff_capture_median_s"],
    ]
    left.bar(labels, values, color=["#888", "#1f77b4", "#6baed6"])
    left.axhline(noop["host_subprocess_median_s"] + 0.5, color="red", ls="--", label="target: +0.5 s")
    left.set_ylabel("median wall time of a no-op (s)")
    left.set_title("Per-command overhead")
    left.legend()
    right.bar(
        ["cold setup", "cached"], [env["cold_median_s"], env["cached_median_s"]], color=["#d62728", "#2ca02c"]
    )
    right.set_yscale("log")
    right.set_ylabel("time to a ready environment (s, log)")
    right.set_title(f"Environment: cached {env['speedup']:g}x faster")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
