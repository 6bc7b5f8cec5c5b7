"""A fixture repository with a history of fixes: plain commits, a pull request's merge, a squash merge, a
revert, a bot's commit, a release, a docs-only change, a mass edit, a new file and a merge without a
description; built with :mod:`repomind.testing.git`."""

from __future__ import annotations

from pathlib import Path

from repomind.testing import git, make_git_repo
from tests.pipeline.test_localise import FILES

BOT = ("-c", "user.name=dependabot[bot]", "-c", "user.email=49699333+dependabot[bot]@users.noreply.github.com")


def _write(repo: Path, changes: dict[str, str]) -> None:
    for path, text in changes.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((target.read_text() if target.exists() else "") + text)
    git(repo, "add", "-A")


def commit(repo: Path, changes: dict[str, str], message: str, *, identity: tuple[str, ...] = ()) -> str:
    _write(repo, changes)
    git(repo, *identity, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def merge(repo: Path, branch: str, changes: dict[str, str], message: str) -> str:
    """A branch with one commit (``wip``), merged into main with ``message``."""
    git(repo, "checkout", "-q", "-b", branch)
    _write(repo, changes)
    git(repo, "commit", "-q", "-m", "wip")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", branch, "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def history_repo(root: Path) -> dict[str, str]:
    """Build the repository at ``root``; the name of each change → its commit."""
    make_git_repo(root, FILES)
    line = "\n# changed\n"
    made = {
        "plain": commit(
            root,
            {"shop/pricing.py": line, "tests/test_pricing.py": line},
            "Fix apply_discount rounding for zero rates\n\nThe discount rate of 0 gave a float.\n\n"
            "Signed-off-by: A Person <a@example.com>",
        ),
        "docs": commit(root, {"README.md": "More.\n", "docs/usage.rst": "Usage.\n"}, "Document the cart"),
        "pull": merge(
            root,
            "cart-total",
            {"shop/cart.py": line},
            "Merge pull request #7 from alice/cart-total\n\nShoppingCart.total_price ignores empty carts",
        ),
        "squash": commit(root, {"shop/shipping.py": line}, "Shipping cost for heavy parcels (#12)"),
        "revert": commit(
            root, {"shop/shipping.py": line}, 'Revert "Shipping cost for heavy parcels"\n\nThis reverts commit abc1234.'
        ),
        "bot": commit(root, {"shop/users.py": line}, "Bump requests from 2.0 to 2.1", identity=BOT),
        "release": commit(root, {"shop/__init__.py": "__version__ = '1.1'\n"}, "Release 1.1"),
        "mass": commit(
            root, {f"shop/gen_{i}.py": "x = 1\n" for i in range(12)} | {"shop/users.py": line}, "Add generated modules"
        ),
        "empty_merge": merge(root, "sync", {"shop/users.py": line}, "Merge branch 'sync'"),
        "new_file": commit(root, {"shop/tax.py": "def vat(x):\n    return x\n"}, "Add value added tax helper"),
        "both": commit(
            root,
            {"shop/users.py": line, "shop/pricing.py": line, "web/app.ts": "// view\n", "CHANGELOG.md": "x\n"},
            "Customer greeting uses the discount name",
        ),
    }
    return made
