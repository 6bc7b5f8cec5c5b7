"""An oracle for the repair agent: a :class:`~repomind.pipeline.llm.LanguageModel` that drives the agent's
tools to reproduce a known patch (SWE-bench's gold patch), at zero cost and deterministically.

For each hunk of the patch it does what a careful agent would: ``search`` for a distinctive line of the
hunk's old side, ``view`` around the line the search reported, ``edit`` with the hunk's old lines as the
search and its new lines as the replacement (an empty search for a new file). When an edit does not apply
it views a window around the hunk and replaces the window (a larger context), then the whole file (or,
for a long file, as much of it around the hunk as a view shows). After the last hunk it runs the tests
(the given ones, or the tests the test stage would choose) and submits. ``bench/agent_oracle.py`` runs
it over SWE-bench instances to prove the tools and measure the loop's own overhead.

The model is stateless: each reply is worked out from the conversation it receives (its previous replies
carry a one-line marker naming the hunk and the phase), so it answers the loop as the loop replays and
condenses. It answers in the native tool-call protocol when tools are offered, in the text protocol
(one fenced ``action`` block) when they are not, and as the reviewer (``{"right_track": true}``) when
asked for a verdict.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any

from repomind.pipeline.edits import parse_edits
from repomind.pipeline.llm import Completion, Message, ToolCall, estimate_tokens

#: Lines of the file on each side of a hunk in the larger-context fallback.
WINDOW = 20
#: Lines on each side of a hunk in the last fallback: the whole file when it is short (a view shows at
#: most a few hundred lines), else as much of it around the hunk as a view shows.
WHOLE_FILE = 150
#: The marker each reply carries: ``oracle: {"hunk": 2, "phase": "edit", "at": 123}``.
_MARKER = re.compile(r"^oracle: (\{.*\})$", re.MULTILINE)
_HUNK_HEADER = re.compile(r"^@@\s*-\d+(?:,\d+)?\s+\+(\d+)(?:,\d+)?\s*@@")
_FAILED = ("not applied", "did not apply", "refused", "cannot apply", "could not apply")
_REGEX_SPECIALS = set("\\.^$|?*+()[]{}")
_GLOB_SPECIALS = set("*?[]:")
#: The phases of one hunk, in order; a failed edit goes on to the next view.
_NEXT = {"search": "view", "view": "edit", "wview": "wedit", "fview": "fedit"}


@dataclass(frozen=True)
class Hunk:
    """One hunk: its file, its old and new lines, and where its old lines start in the file as it is when
    the hunk's turn comes (the new side's start: every hunk above it is applied by then)."""

    path: str
    old: str
    new: str
    start: int
    create: bool = False
    #: The line to search for (its index in ``old``, its text stripped); None when ``old`` has none.
    anchor: tuple[int, str] | None = None


def hunks_of(patch: str) -> list[Hunk]:
    """The patch's hunks, file by file (a new file is one hunk with an empty old side)."""
    starts: dict[str, list[int]] = {}
    path = ""
    for line in patch.splitlines():
        if line.startswith("+++ "):
            path = line[4:].split("\t")[0].strip().removeprefix("b/")
        elif (found := _HUNK_HEADER.match(line)) is not None:
            starts.setdefault(path, []).append(int(found.group(1)))
    out: list[Hunk] = []
    seen: dict[str, int] = {}
    searched: set[str] = set()
    for edit in parse_edits(patch):
        index = seen.get(edit.path, 0)
        seen[edit.path] = index + 1
        start = (starts.get(edit.path) or [1])[min(index, len(starts.get(edit.path) or [1]) - 1)]
        anchor = distinctive(edit.search, avoid=searched)
        if anchor is not None:
            searched.add(anchor[1])
        create = not edit.search and not edit.delete
        out.append(Hunk(edit.path, edit.search, edit.replace, max(start, 1), create=create, anchor=anchor))
    return out


def regex_literal(text: str) -> str:
    """``text`` as a regex matching itself under both PCRE and POSIX ERE (``git grep -P`` / ``-E``)."""
    return "".join("\\" + c if c in _REGEX_SPECIALS else c for c in text)


def distinctive(old: str, avoid: Set[str] = frozenset()) -> tuple[int, str] | None:
    """The old side's line most likely to be unique (the longest, stripped), with its index; one not in
    ``avoid`` (the lines other hunks search for: the same search twice would be a repeated action)
    where the hunk has one."""
    lines = [(i, line.strip()) for i, line in enumerate(old.splitlines()) if len(line.strip()) >= 3]
    fresh = [item for item in lines if item[1] not in avoid] or lines
    if not fresh:
        return None
    return max(fresh, key=lambda item: (len(item[1]), -item[0]))


