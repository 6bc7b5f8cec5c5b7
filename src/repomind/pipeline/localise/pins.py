"""People's pins on a localisation: ``include PATH`` puts files first (and in the set), ``exclude PATH``
removes them. A pin that names a directory covers the files under it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath

from repomind.pipeline.localise.result import Localisation, RankedFile

#: At most this many files are pinned by one ``include`` of a directory.
MAX_PINNED = 20


def _covers(pin: str, path: str) -> bool:
    pin = pin.strip("/")
    return path == pin or path.startswith(pin + "/")


def _clean(pins: Sequence[str]) -> list[str]:
    out = []
    for pin in pins:
        norm = str(PurePosixPath(pin.strip().removeprefix("./"))).strip("/")
        if norm and norm != "." and ".." not in PurePosixPath(norm).parts:
            out.append(norm)
    return list(dict.fromkeys(out))


def apply_pins(
    loc: Localisation, files: Sequence[str], *, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Localisation:
    """``loc`` with the pins applied; ``files`` are the repository's files (to check and expand pins).

    Included files come first in the ranking and in the set (with the top score); excluded ones leave
    both, and an exclude wins over an include. Pins that match no file are named in the note.
    """
    include, exclude = _clean(include), _clean(exclude)
    if not include and not exclude:
        return loc
    known = list(files)
    pinned: list[str] = []
    missing: list[str] = []
    for pin in include:
        matched = [f for f in known if _covers(pin, f)][:MAX_PINNED]
        if not matched:
            missing.append(pin)
        pinned.extend(m for m in matched if m not in pinned)
    pinned = [p for p in pinned if not any(_covers(x, p) for x in exclude)]

    def kept(path: str) -> bool:
        return path not in pinned and not any(_covers(x, path) for x in exclude)

    top = max((f.score for f in loc.files), default=1.0) or 1.0
    ranked = [RankedFile(p, top) for p in pinned] + [f for f in loc.files if kept(f.path)]
    chosen = None if loc.set is None else pinned + [p for p in loc.set if kept(p)]
    notes = [loc.note] if loc.note else []
    if pinned:
        notes.append(f"pinned by `include`: {', '.join(pinned)}.")
    if exclude:
        notes.append(f"left out by `exclude`: {', '.join(exclude)}.")
    if missing:
        notes.append(f"`include` matched no file: {', '.join(missing)}.")
    signals = [*loc.signals, "pins"] if "pins" not in loc.signals else list(loc.signals)
    return replace(loc, files=ranked, set=chosen, signals=signals, note=" ".join(notes))
