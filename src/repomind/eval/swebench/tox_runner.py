"""Running a ``tox --current-env`` test command without tox.

``tox-current-env`` runs the tox environment's commands with the interpreter that runs tox; in a conda
environment (SWE-bench's) that works, but from a venv its symlinked interpreter loses the venv's packages.
So the evaluation runs the ``[testenv]`` commands of the repository's ``tox.ini`` itself, with its
``setenv``, ``{posargs}`` and ``{env:NAME:default}`` substitutions, inside the sandbox (this script is
what runs there; nothing here runs on the host).
"""

from __future__ import annotations

import shlex

TOX_CURRENT_ENV = "tox --current-env"

SCRIPT = r"""
import configparser, os, re, shlex, subprocess, sys
ini = configparser.ConfigParser(interpolation=None)
ini.read("tox.ini")
section = ini["testenv"]
args = " ".join(shlex.quote(a) for a in sys.argv[1:])

def expand(text):
    text = text.replace("{posargs}", args).replace("{toxinidir}", os.getcwd()).replace("{envname}", "py")
    return re.sub(r"\{env:([^:}]+):?([^}]*)\}", lambda m: os.environ.get(m.group(1), m.group(2)), text)

env = dict(os.environ)
for line in section.get("setenv", "").splitlines():
    if "=" in line:
        key, value = line.split("=", 1)
        env[key.strip()] = expand(value.strip())
status = 0
for line in section.get("commands", "").splitlines():
    if line.strip() and not line.strip().startswith("#"):
        command = expand(line.strip())
        print("tox-command>", command, flush=True)
        status = subprocess.call(shlex.split(command), env=env) or status
sys.exit(status)
"""


def replace_tox(test_cmd: str) -> str:
    """``tox --current-env -e X --`` → the same tests through tox.ini's commands, by the venv's python."""
    if not test_cmd.startswith(TOX_CURRENT_ENV):
        return test_cmd
    return f"python -c {shlex.quote(SCRIPT)}"
