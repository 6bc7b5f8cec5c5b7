"""`repomind eval swebench` end to end in the real sandbox, on a fixture repository and dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import require

require("swebench")

from tests.eval.swebench_fixtures import BAD_PATCH, make_dataset, write_specs  # noqa: E402
from tests.test_cli import run  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _verdicts(out: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((out / "report.json").read_text())
    return {r["instance_id"]: r for r in report["instances"]}


def test_gold_empty_bad_and_impossible_python(tmp_path: Path, docker_client: Any) -> None:
    dataset, repos, gold = make_dataset(tmp_path)
    predictions = tmp_path / "predictions.jsonl"
    rows = [
        {"instance_id": "acme__calc-1", "model_name_or_path": "m", "model_patch": gold["acme__calc-1"]},
        {"instance_id": "acme__calc-2", "model_name_or_path": "m", "model_patch": ""},
        {"instance_id": "acme__calc-3", "model_name_or_path": "m", "model_patch": BAD_PATCH},
        {"instance_id": "acme__calc-4", "model_name_or_path": "m", "model_patch": gold["acme__calc-4"]},
    ]
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    env = {"REPOMIND_DATA_DIR": str(tmp_path / "data")}
    args = ["eval", "swebench", "--dataset", str(dataset), "--repos", str(repos), "--specs"]
    args += [
        str(write_specs(tmp_path)),
        "--predictions",
        str(predictions),
        "--check-before",
        "--out",
        str(out),
    ]
    res = run(*args, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    assert (summary["n"], summary["resolved"], summary["unresolved"], summary["unavailable"]) == (4, 1, 2, 1)
    assert summary["resolve_rate"] == pytest.approx(1 / 3)
    verdicts = _verdicts(out)
    assert verdicts["acme__calc-1"]["verdict"] == "resolved"
    assert verdicts["acme__calc-1"]["f2p_fail_before"] == 1  # test_sub failed before the fix
    assert verdicts["acme__calc-2"]["verdict"] == "unresolved"
    assert "empty" in verdicts["acme__calc-2"]["reason"]
    assert verdicts["acme__calc-3"]["verdict"] == "unresolved"
    assert "does not apply" in verdicts["acme__calc-3"]["reason"]
    assert verdicts["acme__calc-4"]["verdict"] == "unavailable"
    assert "needs Python 2.7" in verdicts["acme__calc-4"]["reason"]
    # One environment for the three instances of version 1.0: built (or found) once, then cached.
    assert len({verdicts[f"acme__calc-{n}"]["env_image"] for n in (1, 2, 3)}) == 1
    assert [verdicts[f"acme__calc-{n}"]["env_cached"] for n in (2, 3)] == [True, True]
    assert "tests/test_calc.py::test_sub" in (out / "instances" / "acme__calc-1" / "test.log").read_text()
    written = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [w["instance_id"] for w in written] == [r["instance_id"] for r in rows]
    assert written[0] == rows[0]
    assert (out / "report.md").is_file() and (out / "verdicts.png").is_file()
    meta = json.loads((out / "report.json").read_text())["meta"]
    assert meta["predictions"] == str(predictions) and meta["check_before"] is True

    # --resume keeps every verdict and evaluates nothing again.
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("instances/*/verdict.json")}
    again = run(*args[:-1], str(out), "--resume", env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["resolved"] == 1
    assert {p: p.stat().st_mtime_ns for p in out.glob("instances/*/verdict.json")} == stamps


def test_model_predictions_come_from_solve(tmp_path: Path, docker_client: Any) -> None:
    """`--model`: solve runs on the instance (scripted model on loopback), its patch is the prediction."""
    from repomind.testing import StandInLLMServer

    dataset, repos, _gold = make_dataset(tmp_path)
    fix = (
        "calc.py\n```python\n<<<<<<< SEARCH\ndef sub(a, b):\n    return a + b\n=======\n"
        "def sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n```\n"
    )
    out = tmp_path / "out"
    env = {"REPOMIND_DATA_DIR": str(tmp_path / "data"), "REPOMIND_EMBEDDING_MODEL": "none"}
    with StandInLLMServer([fix] * 3) as server:
        res = run(
            "eval", "swebench", "--dataset", str(dataset), "--repos", str(repos), "--specs",
            str(write_specs(tmp_path)), "--model", "openai/stand-in", "--api-base", server.url,
            "--strategy", "pipeline",  # the scripted reply is the pipeline's
            "--instances", "acme__calc-1", "--out", str(out), env=env, timeout=600,
        )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    record = _verdicts(out)["acme__calc-1"]
    assert record["verdict"] == "resolved", record
    assert json.loads((out / "report.json").read_text())["meta"]["predictions"] == "model openai/stand-in"
    assert record["tokens"] > 0 and record["model"] == "openai/stand-in"
    assert record["localisation_hit"] is True  # calc.py, the gold file, was among the localised files
    prediction = json.loads((out / "predictions.jsonl").read_text())
    assert "-    return a + b\n+    return a - b" in prediction["model_patch"]


def test_predictions_for_other_instances_are_left_out_and_said(tmp_path: Path, docker_client: Any) -> None:
    """A leaderboard's all_preds.jsonl on a subset (here: --instances): evaluated on the instances both
    have, the rest counted on stderr and in the summary. The one instance needs Python 2.7, so nothing
    is built."""
    dataset, repos, _gold = make_dataset(tmp_path)
    predictions = tmp_path / "all_preds.jsonl"
    ids = ["acme__calc-4", "acme__calc-1", "django__django-1", "sympy__sympy-2"]
    predictions.write_text("".join(json.dumps({"instance_id": i, "model_patch": "x"}) + "\n" for i in ids))
    out = tmp_path / "out"
    args = ["eval", "swebench", "--dataset", str(dataset), "--repos", str(repos)]
    args += ["--specs", str(write_specs(tmp_path)), "--predictions", str(predictions)]
    args += ["--instances", "acme__calc-4", "--out", str(out)]
    res = run(*args, env={"REPOMIND_DATA_DIR": str(tmp_path / "data")}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "3 predictions left out" in res.stderr and "acme__calc-1, django__django-1" in res.stderr
    summary = json.loads(res.stdout)
    assert summary["n"] == 1 and summary["unavailable"] == 1
    assert summary["predictions_left_out"]["count"] == 3
    assert summary["unavailable_by_cause"] == {"python_version": ["acme__calc-4"]}
