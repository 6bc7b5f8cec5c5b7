"""tests/requirements.py: the one parser of REPOMIND_REQUIRE_*; a required dependency fails, never skips."""

from __future__ import annotations

import pytest

from tests.requirements import missing, require, required


def test_flags_are_parsed_in_one_place() -> None:
    assert required("docker", env={"REPOMIND_REQUIRE_DOCKER": "1"})
    assert required("services", env={"REPOMIND_REQUIRE_SERVICES": "True"})
    assert not required("docker", env={"REPOMIND_REQUIRE_DOCKER": "0"})
    assert not required("docker", env={})
    assert required("browser", env={"REPOMIND_REQUIRE_BROWSER": "yes"})
    assert not required("browser", env={"REPOMIND_REQUIRE_DOCKER": "1"})
    extras = {"REPOMIND_REQUIRE_EXTRAS": "torch, swebench"}
    assert required("extras", "torch", env=extras) and required("extras", "swebench.harness", env=extras)
    assert not required("extras", "peft", env=extras)
    assert required("extras", "peft", env={"REPOMIND_REQUIRE_EXTRAS": "yes"})


def test_missing_skips_or_fails_by_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPOMIND_REQUIRE_EXTRAS", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require("repomind_no_such_package")
    monkeypatch.setenv("REPOMIND_REQUIRE_EXTRAS", "1")
    with pytest.raises(pytest.fail.Exception, match="REPOMIND_REQUIRE_EXTRAS is set"):
        require("repomind_no_such_package")
    monkeypatch.setenv("REPOMIND_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="no redis"):
        missing("services", "no redis")
    assert require("json").dumps([]) == "[]"
