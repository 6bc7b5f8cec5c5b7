"""Where the local harness agreed with the official one only on the instances it was tuned on: a
predictions file with more instances than the dataset, install steps that pin one package differently,
and the unavailable instances reported by cause (issue #21, "Evaluation fidelity")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repomind.eval.swebench import batch, causes, harness, report, specs
from repomind.eval.swebench import jsonl as ds
from repomind.eval.swebench.environments import Environments, with_learnt
from repomind.eval.swebench.errors import EvalInputError
from repomind.sandbox import EnvironmentSetupError, EnvironmentSpec
from repomind.testing.sandbox import FakeSandbox
from tests.eval.swebench_fixtures import make_dataset, write_specs

#: swebench's pallets/flask 2.3 specification (abridged): its requirements file, then these pins.
FLASK_23 = {
    "python": "3.11",
    "packages": "requirements.txt",
    "install": "python -m pip install -e .",
    "pip_packages": ["setuptools==70.0.0", "Jinja2==3.1.2", "MarkupSafe==2.1.1", "Werkzeug==2.3.7"],
    "test_cmd": "pytest -rA",
}
#: What flask's requirements/dev.txt pins at 2.3's environment commit (abridged).
FLASK_FILE = ["markupsafe==2.1.2", "pytest==7.3.1"]
#: pip's refusal when both pins are resolved together (the error of the issue).
PIP_CONFLICT = (
    "ERROR: Cannot install MarkupSafe==2.1.1 and markupsafe==2.1.2 because these package versions have "
    "conflicting dependencies.\nERROR: ResolutionImpossible: for help visit https://pip.pypa.io/"
)


def _rows(path: Path, ids: list[str]) -> Path:
    path.write_text("".join(json.dumps({"instance_id": i, "model_patch": ""}) + "\n" for i in ids))
    return path


# -- 1. predictions for instances the dataset does not have --------------------------------------------


def test_predictions_for_more_instances_are_left_out_and_counted(tmp_path: Path) -> None:
    dataset, _repos, _gold = make_dataset(tmp_path)
    items = ds.load_instances(dataset, ["acme__calc-1", "acme__calc-2"])  # as --instances selects
    ids = ["acme__calc-1", "other__x-1", "acme__calc-3", "acme__calc-2", "other__x-2"]
    loaded = ds.load_predictions(_rows(tmp_path / "all_preds.jsonl", ids), items)
    assert sorted(loaded.predictions) == ["acme__calc-1", "acme__calc-2"]
    # Not in the dataset, or not selected: left out, in the file's order.
    assert loaded.left_out == ("other__x-1", "acme__calc-3", "other__x-2")
    # What is truly malformed is still refused, left-out ids included.
    for bad, message in (
        (["acme__calc-1", "acme__calc-1"], "a second prediction for acme__calc-1"),
        (["other__x-1", "other__x-1"], "a second prediction for other__x-1"),
    ):
        with pytest.raises(EvalInputError, match=message):
            ds.load_predictions(_rows(tmp_path / "bad.jsonl", bad), items)
    (tmp_path / "bad.jsonl").write_text(json.dumps({"model_patch": ""}) + "\n")
    with pytest.raises(EvalInputError, match="needs a string instance_id"):
        ds.load_predictions(tmp_path / "bad.jsonl", items)
    (tmp_path / "bad.jsonl").write_text(json.dumps({"instance_id": "other__x-1", "model_patch": 3}) + "\n")
    with pytest.raises(EvalInputError, match="must be a string or null"):
        ds.load_predictions(tmp_path / "bad.jsonl", items)


def _pytest_log(argv: tuple[str, ...], _tree: Path) -> tuple[int, str, str]:
    """The test run of the fake sandbox: every test of the fixture passes."""
    return 0, "PASSED tests/test_calc.py::test_add\nPASSED tests/test_calc.py::test_sub\n", ""


def test_a_superset_of_predictions_is_evaluated_on_the_shared_instances(tmp_path: Path) -> None:
    dataset, repos, gold = make_dataset(tmp_path)
    items = ds.load_instances(dataset, ["acme__calc-1", "acme__calc-4"])
    rows = [{"instance_id": i, "model_patch": gold.get(i, "")} for i in ("acme__calc-1", "django__x-7")]
    rows += [{"instance_id": f"other__y-{n}", "model_patch": ""} for n in range(6)]
    path = tmp_path / "all_preds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = ds.load_predictions(path, items)
    box = FakeSandbox(script=_pytest_log)
    config = batch.RunConfig(
        repos=repos,
        out=tmp_path / "out",
        available_pythons=("3.11",),
        spec_lookup=specs.overlay(write_specs(tmp_path)),
    )

    def predict(instance: Any, _repo: Path, _dir: Path) -> tuple[ds.Prediction, dict[str, Any]]:
        return loaded.predictions.get(instance.instance_id) or ds.Prediction(instance.instance_id, "", ""), {}

    result = batch.run(items, predict, box, config)
    written = report.write(tmp_path / "out", result.records, result.skipped, {}, left_out=loaded.left_out)
    summary = written["summary"]
    assert (summary["n"], summary["resolved"], summary["unavailable"]) == (2, 1, 1)
    assert summary["predictions_left_out"] == {
        "count": 7,
        "first": ["django__x-7", "other__y-0", "other__y-1", "other__y-2", "other__y-3"],
    }
    assert summary["unavailable_by_cause"] == {causes.PYTHON: ["acme__calc-4"]}  # it needs Python 2.7
    md = (tmp_path / "out" / "report.md").read_text()
    assert "predictions left out (no instance evaluated here has their id): 7 (django__x-7," in md
    assert "unavailable, python_version: 1 (acme__calc-4)" in md


# -- 2. install steps run one after the other ------------------------------------------------------------


def test_install_steps_keep_the_official_order_and_resolve_one_at_a_time() -> None:
    spec = specs.resolve("pallets/flask", "2.3", FLASK_23, available_pythons=("3.11",))
    assert isinstance(spec, specs.EvalSpec)
    # As swebench: the conda environment (here: the requirements file) first, then pip_packages, then
    # the project: pip installing MarkupSafe==2.1.1 last makes it the one installed.
    assert spec.setup_command.splitlines()[1:] == [
        "python -m pip install 'pip<24'",
        f"python -m pip install -r {specs.REQUIREMENTS_FILE}",
        "python -m pip install setuptools==70.0.0 Jinja2==3.1.2 MarkupSafe==2.1.1 Werkzeug==2.3.7",
        "python -m pip install -e .",
    ]
    assert spec.requirement_steps(FLASK_FILE) == (
        ("pip<24",),
        ("markupsafe==2.1.2", "pytest==7.3.1"),
        ("setuptools==70.0.0", "Jinja2==3.1.2", "MarkupSafe==2.1.1", "Werkzeug==2.3.7"),
    )
    # A spec made without steps installs its requirements as one step.
    plain = specs.EvalSpec("o/r", "1", "3.11", "3.11", (), ("a==1",), "pip install a==1", "pytest")
    assert plain.requirement_steps(["b==2"]) == (("a==1", "b==2"),)


def test_the_environment_gets_each_install_step_on_its_own(tmp_path: Path) -> None:
    spec = specs.resolve("pallets/flask", "2.3", FLASK_23, available_pythons=("3.11",))
    assert isinstance(spec, specs.EvalSpec)
    box = FakeSandbox()
    prepared = Environments(box).prepare(tmp_path, spec, lambda _m: None, extra=FLASK_FILE)
    assert prepared.env is not None
    (sent,) = box.prepared
    assert sent.requirements == ()  # nothing resolved with everything else
    assert ("markupsafe==2.1.2", "pytest==7.3.1") in sent.requirement_steps
    assert sent.requirement_steps[-1][2] == "MarkupSafe==2.1.1"
    # A requirement learnt from pip's "No matching distribution" joins the last step's resolution.
    assert with_learnt(((("a==1",), ("b==2",))), ["c"]) == (("a==1",), ("b==2", "c"))
    assert with_learnt((), ["c"]) == (("c",),)


class _Box:
    """The setup container's stand-in: installs nothing."""

    def install(self, *_args: Any) -> str:
        return "installed"