def reported_lines(observation: str, path: str) -> list[int]:
    """The line numbers a ``search`` observation reports for ``path`` (``path:line: text``)."""
    return [int(n) for n in re.findall(rf"^{re.escape(path)}:(\d+):", observation, re.MULTILINE)]


_NUMBERED = re.compile(r"^\s*(\d+)(?: ?[|│:]|\t)(?: (.*)|)$")
_LINES_HEADER = re.compile(r"^Lines \d+-\d+:$", re.MULTILINE)


def numbered_lines(observation: str) -> dict[int, str]:
    """The file's lines a ``view`` observation shows (``NUMBER: text`` after its ``Lines A-B:`` header,
    past the outline, whose rows look the same), by number: the longest run of consecutive numbers."""
    headers = list(_LINES_HEADER.finditer(observation))
    shown = observation[headers[-1].end() :] if headers else observation
    runs: list[dict[int, str]] = []
    for line in shown.splitlines():
        found = _NUMBERED.match(line)
        if found is None:
            continue
        number, text = int(found.group(1)), found.group(2) or ""
        if runs and number == max(runs[-1]) + 1:
            runs[-1][number] = text
        else:
            runs.append({number: text})
    return max(runs, key=len) if runs else {}


def failed(observation: str) -> bool:
    """Whether an ``edit`` observation says the edit was not applied."""
    low = observation.lower()
    return any(word in low for word in _FAILED)


def positional(window: dict[int, str], hunk: Hunk, at: int) -> tuple[str, str] | None:
    """(search, replace) replacing the viewed ``window`` with the hunk applied: at the place in the window
    where its old lines are (the one nearest ``at``), else at ``at``; None when ``at`` is not in view."""
    if not window:
        return None
    first, last = min(window), max(window)
    lines = [window[n] for n in range(first, last + 1)]
    old = hunk.old.splitlines()
    places = [
        first + i
        for i in range(len(lines) - len(old) + 1)
        if [x.strip() for x in lines[i : i + len(old)]] == [x.strip() for x in old]
    ]
    place = min(places, key=lambda p: abs(p - at)) if places else at
    if not first <= place <= last + 1 or place + len(old) - 1 > last:
        return None
    k = place - first
    patched = lines[:k] + hunk.new.splitlines() + lines[k + len(old) :]
    return "".join(x + "\n" for x in lines), "".join(x + "\n" for x in patched)


@dataclass(frozen=True)
class _Turn:
    """Where the oracle stands: the hunk, the phase just taken, the line it is at, and that action's
    observation."""

    hunk: int
    phase: str
    at: int
    observation: str


