"""Locate a SEARCH block among a file's lines, tier by tier, and build its replacement.

Tiers, loosest last: exact → ignoring trailing whitespace → ignoring a uniform indentation offset (the
replacement is re-indented by the same offset) → the same with blank lines at the block's edges ignored →
fuzz: context lines dropped at the edges, then one or two stale context lines tolerated. Every tier refuses
a match that is not unique. Lines that the edit leaves unchanged keep the file's own text.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_MAX_EDGE_FUZZ = 3
_SIMILAR = 0.5


def _same(line: str) -> str:
    return line


# New lines never keep trailing whitespace (as ``git apply --whitespace=fix``): LLMs add it by accident.


_KEYS: dict[str, Callable[[str], str]] = {"exact": _same, "trailing": str.rstrip, "indent": str.strip}


class Refusal(Exception):
    """The block cannot be placed; ``str(refusal)`` is the reason."""


@dataclass(frozen=True)
class Placement:
    """Replace ``file_lines[start:end]`` by ``lines``; ``note`` names the tolerance that was needed."""

    start: int
    end: int
    lines: list[str]
    note: str | None


@dataclass(frozen=True)
class _Shift:
    add: str = ""
    remove: str = ""

    def describe(self) -> str:
        text = self.add or self.remove
        amount = f"{len(text)} tab(s)" if set(text) == {"\t"} else str(len(text))
        return f"re-indented by {'+' if self.add else '-'}{amount}"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _shift_of(file_part: Sequence[str], search: Sequence[str], skip: frozenset[int]) -> _Shift | None:
    """The uniform indentation offset that turns ``search`` into ``file_part``, or None."""
    pairs = [
        (f, s) for k, (f, s) in enumerate(zip(file_part, search, strict=True)) if s.strip() and k not in skip
    ]
    if not pairs:
        return None
    f0, s0 = _indent(pairs[0][0]), _indent(pairs[0][1])
    if f0.endswith(s0):
        shift = _Shift(add=f0[: len(f0) - len(s0)])
    elif s0.endswith(f0):
        shift = _Shift(remove=s0[: len(s0) - len(f0)])
    else:
        return None
    for f, s in pairs:
        fi, si = _indent(f), _indent(s)
        if shift.remove:
            if not (si.startswith(shift.remove) and fi == si[len(shift.remove) :]):
                return None
        elif fi != shift.add + si:
            return None
    return shift


def _lines_at(positions: Sequence[int]) -> str:
    shown = ", ".join(str(p + 1) for p in positions[:5])
    return shown + (", ..." if len(positions) > 5 else "")


def _ambiguous(positions: Sequence[int], what: str = "") -> Refusal:
    return Refusal(f"ambiguous{what}: {len(positions)} matches at lines {_lines_at(positions)}")


def _build(
    file_lines: Sequence[str],
    start: int,
    search: Sequence[str],
    replace: Sequence[str],
    transform: Callable[[str], str],
) -> list[str]:
    """The new lines: unchanged lines keep the file's text; new lines go through ``transform``."""
    matcher = difflib.SequenceMatcher(
        None, [s.rstrip() for s in search], [r.rstrip() for r in replace], autojunk=False
    )
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(file_lines[start + i1 : start + i2])
        else:
            out.extend(transform(line) for line in replace[j1:j2])
    return out


def _reindent(shift: _Shift) -> Callable[[str], str]:
    def transform(line: str) -> str:
        line = line.rstrip()
        if not line:
            return ""
        if shift.add:
            return shift.add + line
        if not line.startswith(shift.remove):
            raise Refusal(f"cannot re-indent the replacement line {line.strip()!r} by -{len(shift.remove)}")
        return line[len(shift.remove) :]

    return transform


def _tiers(file_lines: Sequence[str], search: Sequence[str], replace: Sequence[str]) -> Placement | None:
    """The first tier with a unique match; raises Refusal when a tier finds several."""
    n = len(search)
    if n > len(file_lines):
        return None
    for tier in ("exact", "trailing", "indent"):
        key = _KEYS[tier]
        skeys = [key(s) for s in search]
        fkeys = [key(f) for f in file_lines]
        first = skeys[0]
        found = [i for i in range(len(fkeys) - n + 1) if fkeys[i] == first and fkeys[i : i + n] == skeys]
        shifts: dict[int, _Shift] = {}
        if tier == "indent":
            for i in found:
                shift = _shift_of(file_lines[i : i + n], search, frozenset())
                if shift is not None:
                    shifts[i] = shift
            found = list(shifts)
        if len(found) > 1:
            raise _ambiguous(found)
        if found:
            start = found[0]
            if tier == "exact":
                lines = _build(file_lines, start, search, replace, str.rstrip)
                return Placement(start, start + n, lines, None)
            if tier == "trailing":
                lines = _build(file_lines, start, search, replace, str.rstrip)
                return Placement(start, start + n, lines, "whitespace-insensitive match")
            shift = shifts[start]
            lines = _build(file_lines, start, search, replace, _reindent(shift))
            return Placement(start, start + n, lines, shift.describe())
    return None


def _with_note(placement: Placement, note: str) -> Placement:
    notes = "; ".join(n for n in (note, placement.note) if n)
    return Placement(placement.start, placement.end, placement.lines, notes)


def _common_edges(search: Sequence[str], replace: Sequence[str]) -> tuple[int, int]:
    limit = min(len(search), len(replace))
    pre = 0
    while pre < limit and search[pre].rstrip() == replace[pre].rstrip():
        pre += 1
    suf = 0
    while suf < limit - pre and search[-1 - suf].rstrip() == replace[-1 - suf].rstrip():
        suf += 1
    return pre, suf


