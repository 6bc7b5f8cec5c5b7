"""The SWE-bench evaluation's parts without Docker: input checking, specifications, official hand-off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repomind.eval.swebench import jsonl as ds
from repomind.eval.swebench import official, specs
from repomind.eval.swebench.environments import missing_requirement
from repomind.eval.swebench.errors import EvalInputError, OfficialHarnessError
from repomind.eval.swebench.model import localisation_metrics
from repomind.eval.swebench.report import summarise
from tests.eval.swebench_fixtures import make_dataset, write_specs
from tests.requirements import require
from tests.test_cli import run


def test_dataset_loads_json_string_test_lists_and_selects(tmp_path: Path) -> None:
    dataset, _repos, _gold = make_dataset(tmp_path)
    items = ds.load_instances(dataset, ["acme__calc-3", "acme__calc-1"])
    assert [i.instance_id for i in items] == ["acme__calc-1", "acme__calc-3"]  # the file's order
    assert items[0].fail_to_pass == ("tests/test_calc.py::test_sub",)
    assert items[0].gold_files == ["calc.py"]


def test_one_instance_type_for_the_harness_and_localisation(tmp_path: Path) -> None:
    """The harness's strict reader and localisation's lenient one give the same :class:`Instance`."""
    from repomind.pipeline import instance

    dataset, repos, gold = make_dataset(tmp_path)
    strict = ds.load_instances(dataset, ["acme__calc-1"])[0]
    lenient = instance.load(dataset, ["acme__calc-1"])[0]
    assert type(strict) is type(lenient) is instance.Instance
    assert strict.gold_files == lenient.gold_files == ["calc.py"]
    assert (strict.repo, strict.base_commit, strict.patch) == (
        lenient.repo,
        lenient.base_commit,
        gold["acme__calc-1"],
    )
    assert (
        strict.as_swebench()["FAIL_TO_PASS"] == ["tests/test_calc.py::test_sub"] and strict.version == "1.0"
    )
    assert lenient.fail_to_pass == () and lenient.version == ""  # localisation reads only what it needs
    assert instance.repo_path(repos, strict.repo) == repos / "acme__calc"


def test_bad_datasets_are_clear_errors(tmp_path: Path) -> None:
    dataset, _repos, _gold = make_dataset(tmp_path)
    with pytest.raises(EvalInputError, match=r"not in .*: acme__nope"):
        ds.load_instances(dataset, ["acme__nope"])
    broken = tmp_path / "broken.jsonl"
    broken.write_text(dataset.read_text().splitlines()[0] + "\n{not json\n")
    with pytest.raises(EvalInputError, match=r"broken.jsonl:2: not JSON"):
        ds.load_instances(broken)
    broken.write_text(json.dumps({"instance_id": "x", "repo": "a/b"}) + "\n")
    with pytest.raises(EvalInputError, match="missing base_commit, patch, test_patch, version"):
        ds.load_instances(broken)
    with pytest.raises(EvalInputError, match="does not exist"):
        ds.load_instances(tmp_path / "missing.jsonl")


def test_predictions_are_checked_against_the_dataset(tmp_path: Path) -> None:
    dataset, _repos, _gold = make_dataset(tmp_path)
    items = ds.load_instances(dataset)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": "acme__calc-1", "model_patch": None}) + "\n")
    loaded = ds.load_predictions(preds, items).predictions
    assert loaded["acme__calc-1"].patch == "" and loaded["acme__calc-1"].model == "preds"
    preds.write_text(json.dumps({"instance_id": "other__x-1", "model_patch": ""}) + "\n")
    assert ds.load_predictions(preds, items) == ds.LoadedPredictions({}, ("other__x-1",))
    with pytest.raises(EvalInputError, match=r"predictions file .* does not exist"):
        ds.load_predictions(tmp_path / "none.jsonl", items)
    gold = ds.builtin_predictions("gold", items)
    assert gold["acme__calc-2"].patch == items[1].patch
    assert ds.builtin_predictions("empty", items)["acme__calc-2"].patch == ""


def test_specs_map_to_the_sandbox_or_say_why_not() -> None:
    raw = {
        "python": "3.9",
        "packages": "numpy pytest",
        "pip_packages": ["pytest", "attrs==23.1.0"],
        "pre_install": ["sed -i 's/a/b/' setup.cfg"],
        "install": "python -m pip install -e .",
        "test_cmd": "pytest -rA",
    }
    spec = specs.resolve("o/r", "1.0", raw, available_pythons=("3.9", "3.11"))
    assert isinstance(spec, specs.EvalSpec)
    assert spec.python == "3.9" and spec.host_edits == ("sed -i 's/a/b/' setup.cfg",)
    assert spec.requirements == ("pip<24", "numpy", "pytest<8", "attrs==23.1.0")
    assert spec.setup_command.splitlines()[1:] == [  # swebench's order: packages, then pip_packages
        "python -m pip install 'pip<24'",
        "python -m pip install numpy 'pytest<8'",
        "python -m pip install 'pytest<8' attrs==23.1.0",
        "python -m pip install -e .",
    ]
    old = specs.resolve("o/r", "0.1", {**raw, "python": "3.6"}, available_pythons=("3.9", "3.11"))
    assert isinstance(old, specs.Unavailable)
    assert old.reason.startswith("needs Python 3.6") and "--python-fallback would use 3.9" in old.reason
    fallback = specs.resolve(
        "o/r", "0.1", {**raw, "python": "3.10"}, available_pythons=("3.9", "3.11"), python_fallback=True
    )
    assert isinstance(fallback, specs.EvalSpec) and fallback.python == "3.11" and fallback.notes
    apt = specs.resolve(
        "o/r", "1", {**raw, "pre_install": ["apt-get install -y x"]}, available_pythons=("3.9",)
    )
    assert isinstance(apt, specs.Unavailable) and "apt-get" in apt.reason
    conda = specs.resolve("o/r", "1", {**raw, "packages": "environment.yml"}, available_pythons=("3.9",))
    assert isinstance(conda, specs.Unavailable) and "conda" in conda.reason
    assert isinstance(specs.resolve("o/r", "1", None, available_pythons=("3.9",)), specs.Unavailable)


def test_swebench_specs_and_overlay(tmp_path: Path) -> None:
    require("swebench")
    assert specs.swebench_specs("pytest-dev/pytest", "5.4") is not None
    lookup = specs.overlay(write_specs(tmp_path))
    assert lookup("acme/calc", "1.0") == {
        "python": "3.11",
        "pip_packages": ["pytest"],
        "test_cmd": "pytest -rA",
        "log_parser": "pytest-dev/pytest",
    }
    assert lookup("pytest-dev/pytest", "5.4") == specs.swebench_specs("pytest-dev/pytest", "5.4")
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    with pytest.raises(EvalInputError, match="expected"):
        specs.overlay(bad)


def test_missing_requirement_is_read_from_pips_error() -> None:
    output = (
        'ERROR: Could not find a version that satisfies the requirement flake8==3.7.8; extra == "dev"\n'
        "ERROR: No matching distribution found for flake8==3.7.8\n"
    )
    assert missing_requirement(output) == "flake8==3.7.8"
    assert missing_requirement("error: subprocess-exited-with-error") is None


def test_official_command_and_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    argv = official.command(
        tmp_path / "d.jsonl", tmp_path / "p.jsonl", "run1", instance_ids=["a", "b"], workers=2, python="py"
    )
    assert argv == [
        "py",
        "-m",
        "swebench.harness.run_evaluation",
        "--dataset_name",
        str(tmp_path / "d.jsonl"),
        "--predictions_path",
        str(tmp_path / "p.jsonl"),
        "--run_id",
        "run1",
        "--max_workers",
        "2",
        "--instance_ids",
        "a",
        "b",
    ]
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker on PATH
    with pytest.raises(OfficialHarnessError, match="needs Docker"):
        official.check_available()


def test_summary_counts_and_rate() -> None:
    records = [
        {
            "instance_id": "a",
            "repo": "r",
            "verdict": "resolved",
            "reason": "",
            "total_s": 10,
            "env_cached": False,
        },
        {
            "instance_id": "b",
            "repo": "r",
            "verdict": "unresolved",
            "reason": "",
            "total_s": 4,
            "env_cached": True,
        },
        {"instance_id": "c", "repo": "r", "verdict": "unavailable", "reason": "needs Python 3.6, which"},
    ]
    summary = summarise(records, [{"instance_id": "d", "reason": "no repository"}])
    assert (summary["n"], summary["resolved"], summary["unresolved"], summary["unavailable"]) == (3, 1, 1, 1)
    assert summary["resolve_rate"] == 0.5
    assert summary["median_s_cold"] == 10 and summary["median_s_cached"] == 4
    assert summary["unavailable_reasons"] == {"needs Python 3.6": 1}


def test_localisation_hit() -> None:
    assert localisation_metrics({"set": ["a.py", "b.py"]}, ["a.py"]) == {
        "localisation_hit": True,
        "localised_files": 2,
    }
    assert localisation_metrics({"candidates": ["c.py"]}, ["a.py"])["localisation_hit"] is False
    assert localisation_metrics({}, ["a.py"]) == {}


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    dataset, repos, _gold = make_dataset(tmp_path)
    base = [
        "eval",
        "swebench",
        "--dataset",
        str(dataset),
        "--repos",
        str(repos),
        "--out",
        str(tmp_path / "o"),
    ]
    res = run(*base, "--predictions", "gold", "--instances", "acme__calc-1,acme__zzz-9")
    assert res.returncode == 2 and "acme__zzz-9" in res.stderr
    res = run(*base, "--predictions", str(tmp_path / "nope.jsonl"))
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = run(*base)
    assert res.returncode == 2 and "exactly one of --predictions" in res.stderr
    assert not (tmp_path / "o").exists()  # nothing written for a run that could not start


def test_tox_current_env_runs_the_testenv_commands(tmp_path: Path) -> None:
    import shlex
    import subprocess
    import sys

    from repomind.eval.swebench.tox_runner import replace_tox

    assert replace_tox("pytest -rA") == "pytest -rA"
    python, flag, script = shlex.split(replace_tox("tox --current-env -epy39 -v --"))
    assert (python, flag) == ("python", "-c")
    (tmp_path / "tox.ini").write_text(
        "[testenv]\nsetenv =\n    GREETING = {env:MISSING:hello} there\n"
        "commands=\n    python -c \"import os,sys; print(os.environ['GREETING'], sys.argv[1:])\" {posargs}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "tests/test_a.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "hello there ['tests/test_a.py']" in proc.stdout


def test_requirements_file_as_swebench_builds_it(tmp_path: Path) -> None:
    require("swebench")
    from repomind.eval.swebench.requirements import write_requirements
    from repomind.eval.swebench.specs import REQUIREMENTS_FILE
    from repomind.testing import git, make_git_repo

    repo = make_git_repo(
        tmp_path / "pylint",
        {
            "requirements_test.txt": (
                "-r requirements_test_min.txt\ncoverage~=6.4\ntypes-pkg_resources==0.1.3\n"
            ),
            "requirements_test_min.txt": (
                "-e .[testutils]\nastroid==2.12.13  # pinned\n# a comment\npytest~=7.2\n"
            ),
        },
    )
    commit = git(repo, "rev-parse", "HEAD").strip()
    found = write_requirements(repo, "pylint-dev/pylint", commit)  # swebench reads requirements_test.txt
    assert found == ["astroid==2.12.13", "pytest~=7.2", "coverage~=6.4", "types-setuptools"]
    assert "-e ." not in (repo / REQUIREMENTS_FILE).read_text()
    assert write_requirements(repo, "pylint-dev/pylint", "0" * 40) is None


def test_a_partial_mirror_is_unavailable_with_the_files_it_lacks(tmp_path: Path) -> None:
    from repomind.eval.swebench.harness import missing_files
    from repomind.pipeline.localise import gitread
    from repomind.testing import git, make_git_repo

    repo = make_git_repo(tmp_path / "repo", {"pkg/a.py": "x = 1\n", "data/big.h5": "\0" * 100})
    head = git(repo, "rev-parse", "HEAD").strip()
    assert missing_files(repo, head) == []
    blob = git(repo, "rev-parse", "HEAD:data/big.h5").strip()
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # as a mirror that dropped large files
    assert missing_files(repo, head) == ["data/big.h5"]
    assert list(gitread.list_files(repo, head)) == ["pkg/a.py"]  # localisation skips the absent file
    assert missing_files(repo, "0" * 40) == []  # a missing commit is the checkout's error to name


def test_a_solve_left_by_an_interrupted_run_is_started_afresh(tmp_path: Path) -> None:
    from repomind.eval.swebench.model import solve_predictor
    from repomind.pipeline.instance import Instance

    stale = tmp_path / "solve" / "scratch" / "repo"
    stale.mkdir(parents=True)
    seen: list[bool] = []

    def run_solve(instance: Instance, repo: Path, run_dir: Path) -> object:
        seen.append(run_dir.exists())  # the interrupted run's files are gone before the solve starts
        run_dir.mkdir(parents=True)
        (run_dir / "patch.diff").write_text("diff\n")
        return object()

    item = Instance("o__r-1", "o/r", "abc", "issue", "patch")
    prediction, _ = solve_predictor("m", run_solve)(item, tmp_path / "repo", tmp_path)
    assert seen == [False] and prediction.patch == "diff\n"
    assert Instance("o__r-2", "o/r", "abc", "issue", "not a diff").gold_files == []  # no section, no crash


def test_the_prediction_is_the_chosen_patch_as_the_work_tree_has_it_not_the_redacted_file(
    tmp_path: Path,
) -> None:
    """A repository's own ``ftp://foo:bar@`` line is redacted in the run's ``patch.diff`` (for the eye);
    the prediction must still apply, so it is the chosen attempt's diff itself."""
    from repomind.eval.swebench.model import solve_predictor
    from repomind.pipeline.instance import Instance
    from repomind.pipeline.solve import SolveReport, Stopped
    from repomind.pipeline.solve.artifacts import RunArtifacts
    from repomind.pipeline.solve.reflect import AttemptRecord, Category

    diff = (
        "diff --git a/v.py b/v.py\n--- a/v.py\n+++ b/v.py\n@@ -1,2 +1,2 @@\n"
        " # e.g. 'ftp://foo:bar@ftp.example.org/'\n-OLD = 1\n+OLD = 2\n"
    )
    failed = AttemptRecord(1, Category.TEST_FAILURE, "no", diff="diff --git a/x b/x\n")
    chosen = AttemptRecord(2, Category.PASSED, "yes", diff=diff)

    def run_solve(instance: Instance, repo: Path, run_dir: Path) -> SolveReport:
        RunArtifacts(run_dir, "r1").write_text("patch.diff", diff)
        report = SolveReport("r1", True, True, Stopped.PASSED, "", "m", "abc", [failed, chosen])
        report.patch_attempt = 2
        return report

    item = Instance("o__r-1", "o/r", "abc", "issue", "patch")
    prediction, _ = solve_predictor("m", run_solve)(item, tmp_path / "repo", tmp_path)
    assert "foo:[REDACTED]@" in (tmp_path / "solve" / "patch.diff").read_text()
    assert prediction.patch == diff


def test_saved_instances_are_read_back_whole_by_eval_and_by_the_localiser(tmp_path: Path) -> None:
    """One writer (``pipeline.instance.save``) for backtest tasks and issues from GitHub: `eval swebench`
    reads every field back, the localiser its five."""
    from repomind.pipeline.instance import Instance, load, save

    task = Instance(
        instance_id="acme__calc-abc123",
        repo="acme/calc",
        base_commit="a" * 40,
        problem_statement="add() subtracts",
        patch="diff --git a/calc.py b/calc.py\n",
        version="1.2",
        test_patch="diff --git a/tests/test_calc.py b/tests/test_calc.py\n",
        fail_to_pass=("tests/test_calc.py::test_add",),
        pass_to_pass=("tests/test_calc.py::test_mul",),
        environment_setup_commit="b" * 40,
    )
    path = tmp_path / "tasks.jsonl"
    save([task], path)
    assert ds.load_instances(path) == [task]
    assert [(i.instance_id, i.patch) for i in load(path)] == [(task.instance_id, task.patch)]
