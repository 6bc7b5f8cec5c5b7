"""The project's own metadata, built by its build backend inside a network-less sandbox container.

A ``setup.py`` may compute its requirements (``'mpmath>=%s' % min_mpmath_version``), which no static
reading finds. So the project's build backend runs where running code is contained: pip's
``install --dry-run --report`` prepares the metadata (PEP 517 ``prepare_metadata_for_build_wheel``, or
``setup.py egg_info`` for a legacy project) with the build requirements installed from the wheelhouse, and
the container prints only the name, the ``Requires-Dist`` lines and the extras. The host treats that as
untrusted text: it is size-capped, parsed as JSON of the expected shape, and every line is later checked
as PEP 508 (:mod:`repomind.sandbox.requirements`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.setup_plan import ProjectMetadata

MARKER = "===repomind-metadata==="
#: The most of a metadata report the host reads (requirement lists are short).
MAX_REPORT_CHARS = 256 * 1024
_EXTRACT = (
    "import json\n"
    "report = json.load(open('/tmp/repomind-report.json'))\n"
    "meta = report['install'][0]['metadata']\n"
    "keep = ('name', 'requires_dist', 'provides_extra')\n"
    f"print({MARKER!r})\n"
    "print(json.dumps({k: meta.get(k) for k in keep}))\n"
)


def script(prelude: str) -> str:
    """The container's script: ``prelude`` (the venv with the build requirements) then the report."""
    report = (
        "python -m pip install --quiet --dry-run --no-deps --ignore-installed --no-build-isolation "
        "--report /tmp/repomind-report.json ."
    )
    return "\n".join([prelude, "cd /work", report, f"python -c {shlex.quote(_EXTRACT)}"])


def parse(output: str) -> ProjectMetadata:
    """The metadata the container printed after :data:`MARKER`; a clear error for anything else."""
    _, found, rest = output.rpartition(MARKER)
    if not found:
        raise EnvironmentSetupError("the project's metadata could not be built", output=output)
    text = rest.strip()[:MAX_REPORT_CHARS]
    try:
        data = json.loads(text)
    except ValueError:
        raise EnvironmentSetupError("the project's metadata report is not readable", output=output) from None
    if not isinstance(data, dict):
        raise EnvironmentSetupError("the project's metadata report is not readable", output=output)
    name = data.get("name")
    return ProjectMetadata(
        name=name if isinstance(name, str) else "",
        requires_dist=_strings(data.get("requires_dist")),
        provides_extra=_strings(data.get("provides_extra")),
    )


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    return tuple(v for v in value if isinstance(v, str))