def _fake_resolver(calls: list[list[str]]) -> Any:
    """uv's resolution faked: one set that pins a package twice, differently, is impossible."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    def download(requirements: list[str], dest: Path, **_kw: Any) -> list[str]:
        calls.append(list(requirements))
        pins: dict[str, str] = {}
        for r in map(Requirement, requirements):
            name, pin = canonicalize_name(r.name), str(r.specifier)
            if pins.setdefault(name, pin) != pin:
                raise EnvironmentSetupError("resolving failed", output=f"No solution found: {name}")
        return [str(r) for r in requirements]

    return download


def test_two_steps_that_pin_one_package_differently_both_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from repomind.sandbox import environment, setup_plan, wheelhouse

    calls: list[list[str]] = []
    monkeypatch.setattr(wheelhouse, "download", _fake_resolver(calls))
    monkeypatch.setattr(wheelhouse, "build_tools", lambda *_a, **_k: [])
    first, second = ("markupsafe==2.1.2", "pytest==7.3.1"), ("MarkupSafe==2.1.1", "Jinja2==3.1.2")
    command = "pip install -r reqs.txt\npip install MarkupSafe==2.1.1 Jinja2==3.1.2"
    plan = setup_plan.detect(tmp_path, command, ())

    def setup(spec: EnvironmentSpec) -> str:
        args = (tmp_path, spec, plan, "3.11", (2, 36), None, "tag", "key", lambda _m: None)
        output, _plan = environment._setup(_Box(), *args)  # type: ignore[arg-type]
        return output

    together = EnvironmentSpec("pallets/flask", command, requirements=(*first, *second))
    with pytest.raises(EnvironmentSetupError):  # the ResolutionImpossible
        setup(together)
    calls.clear()
    steps = EnvironmentSpec("pallets/flask", command, requirement_steps=(first, second))
    assert setup(steps) == "installed"
    assert calls[-2:] == [list(first), list(second)]  # each step resolved alone, in order


# -- 3. the unavailable instances by cause ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("needs Python 3.6, which no sandbox image here provides (have 3.9, 3.11)", causes.PYTHON),
        (
            "the repository lacks the contents of 2 files at base_commit (a partial mirror): a.h5",
            causes.MIRROR,
        ),
        (specs.OFFLINE_BLOCKERS["psf/requests"], causes.NETWORK),
        ("environment could not be built: the package index did not list numpy: <urlopen>", causes.NETWORK),
        (f"environment could not be built: setting up x failed: {PIP_CONFLICT}", causes.RESOLUTION),
        (
            "environment could not be built: could not fetch the repository's requirements into a "
            "wheelhouse (resolving for Python 3.9, exit 1)",
            causes.RESOLUTION,
        ),
        ("its environment is a conda environment.yml, which has no pip mapping here", causes.OTHER),
        ("evaluation could not run here: APIError: 500", causes.OTHER),
    ],
)
def test_reasons_are_classed_by_cause(reason: str, cause: str) -> None:
    assert causes.classify(reason) == cause


def test_the_harness_records_the_cause_where_it_knows_it(tmp_path: Path) -> None:
    raw = {"python": "3.6", "pip_packages": ["pytest"], "test_cmd": "pytest -rA"}
    old = specs.resolve("o/r", "1", raw, available_pythons=("3.11",))
    assert isinstance(old, specs.Unavailable) and old.cause == causes.PYTHON
    blocked = specs.resolve("psf/requests", "2.0", raw, available_pythons=("3.11",))
    assert isinstance(blocked, specs.Unavailable) and blocked.cause == causes.NETWORK

    class Refusing(FakeSandbox):
        def prepare(self, work_tree: Path, spec: EnvironmentSpec) -> Any:
            raise EnvironmentSetupError("setting up o/r failed with exit status 1", output=PIP_CONFLICT)

    spec = specs.resolve("o/r", "1", {**raw, "python": "3.11"}, available_pythons=("3.11",))
    assert isinstance(spec, specs.EvalSpec)
    prepared = Environments(Refusing()).prepare(tmp_path, spec, lambda _m: None)
    assert prepared.env is None and prepared.cause == causes.RESOLUTION


def test_the_summary_lists_unavailable_instances_by_cause() -> None:
    records: list[dict[str, Any]] = [
        {"instance_id": "a", "repo": "r", "verdict": "resolved", "reason": ""},
        {"instance_id": "b", "repo": "r", "verdict": harness.UNAVAILABLE, "reason": "x", "cause": "network"},
        # A verdict of an earlier run, without a cause: classed from its reason.
        {"instance_id": "c", "repo": "r", "verdict": harness.UNAVAILABLE, "reason": "needs Python 3.8, x"},
        {"instance_id": "d", "repo": "r", "verdict": harness.UNAVAILABLE, "reason": "ResolutionImpossible"},
        {"instance_id": "e", "repo": "r", "verdict": harness.UNAVAILABLE, "reason": "needs Python 3.6, x"},
    ]
    summary = report.summarise(records, [])
    assert summary["unavailable_by_cause"] == {
        causes.PYTHON: ["c", "e"],
        causes.NETWORK: ["b"],
        causes.RESOLUTION: ["d"],
    }
    assert list(summary["unavailable_by_cause"]) == [causes.PYTHON, causes.NETWORK, causes.RESOLUTION]
    assert summary["predictions_left_out"] == {"count": 0, "first": []}
