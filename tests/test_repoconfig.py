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


def test_the_agent_keys_and_the_repository_habits() -> None:
    default = repoconfig.RepoConfig()
    assert (default.max_steps, default.max_prompt_tokens, default.review_steps) == (40, 32000, "edits")
    assert (default.review_model, default.tool_protocol, default.format_command, default.signoff) == (
        None,
        "auto",
        None,
        False,
    )
    config = repoconfig.parse(
        "strategy: agent\nmax_steps: 12\nmax_prompt_tokens: 8000\nreview_steps: false\n"
        "review_model: openai/judge\ntool_protocol: text\nformat_command: ruff format\nsignoff: true\n"
    )
    assert (config.strategy, config.max_steps, config.max_prompt_tokens) == ("agent", 12, 8000)
    assert config.review_steps is False and config.review_model == "openai/judge"
    assert (config.tool_protocol, config.format_command, config.signoff) == ("text", "ruff format", True)
    assert repoconfig.parse("review_steps: true\n").review_steps is True
    assert repoconfig.parse("review_steps: Edits\n").review_steps == "edits"
    assert repoconfig.parse("tool_protocol: Native\n").tool_protocol == "native"


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
        ("max_steps: 0\n", "max_steps: Input should be greater than or equal to 1"),
        ("max_steps: 201\n", "max_steps: Input should be less than or equal to 200"),
        ("max_prompt_tokens: 1000\n", "max_prompt_tokens: Input should be greater than or equal to 4000"),
        ("review_steps: sometimes\n", "review_steps: Value error, must be true (every action), false (none)"),
        ("review_steps: 1\n", "review_steps: Value error, must be true"),
        ("tool_protocol: json\n", "tool_protocol: Value error, must be auto, native or text"),
        ("format_command: ''\n", "format_command: Value error, must not be empty"),
        ("review_model: ' '\n", "review_model: Value error, must not be empty"),
        ("signoff: maybe\n", "signoff: Value error, must be true or false"),
        ("max_step: 3\n", "max_step: unknown key"),
        ("language: 'C#'\n", "language: Value error, must be a language name such as 'python'"),
        ("strategy: two words\n", "strategy: Value error, must be a strategy name such as 'agent'"),
    ],
)
def test_bad_config_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        repoconfig.parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith(".github/repomind.yml")


def test_max_set_size_defaults_to_the_rankings_head() -> None:
    """A set that needs files below the head (judged by rank alone) asks for a hint by default."""
    from repomind.pipeline.localise.calibrate import HEAD

    assert repoconfig.parse("").max_set_size == HEAD == 10
    assert repoconfig.parse("max_set_size: 8\n").max_set_size == 8
    assert repoconfig.parse("strategy: ' Agent '\nlanguage: Python\n").strategy == "agent"
    assert repoconfig.parse("language: Python\n").language == "python"