def _trim_blank_edges(search: list[str], replace: list[str]) -> tuple[list[str], list[str]] | None:
    lead = next(k for k, s in enumerate(search) if s.strip())
    trail = next(k for k, s in enumerate(reversed(search)) if s.strip())
    if not lead and not trail:
        return None
    r_lead = min(lead, next((k for k, r in enumerate(replace) if r.strip()), len(replace)))
    r_trail = min(trail, next((k for k, r in enumerate(reversed(replace)) if r.strip()), len(replace)))
    r_trail = min(r_trail, len(replace) - r_lead)
    return search[lead : len(search) - trail], replace[r_lead : len(replace) - r_trail]


def _splice(file_lines: Sequence[str], p: Placement) -> tuple[str, ...]:
    return (*file_lines[: p.start], *p.lines, *file_lines[p.end :])


def _fuzz_edges(file_lines: Sequence[str], search: list[str], replace: list[str]) -> Placement | None:
    """Drop up to three context lines at each edge, fewest first; all ways must agree on the result."""
    pre, suf = _common_edges(search, replace)
    for dropped in range(1, 2 * _MAX_EDGE_FUZZ + 1):
        results: dict[tuple[str, ...], Placement] = {}
        refusals: list[str] = []
        for lead in range(min(dropped, pre, _MAX_EDGE_FUZZ) + 1):
            trail = dropped - lead
            if trail > min(suf, _MAX_EDGE_FUZZ):
                continue
            s, r = search[lead : len(search) - trail], replace[lead : len(replace) - trail]
            if not any(line.strip() for line in s):
                continue
            try:
                placement = _tiers(file_lines, s, r)
            except Refusal as exc:
                refusals.append(str(exc))
                continue
            if placement is not None:
                results.setdefault(_splice(file_lines, placement), placement)
        if refusals or len(results) > 1:
            detail = refusals[0] if refusals else f"{len(results)} different placements"
            raise Refusal(f"ambiguous once {dropped} context line(s) are ignored ({detail})")
        if results:
            return _with_note(next(iter(results.values())), f"fuzz: ignored {dropped} context line(s)")
    return None


def _fuzz_stale(file_lines: Sequence[str], search: list[str], replace: list[str]) -> Placement | None:
    """Tolerate one (two in long blocks) context lines that differ a little from the file's."""
    matcher = difflib.SequenceMatcher(
        None, [s.rstrip() for s in search], [r.rstrip() for r in replace], autojunk=False
    )
    context = {i for op, i1, i2, _, _ in matcher.get_opcodes() if op == "equal" for i in range(i1, i2)}
    context = {i for i in context if search[i].strip()}
    n = len(search)
    budget = min(2 if n >= 8 else 1, len(context) - 1)
    if budget < 1 or n > len(file_lines):
        return None
    for key in (str.rstrip, str.strip):
        skeys = [key(s) for s in search]
        fkeys = [key(f) for f in file_lines]
        found: list[tuple[int, frozenset[int]]] = []
        for i in range(len(fkeys) - n + 1):
            misses: list[int] = []
            for k in range(n):
                if fkeys[i + k] != skeys[k]:
                    misses.append(k)
                    if len(misses) > budget or k not in context:
                        break
            else:
                if misses and all(
                    difflib.SequenceMatcher(None, fkeys[i + k].strip(), skeys[k].strip()).ratio() >= _SIMILAR
                    for k in misses
                ):
                    found.append((i, frozenset(misses)))
        if key is str.strip:
            found = [(i, m) for i, m in found if _shift_of(file_lines[i : i + n], search, m) is not None]
        if len(found) > 1:
            raise _ambiguous([i for i, _ in found], " with a stale context line")
        if found:
            start, missed = found[0]
            shift = _shift_of(file_lines[start : start + n], search, missed) if key is str.strip else None
            transform = _reindent(shift) if shift else str.rstrip
            lines = _build(file_lines, start, search, replace, transform)
            note = f"fuzz: {len(missed)} context line(s) differ from the file"
            if shift:
                note += "; " + shift.describe()
            return Placement(start, start + n, lines, note)
    return None


def _closest(file_lines: Sequence[str], search: Sequence[str]) -> str:
    first = next(s.strip() for s in search if s.strip())
    stripped = [f.strip() for f in file_lines]
    close = difflib.get_close_matches(first, stripped, n=1, cutoff=0.6)
    if not close:
        return ""
    return f" (the first SEARCH line resembles line {stripped.index(close[0]) + 1}: {close[0]!r})"


def locate(
    file_lines: Sequence[str], search: list[str], replace: list[str], *, fuzz: bool = True
) -> Placement:
    """Where ``search`` (lines without endings) is in ``file_lines``, and what replaces it."""
    if not any(line.strip() for line in search):
        raise Refusal("the SEARCH part has only blank lines")
    placement = _tiers(file_lines, search, replace)
    if placement is not None:
        return placement
    trimmed = _trim_blank_edges(search, replace)
    if trimmed is not None:
        placement = _tiers(file_lines, *trimmed)
        if placement is not None:
            return _with_note(placement, "blank lines at the block's edges ignored")
    if fuzz:
        placement = _fuzz_edges(file_lines, search, replace) or _fuzz_stale(file_lines, search, replace)
        if placement is not None:
            return placement
    raise Refusal("not found" + _closest(file_lines, search))
