"""Project hygiene: the manifest, the extras, and imports without side effects."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"torch", "transformers", "peft", "bitsandbytes", "sentence-transformers"}


def test_app_manifest() -> None:
    manifest = yaml.safe_load((ROOT / "src" / "repomind" / "server" / "app.yml").read_text())
    assert manifest["public"] is False
    assert manifest["url"] and manifest["hook_attributes"]["url"].endswith("/webhooks/github")
    assert set(manifest["default_events"]) == {
        "issues",
        "issue_comment",
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "check_run",
        "check_suite",
    }
    assert manifest["default_permissions"] == {
        "contents": "write",
        "issues": "write",
        "pull_requests": "write",
        "checks": "write",
        "metadata": "read",
    }


def test_base_install_does_not_pull_torch() -> None:
    requires = importlib.metadata.requires("repomind") or []
    base = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requires if "extra ==" not in r}
    assert base and not (base & HEAVY)
    train = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requires if 'extra == "train"' in r}
    assert {"torch", "transformers", "peft", "bitsandbytes"} <= train
    assert any(r.startswith("torch==2.13.0") for r in requires)


def test_importing_every_module_has_no_side_effects(tmp_path: Path) -> None:
    code = (
        "import importlib, pkgutil, sys, logging, repomind\n"
        "for m in pkgutil.walk_packages(repomind.__path__, 'repomind.'):\n"
        "    if m.name != 'repomind.__main__':\n"
        "        importlib.import_module(m.name)\n"
        "names = ('torch', 'transformers', 'litellm', 'docker', 'uvicorn')\n"
        "heavy = sorted(n for n in names if n in sys.modules)\n"
        "print(heavy, logging.getLogger().handlers)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert res.stdout.strip() == "[] []"
    assert res.stderr == ""
    assert list(tmp_path.iterdir()) == []
