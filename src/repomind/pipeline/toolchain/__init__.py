"""A repository's language tools behind one Protocol (:class:`Toolchain`), chosen per repository.

>>> toolchain = toolchain_for(work_tree, config)   # UnsupportedRepository when no toolchain fits
>>> command = toolchain.test_command(["tests/test_ops.py"])
>>> results = toolchain.read_results(output, collected)

``protocol.py`` is the seam and its small values, ``select.py`` the choice, and each language is a
module or package beside them (``python/``).
"""

from repomind.pipeline.toolchain.protocol import (
    GOOD,
    NOT_RUN,
    LintProblem,
    PromptFacts,
    TestCommand,
    TestResults,
    Toolchain,
)
from repomind.pipeline.toolchain.select import TOOLCHAINS, by_name, toolchain_for

__all__ = [
    "GOOD",
    "NOT_RUN",
    "TOOLCHAINS",
    "LintProblem",
    "PromptFacts",
    "TestCommand",
    "TestResults",
    "Toolchain",
    "by_name",
    "toolchain_for",
]
