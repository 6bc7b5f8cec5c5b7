"""Feedback over time, per repository: merged and closed bot PRs and revisions asked for, counted by
week, drawn as an inline SVG bar chart (geometry here, the markup in ``templates/_plot.html.j2``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from repomind.store import Feedback, Job, Ledger

#: The series, in the order they are drawn, with the class that colours them.
SERIES = ("merged", "closed", "revised")
#: Weeks shown at most (the latest ones).
MAX_WEEKS = 26
WIDTH, HEIGHT = 640, 200
LEFT, BOTTOM, TOP = 32, 28, 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass
class Plot:
    """One repository's chart."""

    repo: str
    weeks: list[date]
    counts: dict[str, list[int]]
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    #: (x, text) of the week labels drawn under the axis.
    labels: list[tuple[float, str]] = field(default_factory=list)
    top: int = 0

    def totals(self) -> dict[str, int]:
        return {name: sum(values) for name, values in self.counts.items()}


def _week(moment: datetime) -> date:
    day = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def events(ledger: Ledger, repos: Iterable[str] | None = None) -> dict[str, list[tuple[str, datetime]]]:
    """(series, when) of every feedback event, by repository (only ``repos`` when given)."""
    wanted = None if repos is None else set(repos)
    found: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    with ledger.reading() as s:
        for repo, merged, at in s.execute(select(Feedback.repo, Feedback.merged, Feedback.recorded_at)):
            if wanted is None or repo in wanted:
                found[repo].append(("merged" if merged else "closed", at))
        revisions = select(Job.repo, Job.created_at).where(Job.command == "revise")
        for repo, at in s.execute(revisions):
            if wanted is None or repo in wanted:
                found[repo].append(("revised", at))
    return dict(found)


def plot(repo: str, happened: list[tuple[str, datetime]], today: date | None = None) -> Plot:
    """The chart of one repository's events: one group of bars a week, from its first event's week to
    this week (the last :data:`MAX_WEEKS`)."""
    last = _week(datetime.combine(today or datetime.now(UTC).date(), datetime.min.time()))
    first = max(min((_week(at) for _, at in happened), default=last), last - timedelta(weeks=MAX_WEEKS - 1))
    weeks = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    index = {week: i for i, week in enumerate(weeks)}
    counts = {name: [0] * len(weeks) for name in SERIES}
    for name, at in happened:
        i = index.get(_week(at))
        if i is not None:
            counts[name][i] += 1
    chart = Plot(repo, weeks, counts)
    top = max((max(values) for values in counts.values()), default=0) or 1
    chart.top = top
    inner_w, inner_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = inner_w / len(weeks)
    bar_w = max(1.0, slot * 0.8 / len(SERIES))
    every = max(1, len(weeks) // 6)
    for i, week in enumerate(weeks):
        x0 = LEFT + i * slot + slot * 0.1
        for j, name in enumerate(SERIES):
            value = counts[name][i]
            if value:
                h = inner_h * value / top
                title = f"{value} {name}, week of {week:%Y-%m-%d}"
                chart.bars.append(Bar(x0 + j * bar_w, TOP + inner_h - h, bar_w, h, name, title))
        if i % every == 0:
            chart.labels.append((LEFT + i * slot + slot / 2, f"{week:%d %b}"))
    return chart
