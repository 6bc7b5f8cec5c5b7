"""``.github/repomind.yml``: defaults, validation, and errors that say exactly what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from repomind import repoconfig
from repomind.errors import ConfigError


def test_defaults_when_absent(make_repo: Any) -> None:
    config = repoconfig.load(make_repo({"a.py": ""}))
    assert config.label == "repomind" and config.max_attempts == 3 and config.confidence == 0.9


def test_full_config(make_repo: Any) -> None:
    repo = make_repo(
        {
            ".github/repomind.yml": (
                "label: fix-me\ntest_command: pytest -x\nsetup_command: pip install -e .\npython: 3.9\n"
                "max_attempts: 5\nbudget_usd: 1.5\nbudget_tokens: 200000\nmodel: openai/gpt-4o\n"
                "ignore_paths: [docs/]\nconfidence: 0.8\nmax_set_size: 4\ninstructions: Keep it small.\n"
            )
        }
    )
    config = repoconfig.load(repo)
    assert config.python == "3.9" and config.ignore_paths == ["docs/"] and config.budget_usd == 1.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("labl: x\n", "labl: unknown key"),
        ("max_attempts: 0\n", "max_attempts: Input should be greater than or equal to 1"),
        ("confidence: 1.5\n", "confidence: Input should be less than 1"),
        ("python: '2'\n", "python: Value error, must be a Python version such as '3.11'"),
        ("label: [\n", "is not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("test_command: '  '\n", "test_command: Value error, must not be empty"),
    ],
)
def test_bad_config_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        repoconfig.parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith(".github/repomind.yml")
