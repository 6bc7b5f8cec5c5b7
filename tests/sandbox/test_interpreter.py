"""The environment's Python and compiler variant follow the repository's declared metadata, read as data;
the repository config always wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from repomind.sandbox import repofs
from repomind.sandbox.interpreter import choose


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


#: psf/requests as of 2014: no python_requires, Python 2.6 to 3.4 classifiers, and a setup.py that imports
#: the package (which needs the collections aliases that Python 3.10 removed).
REQUESTS_2014 = """\
import os
import sys

import requests

from setuptools import setup

setup(
    name='requests',
    version=requests.__version__,
    packages=['requests'],
    classifiers=(
        'Programming Language :: Python',
        'Programming Language :: Python :: 2.6',
        'Programming Language :: Python :: 2.7',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.3',
        'Programming Language :: Python :: 3.4',
    ),
)
"""

MODERN = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "modern"
version = "1.0"
requires-python = "{requires}"
classifiers = [
    "Programming Language :: Python :: 3",
{listed}]
"""


def modern(requires: str, minors: range) -> str:
    listed = "".join(f'    "Programming Language :: Python :: 3.{m}",\n' for m in minors)
    return MODERN.format(requires=requires, listed=listed)


def test_an_old_setup_py_whose_classifiers_stop_at_3_4_gets_python_3_9(tmp_path: Path) -> None:
    chosen = choose(tree(tmp_path, {"setup.py": REQUESTS_2014, "requests/__init__.py": ""}))
    assert (chosen.python, chosen.compiler, chosen.automatic) == ("3.9", False, True)
    assert "classifiers list up to 3.4" in chosen.describe()


def test_a_modern_project_listing_3_8_to_3_12_stays_on_the_default(tmp_path: Path) -> None:
    chosen = choose(tree(tmp_path, {"pyproject.toml": modern(">=3.8", range(8, 13))}))
    assert (chosen.python, chosen.compiler, chosen.automatic) == ("3.11", False, False)
    assert "requires-python '>=3.8'" in chosen.reason


@pytest.mark.parametrize(
    ("files", "python"),
    [
        ({"pyproject.toml": modern("<3.10", range(7, 10))}, "3.9"),
        ({"setup.cfg": "[options]\npython_requires = >=3.12\n"}, "3.13"),
        # A dict of setup() keywords, as pvlib spells it, and classifiers up to 3.7: the default.
        ({"setup.py": "K = {'python_requires': '<3.10'}\nsetup(**K)\n"}, "3.9"),
        ({"setup.py": "setup(classifiers=['Programming Language :: Python :: 3.7'])\n"}, "3.11"),
        # Python 2 only; nothing declared at all.
        ({"setup.py": "setup(classifiers=['Programming Language :: Python :: 2.7'])\n"}, "3.9"),
        ({"README.md": "hello\n"}, "3.11"),
    ],
)
def test_requires_python_and_classifiers(tmp_path: Path, files: dict[str, str], python: str) -> None:
    assert choose(tree(tmp_path, files)).python == python


def test_the_repository_config_wins(tmp_path: Path) -> None:
    root = tree(tmp_path, {"setup.py": REQUESTS_2014, "pyproject.toml": modern(">=3.8", range(8, 9))})
    (root / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools", "cython"]\n')
    chosen = choose(root, python="3.11", compiler=False)
    assert (chosen.python, chosen.compiler, chosen.automatic) == ("3.11", False, False)
    assert "from the repository config" in chosen.reason
    assert choose(root, image="registry.example/ci:1").python == "3.11"  # the image brings its own


def test_a_setup_py_with_an_extension_gets_the_compiler(tmp_path: Path) -> None:
    setup = (
        "from setuptools import Extension, setup\n"
        "SOURCES = ['fast/_speed.c']\n"
        "setup(name='fast', ext_modules=[Extension('fast._speed', sources=SOURCES)])\n"
    )
    chosen = choose(tree(tmp_path, {"setup.py": setup, "fast/_speed.c": "int x;\n"}))
    assert (chosen.python, chosen.compiler, chosen.automatic) == ("3.11", True, True)
    assert "Extension(...) on line 3" in chosen.reason


def test_an_extension_whose_sources_are_absent_needs_no_compiler(tmp_path: Path) -> None:
    """pvlib's optional NREL SPA extension: its C sources are not in the repository."""
    setup = "from setuptools import Extension, setup\nsetup(ext_modules=[Extension('x', ['spa.c'])])\n"
    assert not choose(tree(tmp_path, {"setup.py": setup})).compiler


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": '[build-system]\nrequires = ["setuptools", "Cython>=0.29", "wheel"]\n'},
        {"pyproject.toml": '[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n'},
        {"setup.py": "from helpers import get_extensions\nsetup(ext_modules=get_extensions())\n"},
        {"setup.py": "setup()\n", "pkg/__init__.py": "", "pkg/_fast.pyx": "cdef int x\n"},
    ],
)
def test_declared_extensions_get_the_compiler(tmp_path: Path, files: dict[str, str]) -> None:
    assert choose(tree(tmp_path, files)).compiler


