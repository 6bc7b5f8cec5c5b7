"""Why an instance is unavailable here, in a few kinds, for the report's ``unavailable_by_cause``.

The harness records the kind where it knows it (a specification's Python, a partial mirror, tests that
need the network); an environment that does not build is classed from the resolver's or pip's own output,
and a verdict written before causes were recorded from its reason.
"""

from __future__ import annotations

import re

PYTHON = "python_version"  # no sandbox image provides the specification's Python
MIRROR = "mirror_lacks_files"  # the given repository lacks file contents at base_commit
NETWORK = "network"  # the tests, the setup or the wheelhouse need a network that is not there
RESOLUTION = "resolution"  # the requirements do not resolve, or a pinned release is not to be had
OTHER = "other"
CAUSES = (PYTHON, MIRROR, NETWORK, RESOLUTION, OTHER)

_PATTERNS = (
    (PYTHON, re.compile(r"^needs Python \d")),
    (MIRROR, re.compile(r"\(a partial mirror\)|unable to read sha1 file|lacks the contents of")),
    (
        NETWORK,
        re.compile(
            r"has no network|the package index did not list|downloading \S+ failed|"
            r"Temporary failure in name resolution|Network is unreachable|"
            r"Failed to establish a new connection"
        ),
    ),
    (
        RESOLUTION,
        re.compile(
            r"ResolutionImpossible|conflicting dependencies|No solution found|resolving for Python|"
            r"No matching distribution found|still missing requirements|has no file of \S+ for this Python"
        ),
    ),
)


def classify(text: str) -> str:
    """The kind of cause that an unavailable verdict's reason (or a failed setup's output) names."""
    for cause, pattern in _PATTERNS:
        if pattern.search(text):
            return cause
    return OTHER