class OracleAgentModel:
    """Drives the agent's tools to reproduce ``gold_patch``; ``tests`` are the ``run_tests`` targets
    (None: the tests the test stage would choose)."""

    def __init__(
        self,
        gold_patch: str,
        *,
        tests: list[str] | None = None,
        model: str = "oracle",
        native_tools: bool = True,
    ) -> None:
        self.hunks = hunks_of(gold_patch)
        self.tests = list(tests) if tests else None
        self.model = model
        self.native_tools = native_tools

    @property
    def name(self) -> str:
        return self.model

    def complete(
        self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None
    ) -> Completion:
        if tools is None and any("right_track" in m["content"] for m in messages):
            return self._reply(messages, tools, json.dumps({"right_track": True, "feedback": None}))
        turn = _last_turn(messages)
        hunk, phase, at, tool, args = self._next(turn)
        marker = "oracle: " + json.dumps({"hunk": hunk, "phase": phase, "at": at})
        thought = f"{marker}\n{_explain(phase, self.hunks[hunk] if hunk < len(self.hunks) else None)}"
        if tools is None:
            block = json.dumps({"tool": tool, "args": args}, indent=1)
            return self._reply(messages, tools, f"{thought}\n\n```action\n{block}\n```")
        call = ToolCall(f"oracle-{_calls_in(messages) + 1}", tool, json.dumps(args))
        return self._reply(messages, tools, thought, (call,))

    def _next(self, turn: _Turn | None) -> tuple[int, str, int, str, dict[str, Any]]:
        """The next (hunk, phase, line, tool, arguments) after ``turn``."""
        if turn is None:
            return self._start(0)
        if turn.phase in ("tests", "submit"):
            return self._finish("submit")
        if turn.hunk >= len(self.hunks):
            return self._finish("tests")
        hunk = self.hunks[turn.hunk]
        if turn.phase in ("edit", "wedit", "fedit"):
            if not failed(turn.observation) or turn.phase == "fedit" or hunk.create:
                return self._start(turn.hunk + 1)
            return self._step(turn.hunk, "wview" if turn.phase == "edit" else "fview", turn.at, "")
        at = turn.at
        if turn.phase == "search":
            j, _line = hunk.anchor or (0, "")
            found = reported_lines(turn.observation, hunk.path)
            if found:
                at = min(found, key=lambda n: abs(n - j - hunk.start)) - j
        return self._step(turn.hunk, _NEXT[turn.phase], max(at, 1), turn.observation)

    def _start(self, index: int) -> tuple[int, str, int, str, dict[str, Any]]:
        if index >= len(self.hunks):
            return self._finish("tests")
        hunk = self.hunks[index]
        if hunk.create:
            return self._step(index, "edit", 1, "")
        return self._step(index, "search" if hunk.anchor else "wview", hunk.start, "")

    def _step(self, index: int, phase: str, at: int, seen: str) -> tuple[int, str, int, str, dict[str, Any]]:
        """The action of ``phase`` for hunk ``index``; ``seen`` is the previous action's observation."""
        hunk = self.hunks[index]
        size = len(hunk.old.splitlines())
        if phase == "search":
            _j, line = hunk.anchor or (0, "")
            glob = None if _GLOB_SPECIALS & set(hunk.path) else hunk.path
            return index, phase, at, "search", {"regex": regex_literal(line), "path_glob": glob}
        if phase == "view":
            return index, phase, at, "view", {"path": hunk.path, "line": at, "before": 3, "after": size + 3}
        if phase == "wview":
            args = {"path": hunk.path, "line": max(1, at - WINDOW), "before": 0, "after": size + 2 * WINDOW}
            return index, phase, at, "view", args
        if phase == "fview":
            args = {"path": hunk.path, "line": at, "before": WHOLE_FILE, "after": size + WHOLE_FILE}
            return index, phase, at, "view", args
        if phase in ("wedit", "fedit"):
            pair = positional(numbered_lines(seen), hunk, at)
            if pair is None:  # the place is not in view: the next fallback, or the next hunk
                return self._step(index, "fview", at, "") if phase == "wedit" else self._start(index + 1)
            search, replace = pair
            return index, phase, at, "edit", {"path": hunk.path, "search": search, "replace": replace}
        return index, "edit", at, "edit", {"path": hunk.path, "search": hunk.old, "replace": hunk.new}

    def _finish(self, phase: str) -> tuple[int, str, int, str, dict[str, Any]]:
        end = len(self.hunks)
        if phase == "tests":
            return end, "tests", 0, "run_tests", {"targets": self.tests}
        files = sorted({h.path for h in self.hunks})
        return end, "submit", 0, "submit", {"summary": f"Applied the known fix to {', '.join(files)}."}

    def _reply(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None,
        text: str,
        calls: tuple[ToolCall, ...] = (),
    ) -> Completion:
        prompt = estimate_tokens(messages, tools=tools)
        out = (len(text) + sum(len(c.arguments) for c in calls)) // 4 + 1
        return Completion(text, prompt, out, 0.0, self.model, 0.0, tool_calls=calls)


def _explain(phase: str, hunk: Hunk | None) -> str:
    where = f"{hunk.path} near line {hunk.start}" if hunk else ""
    return {
        "search": f"Looking for the code to change in {where}.",
        "view": f"Reading {where} around the match.",
        "edit": f"Changing {where}.",
        "wview": f"The edit did not apply; reading a wider window of {where}.",
        "wedit": f"Replacing the window of {where}.",
        "fview": f"Reading the whole of {hunk.path if hunk else ''}.",
        "fedit": f"Replacing {where} in the whole file.",
        "tests": "Running the tests.",
        "submit": "Submitting.",
    }[phase]


def _calls_in(messages: Sequence[Message]) -> int:
    """How many actions the oracle took in this conversation (tool calls, or text-protocol actions)."""
    count = 0
    for m in messages:
        if m["role"] == "assistant":
            count += len(m.get("tool_calls") or []) or int(_MARKER.search(m["content"]) is not None)
    return count


def _last_turn(messages: Sequence[Message]) -> _Turn | None:
    """The oracle's last action (from its marker) and the observation that answered it."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        found = _MARKER.search(m["content"]) if m["role"] == "assistant" else None
        if found is None:
            continue
        state = json.loads(found.group(1))
        ids = {c.get("id") for c in m.get("tool_calls") or []}
        after = [
            x
            for x in messages[i + 1 :]
            if (x["role"] == "tool" and x.get("tool_call_id") in ids) or (x["role"] == "user" and not ids)
        ]
        observation = after[0]["content"].removeprefix("Observation:\n") if after else ""
        return _Turn(int(state["hunk"]), str(state["phase"]), int(state["at"]), observation)
    return None
