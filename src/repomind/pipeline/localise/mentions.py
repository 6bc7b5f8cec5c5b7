"""What an issue names (read by :mod:`repomind.pipeline.issue`): file paths, traceback frames, dotted
names and identifiers, matched to the files of the index."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from repomind.pipeline import issue as issue_text

if TYPE_CHECKING:
    from repomind.pipeline.localise.index import RepoIndex


def _looks_like_code(name: str) -> bool:
    return "_" in name.strip("_") or (any(c.isupper() for c in name[1:]) and any(c.islower() for c in name))


def _match_path(suffixes: dict[str, list[int]], raw: str) -> list[int]:
    """The files a path from another machine means: its longest suffix that names at most 3 files."""
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
    for k in range(len(parts)):
        found = suffixes.get("/".join(parts[k:]))
        if found:
            return found if len(found) <= 3 else []
    return []


def mention_scores(index: RepoIndex, issue: str) -> dict[str, dict[int, float]]:
    """Per kind of mention (``path``, ``frame``, ``dotted``, ``identifier``): file index → score."""
    suffixes = index.suffixes
    result: dict[str, dict[int, float]] = {
        k: defaultdict(float) for k in ("path", "frame", "dotted", "identifier")
    }

    frames = issue_text.frames(issue)
    for depth, frame in enumerate(frames):
        weight = 1.0 + depth / max(1, len(frames))  # frames nearer the error weigh more
        for i in _match_path(suffixes, frame.path):
            bonus = 1.5 if any(d.name == frame.function for d in index.summaries[i].definitions) else 1.0
            result["frame"][i] = max(result["frame"][i], weight * bonus)
    for raw in issue_text.source_paths(issue):
        for i in _match_path(suffixes, raw):
            result["path"][i] += 1.0

    definitions = index.definitions
    code_text = issue_text.code_text(issue)
    for dotted in set(issue_text.dotted_names(issue)):
        if re.fullmatch(r"[\w.]+\.(?:py|txt|rst|md|cfg|toml|html|com|org)", dotted):
            continue
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            files = [
                i for i in index.modules.get(".".join(parts[:cut]), []) if index.paths[i].endswith(".py")
            ]
            if files and len(files) <= 3 and (cut > 1 or len(parts) == 1):
                rest = parts[cut:]
                for i in files:
                    named = {d.name for d in index.summaries[i].definitions}
                    result["dotted"][i] += 1.0 + (1.0 if rest and rest[0] in named else 0.0)
                if rest:
                    for i in definitions.get(rest[-1], [])[:3]:
                        result["dotted"][i] += 0.5
                break
        else:
            for i in definitions.get(".".join(parts[-2:]), [])[:3]:
                result["dotted"][i] += 1.0

    counts: dict[str, int] = defaultdict(int)
    for name in issue_text.words(issue):
        counts[name] += 1
    for name, count in counts.items():
        definers = definitions.get(name)
        if not definers or len(definers) > 8:
            continue
        in_code = name in code_text
        if not (in_code or _looks_like_code(name) or name[0].isupper()):
            continue
        weight = (1.0 + 0.5 * in_code) * min(count, 3) ** 0.5 / len(definers)
        for i in definers:
            result["identifier"][i] += weight
    return {k: dict(v) for k, v in result.items()}