def test_no_extension_no_compiler(tmp_path: Path) -> None:
    files = {"setup.py": "setup(ext_modules=[])\n", "pkg/sub/_deep.pyx": "", "README.md": "cython\n"}
    assert not choose(tree(tmp_path, files)).compiler


def test_a_symlinked_setup_py_is_not_followed(tmp_path: Path) -> None:
    """A setup.py that is a symlink (here to a file outside the repository that would say 3.9 and a
    compiler) is refused by the reader: the choice is the default."""
    outside = tree(tmp_path / "outside", {"setup.py": REQUESTS_2014 + "Extension('x')\n"})
    root = tree(tmp_path / "repo", {"README.md": "x\n"})
    (root / "setup.py").symlink_to(outside / "setup.py")
    (root / "pkg").symlink_to(tree(tmp_path / "cy", {"_fast.pyx": ""}))
    assert repofs.read_text_or_none(root, "setup.py") is None
    chosen = choose(root)
    assert (chosen.python, chosen.compiler, chosen.automatic) == ("3.11", False, False)


def test_list_dir_does_not_follow_symlinks(tmp_path: Path) -> None:
    root = tree(tmp_path / "repo", {"pkg/a.py": ""})
    (root / "link").symlink_to(root / "pkg")
    assert sorted(repofs.list_dir(root)) == [("link", "other"), ("pkg", "dir")]
    assert repofs.list_dir(root, "pkg") == [("a.py", "file")]
    with pytest.raises(repofs.UnsafePathError):
        repofs.list_dir(root, "link")


def test_extensions_committed_before_the_default_python_get_the_python_of_then(tmp_path: Path) -> None:
    """astropy of March 2022 pins Cython 0.29.22, whose generated C does not compile on 3.11 (released
    that October): its extensions get 3.9; a pure-Python project of then keeps the default."""
    build = '[build-system]\nrequires = ["setuptools", "cython==0.29.22"]\n'
    cfg = "[options]\npython_requires = >=3.8\n"
    root = tree(tmp_path / "astropy", {"pyproject.toml": build, "setup.cfg": cfg})
    chosen = choose(root, committed="2022-03-03T13:21:56-05:00")
    assert (chosen.python, chosen.compiler, chosen.automatic) == ("3.9", True, True)
    assert "its commit (2022-03-03) predates Python 3.11 (2022-10-24)" in chosen.reason
    assert choose(root, committed="2023-01-01T00:00:00Z").python == "3.11"
    assert choose(root, committed="2022-03-03T00:00:00Z", python="3.11").python == "3.11"
    pure = tree(tmp_path / "pure", {"setup.cfg": cfg})
    assert choose(pure, committed="2019-01-01T00:00:00Z").python == "3.11"


def test_resolution_waits_for_the_images_python() -> None:
    """A 2020 commit installed on Python 3.11 resolves as of 3.11's release (pytest 6.1 of 2020 crashes
    on 3.11: `py.path` has no `__spec__`); a commit after it, or on a Python of its time, as of its date;
    a date the spec gives, alone."""
    from repomind.sandbox.environment import resolution_dates

    assert resolution_dates("2020-10-31T14:19:19-04:00", "3.11", None) == ["2022-10-24T00:00:00+00:00", None]
    assert resolution_dates("2020-10-31T14:19:19-04:00", "3.9", None) == ["2020-10-31T14:19:19-04:00", None]
    assert resolution_dates("2023-05-01T10:00:00+00:00", "3.11", None) == ["2023-05-01T10:00:00+00:00", None]
    assert resolution_dates(None, "3.11", None) == [None]
    assert resolution_dates("2020-10-31T14:19:19-04:00", "3.11", "2021-01-01") == ["2021-01-01"]
