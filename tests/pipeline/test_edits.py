"""Edits: parsing replies, applying them robustly (or refusing with a reason), and linting the result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repomind.pipeline.edits import (
    ApplyResult,
    Edit,
    EditApplyError,
    NoEditsError,
    apply_edits,
    parse_edits,
)
from repomind.pipeline.toolchain.python.lint import lint_changed
from repomind.testing import git, make_git_repo

CALC = (
    "import math\n"
    "\n"
    "\n"
    "class Calc:\n"
    "    def add(self, a, b):\n"
    "        return a + b\n"
    "\n"
    "    def root(self, x):\n"
    "        return math.sqrt(x)\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "repo", {"calc.py": CALC, "README.md": "# calc\n"})


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


def apply_reply(repo: Path, reply: str) -> ApplyResult:
    return apply_edits(repo, parse_edits(reply))


# Parsing ------------------------------------------------------------------------------------------------


def test_parse_several_blocks_with_fences_prose_and_path_styles() -> None:
    reply = (
        "The bug is in `calc.py`. Here is the fix:\n\n"
        "calc.py\n```python\n<<<<<<< SEARCH\n        return a + b\n=======\n        return a + b + 0\n"
        ">>>>>>> REPLACE\n```\n\nAnd a second change in the same file, without repeating its path:\n"
        "```python\n<<<<<<< SEARCH\n        return math.sqrt(x)\n=======\n        return x**0.5\n"
        ">>>>>>> REPLACE\n```\n\n"
        "```python\n### pkg/util.py\n<<<<<<< SEARCH\n=======\ndef helper():\n    return 1\n"
        ">>>>>>> REPLACE\n```\n"
        "```python src/other.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n"
        "That is all.\n"
    )
    assert parse_edits(reply) == [
        Edit("calc.py", "        return a + b\n", "        return a + b + 0\n"),
        Edit("calc.py", "        return math.sqrt(x)\n", "        return x**0.5\n"),
        Edit("pkg/util.py", "", "def helper():\n    return 1\n"),
        Edit("src/other.py", "x = 1\n", "x = 2\n"),
    ]


def test_parse_unified_diff_with_new_deleted_and_no_newline_files() -> None:
    reply = (
        "```diff\n"
        "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n"
        "@@ -4,3 +4,3 @@ class Calc:\n class Calc:\n     def add(self, a, b):\n-        return a + b\n"
        "+        return b + a\n"
        "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+A = 1\n+B = 2\n\\ No newline at end of file\n"
        "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone = True\n"
        "```\n"
    )
    assert parse_edits(reply) == [
        Edit(
            "calc.py",
            "class Calc:\n    def add(self, a, b):\n        return a + b\n",
            "class Calc:\n    def add(self, a, b):\n        return b + a\n",
            source="diff",
        ),
        Edit("new.py", "", "A = 1\nB = 2", source="diff"),
        Edit("old.py", "gone = True\n", "", delete=True, source="diff"),
    ]


def test_parse_diff_with_wrong_counts_and_stripped_blank_context() -> None:
    # LLMs miscount hunks and drop the space of blank context lines; the hunk is read to its real end.
    reply = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n import math\n\n-\n+# comment\n class Calc:\n"
    (edit,) = parse_edits(reply)
    assert edit.search == "import math\n\n\nclass Calc:\n"
    assert edit.replace == "import math\n\n# comment\nclass Calc:\n"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("I could not find the bug, sorry. The code looks fine to me.", "no search/replace block"),
        ("calc.py\n<<<<<<< SEARCH\nx\n=======\ny\n", "REPLACE is missing"),
        ("calc.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n", "expected ======="),
        ("Change it:\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "names no file"),
    ],
)
def test_parse_refuses_replies_without_valid_edits(reply: str, reason: str) -> None:
    with pytest.raises(NoEditsError, match=reason):
        parse_edits(reply)


# Tolerance tiers ----------------------------------------------------------------------------------------


def test_exact_match_applies_and_git_sees_only_that_change(repo: Path) -> None:
    result = apply_reply(repo, block("calc.py", "        return a + b\n", "        return a + b + 1\n"))
    assert result == ApplyResult(changed=["calc.py"], created=[], notes=[], deleted=[])
    assert git(repo, "diff", "--numstat") == "1\t1\tcalc.py\n"
    assert "return a + b + 1\n" in (repo / "calc.py").read_text()


def test_trailing_whitespace_differences_are_tolerated_and_new_lines_are_clean(repo: Path) -> None:
    (repo / "calc.py").write_text(CALC.replace("def add(self, a, b):\n", "def add(self, a, b):   \n"))
    result = apply_reply(
        repo,
        block(
            "calc.py",
            "    def add(self, a, b):\n        return a + b \n",
            "    def add(self, a, b):\n        return a - b\t\n",
        ),
    )
    assert result.notes == ["edit 1 (calc.py): whitespace-insensitive match"]
    text = (repo / "calc.py").read_text()
    # the unchanged line keeps the file's own trailing spaces; the new line has none
    assert "    def add(self, a, b):   \n        return a - b\n" in text


def test_uniform_indentation_offset_reindents_the_replacement(repo: Path) -> None:
    search = "def root(self, x):\n    return math.sqrt(x)\n"
    replace = "def root(self, x):\n    if x < 0:\n        raise ValueError(x)\n    return math.sqrt(x)\n"
    result = apply_reply(repo, block("calc.py", search, replace))
    assert result.notes == ["edit 1 (calc.py): re-indented by +4"]
    expected = "    def root(self, x):\n        if x < 0:\n            raise ValueError(x)\n"
    assert (repo / "calc.py").read_text().endswith(expected + "        return math.sqrt(x)\n")


def test_over_indented_block_is_dedented(repo: Path) -> None:
    search = "            return a + b\n"
    result = apply_reply(repo, block("calc.py", search, "            return a + b  # sum\n"))
    assert result.notes == ["edit 1 (calc.py): re-indented by -4"]
    assert "\n        return a + b  # sum\n" in (repo / "calc.py").read_text()


def test_blank_lines_at_block_edges_are_ignored(repo: Path) -> None:
    reply = block("calc.py", "\n    def root(self, x):\n\n\n", "\n    def root(self, y):\n\n\n")
    result = apply_reply(repo, reply)
    assert result.notes == ["edit 1 (calc.py): blank lines at the block's edges ignored"]
    assert "    def root(self, y):\n        return math.sqrt(x)\n" in (repo / "calc.py").read_text()


def test_diff_with_drifted_line_numbers_and_a_stale_edge_context_line_applies_by_context(repo: Path) -> None:
    # numbers are 40 lines off, and the first context line is from another version of the file
    reply = (
        "--- a/calc.py\n+++ b/calc.py\n@@ -45,4 +45,4 @@\n class Calculator:\n     def add(self, a, b):\n"
        "-        return a + b\n+        return float(a + b)\n \n"
    )
    result = apply_reply(repo, reply)
    assert result.notes == ["edit 1 (calc.py): fuzz: ignored 1 context line(s)"]
    assert (repo / "calc.py").read_text() == CALC.replace("return a + b", "return float(a + b)")


def test_stale_interior_context_line_keeps_the_file_version(repo: Path) -> None:
    reply = (
        "--- a/calc.py\n+++ b/calc.py\n@@ -5,5 +5,5 @@\n     def add(self, a, b):\n"
        "-        return a + b\n+        return a + b + 0\n \n     def root(self, value):\n"
        "-        return math.sqrt(x)\n+        return math.sqrt(abs(x))\n"
    )
    result = apply_reply(repo, reply)
    assert result.notes == ["edit 1 (calc.py): fuzz: 1 context line(s) differ from the file"]
    text = (repo / "calc.py").read_text()
    assert "    def root(self, x):\n        return math.sqrt(abs(x))\n" in text
    assert "return a + b + 0\n" in text


# Refusals -----------------------------------------------------------------------------------------------


def test_ambiguous_match_is_refused_with_the_candidate_lines(repo: Path) -> None:
    (repo / "dup.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 1\n")
    with pytest.raises(EditApplyError, match=r"ambiguous: 2 matches at lines 2, 6") as info:
        apply_reply(repo, block("dup.py", "    return 1\n", "    return 2\n"))
    assert info.value.edit.path == "dup.py"
    assert (repo / "dup.py").read_text().count("return 1") == 2


def test_ambiguity_in_a_looser_tier_is_refused(repo: Path) -> None:
    # no exact match; ignoring indentation finds two places with different offsets: refuse, do not guess
    (repo / "dup.py").write_text("if a:\n    x = 1\nif b:\n        x = 1\n")
    with pytest.raises(EditApplyError, match="ambiguous"):
        apply_reply(repo, block("dup.py", "  x = 1\n", "  x = 2\n"))


def test_not_found_is_refused_with_a_hint(repo: Path) -> None:
    with pytest.raises(EditApplyError, match=r"not found \(the first SEARCH line resembles line 6") as info:
        apply_reply(repo, block("calc.py", "        return a * b\n        # product\n", "        return 0\n"))
    assert info.value.reason.startswith("not found")


def test_all_or_nothing_when_a_later_edit_fails(repo: Path) -> None:
    reply = (
        block("calc.py", "        return a + b\n", "        return a + b + 1\n")
        + block("README.md", "# calc\n", "# Calc\n")
        + block("calc.py", "        return missing\n", "        return 0\n")
    )
    with pytest.raises(EditApplyError, match=r"edit 3 to calc.py: not found"):
        apply_reply(repo, reply)
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "sub/../../outside.py", ".git/config"])
def test_paths_outside_the_repository_are_refused(repo: Path, path: str) -> None:
    with pytest.raises(EditApplyError, match=r"outside repository|not a file of the repository"):
        apply_edits(repo, [Edit(path, "", "x = 1\n")])
    assert not (repo.parent / "outside.py").exists()


def test_symlink_leading_outside_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    os.symlink(outside, repo / "link")
    with pytest.raises(EditApplyError, match="symbolic link"):
        apply_edits(repo, [Edit("link/x.py", "", "x = 1\n")])
    assert list(outside.iterdir()) == []


def test_binary_and_undecodable_files_are_refused(repo: Path) -> None:
    (repo / "blob.bin").write_bytes(b"abc\0def\n")
    (repo / "latin.py").write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(EditApplyError, match="binary file"):
        apply_edits(repo, [Edit("blob.bin", "abc\n", "x\n")])
    with pytest.raises(EditApplyError, match="not UTF-8 text"):
        apply_edits(repo, [Edit("latin.py", "x = 1\n", "x = 2\n")])


def test_empty_search_on_an_existing_file_is_refused(repo: Path) -> None:
    with pytest.raises(EditApplyError, match="SEARCH part is empty but the file exists"):
        apply_edits(repo, [Edit("calc.py", "", "x = 1\n")])


# Line endings, new and deleted files ---------------------------------------------------------------------


def test_crlf_file_keeps_crlf_endings(repo: Path) -> None:
    (repo / "win.py").write_bytes(b"a = 1\r\nb = 2\r\nc = 3\r\n")
    apply_reply(repo, block("win.py", "b = 2\n", "b = 20\nb2 = 21\n"))
    assert (repo / "win.py").read_bytes() == b"a = 1\r\nb = 20\r\nb2 = 21\r\nc = 3\r\n"


def test_crlf_reply_on_an_lf_file_keeps_lf(repo: Path) -> None:
    reply = block("calc.py", "        return a + b\n", "        return a + b + 1\n").replace("\n", "\r\n")
    apply_reply(repo, reply)
    assert b"\r" not in (repo / "calc.py").read_bytes()


def test_missing_final_newline_is_kept(repo: Path) -> None:
    (repo / "tail.py").write_text("a = 1\nb = 2")
    apply_reply(repo, block("tail.py", "b = 2\n", "b = 3\n"))
    assert (repo / "tail.py").read_text() == "a = 1\nb = 3"


def test_new_file_from_a_block_and_from_a_diff(repo: Path) -> None:
    reply = block("pkg/new.py", "", "def f():\n    return 1\n") + (
        "--- /dev/null\n+++ b/pkg/other.py\n@@ -0,0 +1,1 @@\n+VALUE = 2\n"
    )
    result = apply_reply(repo, reply)
    assert result.created == ["pkg/new.py", "pkg/other.py"]
    assert (repo / "pkg/new.py").read_text() == "def f():\n    return 1\n"
    assert (repo / "pkg/other.py").read_text() == "VALUE = 2\n"


def test_delete_via_diff_and_refusal_when_content_differs(repo: Path) -> None:
    with pytest.raises(EditApplyError, match="content differs"):
        apply_reply(repo, "--- a/README.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-# other\n")
    assert (repo / "README.md").exists()
    result = apply_reply(repo, "--- a/README.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-# calc\n")
    assert result.deleted == ["README.md"]
    assert git(repo, "status", "--porcelain") == " D README.md\n"


# Lint ---------------------------------------------------------------------------------------------------


def test_lint_reports_new_syntax_errors_and_undefined_names_only(repo: Path) -> None:
    (repo / "old.py").write_text("def f():\n    return undefined_before\n")
    before = {"calc.py": CALC, "old.py": (repo / "old.py").read_text()}
    apply_reply(
        repo,
        block("calc.py", "        return a + b\n", "        return a + b + offset\n")
        + block("old.py", "    return undefined_before\n", "    x = 1\n    return undefined_before + x\n")
        + block("broken.py", "", "def g(:\n    pass\n"),
    )
    problems = lint_changed(repo, ["calc.py", "old.py", "broken.py", "README.md"], before=before)
    assert [(p.path, p.line, p.kind) for p in problems] == [
        ("calc.py", 6, "undefined-name"),
        ("broken.py", 1, "syntax"),
    ]
    assert "offset" in problems[0].message
    # without `before`, the old undefined name is reported too
    everything = lint_changed(repo, ["old.py"])
    assert [(p.line, p.kind) for p in everything] == [(3, "undefined-name")]


def test_lint_ignores_a_syntax_error_that_was_already_there(repo: Path) -> None:
    broken = "def f(:\n    pass\n"
    (repo / "bad.py").write_text(broken + "x = 1\n")
    assert lint_changed(repo, ["bad.py"], before={"bad.py": broken}) == []
    assert lint_changed(repo, ["calc.py"], before={"calc.py": CALC}) == []


def test_no_edit_reads_or_writes_through_any_symlink(repo: Path, tmp_path: Path) -> None:
    """Inside the tree or out, a symlink is never followed: not for a file, not for a directory."""
    secret = tmp_path / "credentials"
    secret.write_text("TOKEN=canary\n")
    os.symlink(secret, repo / "creds.py")
    (repo / "pkg").mkdir()
    os.symlink(repo / "pkg", repo / "alias")  # a directory symlink that stays inside the tree
    for path, search in [("creds.py", "TOKEN=canary\n"), ("alias/new.py", ""), ("creds.py", "")]:
        with pytest.raises(EditApplyError, match="symbolic link"):
            apply_edits(repo, [Edit(path, search, "x = 1\n")])
    assert secret.read_text() == "TOKEN=canary\n" and list((repo / "pkg").iterdir()) == []
