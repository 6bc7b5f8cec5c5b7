"""Detecting how to install a repository, reading its files as data only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.sandbox.setup_plan import detect, fingerprint, setup_py_only


def test_pyproject_with_test_extra(make_repo: Any) -> None:
    repo = make_repo(
        {
            "pyproject.toml": '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "x"\n'
            '[project]\nname = "p"\nversion = "1"\ndependencies = ["attrs>=22"]\n'
            '[project.optional-dependencies]\ntests = ["pytest>=7", "hypothesis"]\ndocs = ["sphinx"]\n'
        }
    )
    plan = detect(repo)
    assert plan.pip_args == ("-e", ".[tests]")
    assert plan.requirements == ("attrs>=22", "pytest>=7", "hypothesis", "hatchling")
    assert plan.dependency_files == ("pyproject.toml",)
    assert plan.build_requirements == ("hatchling",)  # fetched as their own set for the isolated build


def test_setup_cfg_setup_py_and_requirement_files(make_repo: Any) -> None:
    repo = make_repo(
        {
            "setup.py": "from setuptools import setup\nsetup(name='p', install_requires=['six'],\n"
            "      extras_require={'testing': ['mock'], 'dev': ['black']})\n",
            "setup.cfg": "[options]\ninstall_requires =\n    requests\n",
            "requirements.txt": "numpy==2.0  # pinned\n-e .\n",
            "requirements/test.txt": "pytest\n",
        }
    )
    plan = detect(repo)
    assert plan.pip_args == (
        *("-e", ".[testing]", "--config-settings", "editable_mode=compat"),
        *("-r", "requirements.txt", "-r", "requirements/test.txt"),
    )
    assert "pytest" in plan.requirements and "numpy==2.0" in plan.requirements
    assert {"six", "requests", "mock"} <= set(plan.requirements)
    assert "black" not in plan.requirements  # 'dev' is only a fallback when no test extra exists
    assert not any(r.startswith(("-", ".")) for r in plan.requirements)


def test_plain_directory_gets_pytest(make_repo: Any) -> None:
    plan = detect(make_repo({"test_x.py": "def test_x():\n    pass\n"}))
    assert plan.pip_args == ("pytest",) and plan.dependency_files == ()


def test_dynamic_setup_py_is_not_executed(make_repo: Any, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    repo = make_repo(
        {
            "setup.py": f"open({str(marker)!r}, 'w').write('x')\nfrom setuptools import setup\n"
            "setup(install_requires=compute())\n"
        }
    )
    plan = detect(repo)
    assert not marker.exists()
    assert plan.pip_args == ("-e", ".", "--config-settings", "editable_mode=compat", "pytest")


def test_fingerprint_follows_dependency_files_only(make_repo: Any) -> None:
    repo = make_repo({"requirements.txt": "six\n", "app.py": "x = 1\n"})
    plan = detect(repo)
    key = fingerprint(repo, plan, "owner/name")
    (repo / "app.py").write_text("x = 2\n")
    assert fingerprint(repo, plan, "owner/name") == key
    assert fingerprint(repo, plan, "other/name") != key
    (repo / "requirements.txt").write_text("six==1.16\n")
    assert fingerprint(repo, detect(repo), "owner/name") != key
    assert fingerprint(repo, detect(repo, "make deps"), "owner/name") != fingerprint(
        repo, detect(repo), "owner/name"
    )


PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "{version}"
dependencies = ["six"]

[project.optional-dependencies]
tests = ["pytest"]
docs = ["sphinx=={sphinx}"]

[tool.ruff]
line-length = {width}
"""


def test_fingerprint_ignores_what_does_not_change_the_environment_in_pyproject(make_repo: Any) -> None:
    """A version bump, a docs pin (dependabot's weekly bump) or a linter's setting: the same environment;
    a dependency, the installed test extra or the build system: a new one."""

    def key(**over: str) -> str:
        values = {"version": "1.0", "sphinx": "8.0", "width": "100", **over}
        text = PYPROJECT.format(**values)
        if "replace" in over:
            old, new = over["replace"].split("=>")
            text = text.replace(old, new)
        repo = make_repo({"pyproject.toml": text})
        return fingerprint(repo, detect(repo), "owner/name")

    base = key()
    assert detect(
        make_repo({"pyproject.toml": PYPROJECT.format(version="1", sphinx="8", width="9")})
    ).extras == ("tests",)
    assert key(version="1.1") == base
    assert key(sphinx="8.1.3") == base
    assert key(width="88") == base
    assert key(replace='["six"]=>["six>=1.16"]') != base
    assert key(replace='tests = ["pytest"]=>tests = ["pytest", "hypothesis"]') != base
    assert key(replace='"setuptools>=61"=>"setuptools>=70"') != base


def test_setup_py_names_bound_to_literals(make_repo: Any) -> None:
    """``setup(install_requires=install_requires)`` with a module-level literal (Sphinx's style)."""
    repo = make_repo(
        {
            "setup.py": "from setuptools import setup\ninstall_requires = ['docutils>=0.12', 'Jinja2>=2.3']\n"
            "extras_require = {'test': ['pytest', 'html5lib']}\n"
            "setup(name='p', install_requires=install_requires, extras_require=extras_require)\n",
            "requirements.txt": "invoke\n",
        }
    )
    plan = detect(repo, requirement_files=())
    assert plan.pip_args == ("-e", ".[test]", "--config-settings", "editable_mode=compat")
    assert plan.requirements[:4] == ("docutils>=0.12", "Jinja2>=2.3", "pytest", "html5lib")
    assert "invoke" not in plan.requirements and plan.dependency_files == ("setup.py",)
    assert "invoke" in detect(repo).requirements  # the usual requirement files by default


def test_setup_py_projects_install_editable_in_compat_mode(tmp_path: Path, make_repo: Any) -> None:
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    assert setup_py_only(tmp_path)  # pip would build a PEP 660 wheel that puts no path on sys.path
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    assert setup_py_only(tmp_path)  # tool settings only: still built by setup.py
    (tmp_path / "pyproject.toml").write_text("# no [build-system] here\n[tool.isort]\nline_length = 100\n")
    assert setup_py_only(tmp_path)  # a comment that names the table is not the table
    (tmp_path / "pyproject.toml").write_text("[tool.black\n")
    assert not setup_py_only(tmp_path)  # unreadable: pip fails on it anyway, so nothing is added
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["flit_core"]\n')
    assert not setup_py_only(tmp_path)  # the project chose its backend: left as it is
    (tmp_path / "setup.py").unlink()
    (tmp_path / "pyproject.toml").unlink()
    assert not setup_py_only(tmp_path)
    # ... and the plan asks for it: pip passes the setting to the editable build
    repo = make_repo({"setup.py": "from setuptools import setup\nsetup(name='p')\n"})
    assert detect(repo).pip_args == ("-e", ".", "--config-settings", "editable_mode=compat", "pytest")


def test_extras_a_requirement_file_asks_of_the_project_are_fetched(make_repo: Any) -> None:
    """pylint's requirements_test_min.txt says ``-e .[testutil]``: pip installs the project from that
    line in the sandbox, and the host must fetch what the extra requires (gitpython)."""
    from repomind.sandbox.setup_plan import ProjectMetadata

    repo = make_repo(
        {
            "setup.cfg": "[metadata]\nname = p\n[options.extras_require]\ntestutil =\n    gitpython>3\n",
            "setup.py": "from setuptools import setup\nsetup()\n",
            "requirements_test.txt": "-e .[testutil]\npytest\n",
        }
    )
    assert "gitpython>3" in detect(repo).requirements
    meta = ProjectMetadata("p", ('gitpython>3; extra == "testutil"', "six"), ("testutil",))
    assert {"gitpython>3", "six"} <= set(detect(repo, metadata=meta).requirements)


def test_the_extras_tox_installs_for_the_tests_are_installed_too(make_repo: Any) -> None:
    repo = make_repo(
        {
            "setup.py": "from setuptools import setup\nsetup(name='p',\n"
            "      extras_require={'tests': ['pytest'], 'reco': ['simplejson'], 'docs': ['sphinx']})\n",
            "tox.ini": "[tox]\nenvlist = py39\n\n[testenv]\nextras = tests,reco\n    py27: legacy\n"
            "commands = pytest {posargs}\n",
        }
    )
    plan = detect(repo)
    assert plan.pip_args[:2] == ("-e", ".[tests,reco]")
    assert "simplejson" in plan.requirements and "sphinx" not in plan.requirements
    assert "tox.ini" in plan.dependency_files  # a change to it is a new environment
    # an unknown or malformed tox.ini changes nothing
    other = make_repo(
        {"setup.py": "from setuptools import setup\nsetup(name='q')\n", "tox.ini": "[testenv\n"}
    )
    assert detect(other).pip_args[:2] == ("-e", ".")


def test_the_fallback_without_linters_requirement_files(make_repo: Any) -> None:
    """astroid in 2021: requirements_test.txt includes the pre-commit pins (pylint==2.11.1, which wants
    astroid<2.9, the project itself being 2.9.0.dev0). The fallback installs the file's own
    requirements and those of its other includes, markers evaluated, without the linters' file."""
    from repomind.sandbox.setup_plan import has_lint_includes

    repo = make_repo(
        {
            "setup.cfg": "[metadata]\nname = astroid\n",
            "setup.py": "from setuptools import setup\nsetup()\n",
            "requirements_test.txt": "-r requirements_test_min.txt\n-r requirements_test_pre_commit.txt\n"
            "coverage~=5.5\ntypes-typed-ast; python_version<'3.8'\n",
            "requirements_test_min.txt": "-e .\npytest\n",
            "requirements_test_pre_commit.txt": "black==21.7b0\npylint==2.11.1\n",
        }
    )
    assert has_lint_includes(repo) and not has_lint_includes(make_repo({"requirements.txt": "six\n"}))
    usual = detect(repo)
    assert "requirements_test.txt" in usual.pip_args  # as pip reads it, includes and all
    assert "pylint==2.11.1" in usual.requirements
    fallback = detect(repo, python="3.11", skip_lint=True)
    assert "-r" not in fallback.pip_args
    assert "coverage~=5.5" in fallback.pip_args and "pytest" in fallback.pip_args
    assert not any(a.startswith(("pylint", "black", "types-typed-ast")) for a in fallback.pip_args)
    assert "pylint==2.11.1" not in fallback.requirements
    assert fallback.pip_args[:2] == ("-e", ".")
