"""The figures of the metrics page, computed from the review history itself (versions, decisions,
flags), so they cover everything that ever happened without a separate statistics table.

A version waits in the queue from the moment it is saved until its first decision or until a newer
version replaces it, whichever comes first; that is "in the queue" for the queue-size chart and
"age" for the oldest item, the same age the queue page shows.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from statistics import median

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from reviewapp import charts
from reviewapp.models import AuditEvent, Decision, DecisionKind, Flag, FlagStatus, Version

WINDOWS = {1: "last 24 hours", 7: "last 7 days", 30: "last 30 days", 90: "last 90 days"}
DEFAULT_WINDOW = 7
# Per window: the queue chart's sampling step and how many samples apart its labels are; the bucket
# of the time-to-decision chart; the label format.
_GRAIN = {
    1: (timedelta(hours=1), 3, timedelta(hours=1), "%H:%M"),
    7: (timedelta(hours=6), 4, timedelta(days=1), "%d %b"),
    30: (timedelta(days=1), 5, timedelta(days=1), "%d %b"),
    90: (timedelta(days=2), 7, timedelta(days=7), "%d %b"),
}


def _bucket_end(now: datetime, bucket: timedelta) -> datetime:
    """The end of the bucket `now` falls in: the next full hour, or the next local midnight."""
    local = timezone.localtime(now)
    if bucket < timedelta(days=1):
        return local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


_FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime | None  # None: still waiting


def review_intervals() -> list[Interval]:
    """When each version waited for a reviewer."""
    rows = (
        Version.objects.annotate(decided_at=Min("decisions__created_at"))
        .order_by("draft_id", "number")
        .values_list("draft_id", "created_at", "decided_at")
    )
    intervals = []
    for _draft, versions in groupby(rows, key=lambda row: row[0]):
        versions = list(versions)
        for index, (_, created, decided) in enumerate(versions):
            replaced = versions[index + 1][1] if index + 1 < len(versions) else None
            ends = [moment for moment in (decided, replaced) if moment is not None]
            intervals.append(Interval(created, min(ends) if ends else None))
    return intervals


def queue_over_time(intervals: list[Interval], moments: list[datetime]) -> tuple[list[int], list[float]]:
    """Queue size and the age in hours of the oldest waiting version at each moment, in one sweep:
    sizes by counting starts and ends (bisect), the oldest from a heap of started intervals whose
    finished tops are dropped as time moves on (`moments` must be ascending)."""
    starts = sorted(interval.start for interval in intervals)
    ends = sorted(interval.end for interval in intervals if interval.end is not None)
    by_start = sorted(intervals, key=lambda interval: interval.start)
    waiting: list[tuple[datetime, datetime]] = []
    position = 0
    sizes, oldest = [], []
    for moment in moments:
        while position < len(by_start) and by_start[position].start <= moment:
            interval = by_start[position]
            heapq.heappush(waiting, (interval.start, interval.end or _FOREVER))
            position += 1
        while waiting and waiting[0][1] <= moment:
            heapq.heappop(waiting)
        sizes.append(bisect_right(starts, moment) - bisect_right(ends, moment))
        oldest.append(round(_hours(moment - waiting[0][0]), 1) if waiting else 0.0)
    return sizes, oldest


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p90 of ten values is the ninth smallest)."""
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True)
class Report:
    days: int
    window: str
    queue_now: int
    oldest_now_hours: float
    decisions: int
    median_hours: float | None
    p90_hours: float | None
    queue_chart: charts.LineChart
    age_chart: charts.LineChart
    decision_time_chart: charts.LineChart
    reviewer_chart: charts.BarChart
    rule_chart: charts.BarChart
    override_chart: charts.BarChart
    claims_chart: charts.BarChart


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def report(*, days: int = DEFAULT_WINDOW, now: datetime | None = None) -> Report:
    now = now or timezone.now()
    since = now - timedelta(days=days)
    step, label_every, bucket, fmt = _GRAIN[days]

    # Queue size and oldest item over time.
    count = int((now - since) / step)
    moments = [since + step * k for k in range(count + 1)]
    if moments[-1] < now:
        moments.append(now)
    sizes, oldest = queue_over_time(review_intervals(), moments)
    labels = [timezone.localtime(moment).strftime(fmt) for moment in moments]
    queue_chart = charts.line_chart(
        "Queue size",
        f"Drafts waiting for a reviewer, {WINDOWS[days]}.",
        labels,
        [("drafts waiting", "series-a", sizes)],
        format_value=lambda v: f"{v:g}",
        x_label_every=label_every,
        whole=True,
    )
    age_chart = charts.line_chart(
        "Oldest item in the queue",
        f"Hours the longest-waiting draft had waited, {WINDOWS[days]}.",
        labels,
        [("hours waited", "series-b", oldest)],
        format_value=lambda v: f"{v:g} h",
        x_label_every=label_every,
    )

    # Time to decision: from a version's saving to its first decision.
    # Whole hours or days, the last one holding now; as many as fit the window.
    end = _bucket_end(now, bucket)
    buckets = max(round(timedelta(days=days) / bucket), 1)
    first = end - bucket * buckets
    first_decisions = list(
        Version.objects.annotate(decided_at=Min("decisions__created_at"))
        .filter(decided_at__gte=first, decided_at__lte=now)
        .values_list("created_at", "decided_at")
    )
    waits = [(decided, _hours(decided - created)) for created, decided in first_decisions]
    all_hours = [hours for _, hours in waits]
    medians, p90s, bucket_labels = [], [], []
    for k in range(buckets):
        start = end - bucket * (buckets - k)
        inside = [hours for decided, hours in waits if start <= decided < start + bucket]
        medians.append(round(median(inside), 2) if inside else 0)
        p90s.append(round(percentile(inside, 0.9), 2) if inside else 0)
        bucket_labels.append(timezone.localtime(start).strftime(fmt))
    decision_time_chart = charts.line_chart(
        "Time to decision",
        f"Median and 90th percentile hours from a version's saving to its first decision, per "
        f"{'hour' if bucket < timedelta(days=1) else 'day' if bucket == timedelta(days=1) else 'week'} "
        "(0 where nothing was decided).",
        bucket_labels,
        [("median", "series-a", medians), ("p90", "series-b", p90s)],
        format_value=lambda v: f"{v:g} h",
        x_label_every=max(buckets // 8, 1),
    )

    # Decisions per reviewer.
    per_reviewer: dict[str, dict[str, int]] = {}
    rows = (
        Decision.objects.filter(created_at__gte=since, created_at__lte=now)
        .values_list("reviewer__username", "reviewer__name", "kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    for username, name, kind, n in rows:
        per_reviewer.setdefault(name or username, {})[kind] = n
    kinds = [DecisionKind.APPROVE, DecisionKind.REQUEST_CHANGES, DecisionKind.REJECT]
    reviewer_rows = sorted(
        ((who, [counts.get(kind, 0) for kind in kinds]) for who, counts in per_reviewer.items()),
        key=lambda row: (-sum(row[1]), row[0]),
    )
    reviewer_chart = charts.bar_chart(
        "Decisions per reviewer",
        f"Approvals, change requests and rejections by each reviewer, {WINDOWS[days]}.",
        reviewer_rows,
        [
            ("kind-approve", "approved"),
            ("kind-request_changes", "changes requested"),
            ("kind-reject", "rejected"),
        ],
        format_value=lambda v: f"{v:.0f}",
    )

    # Flags and override rate per rule, on versions saved in the window. A flag counts as reviewed
    # once a reviewer decided on its version: only those could have been overridden.
    decided = Decision.objects.filter(version=OuterRef("version"))
    per_rule = list(
        Flag.objects.filter(version__created_at__gte=since, version__created_at__lte=now)
        .values("rule", "category")
        .annotate(
            total=Count("id"),
            reviewed=Count("id", filter=Q(Exists(decided))),
            overridden=Count("id", filter=Q(status=FlagStatus.OVERRIDDEN)),
        )
        .order_by("-total", "rule")
    )
    rule_chart = charts.bar_chart(
        "Flags per rule",
        f"How often each rule fired on versions saved {WINDOWS[days]}.",
        [(row["rule"], [row["total"]]) for row in per_rule[:25]],
        [("series-a", "flags")],
        format_value=lambda v: f"{v:.0f}",
    )
    rated = sorted(
        (row for row in per_rule if row["reviewed"]),
        key=lambda row: (-row["overridden"] / row["reviewed"], -row["reviewed"], row["rule"]),
    )[:25]
    counts = {row["rule"]: f"({row['overridden']} of {row['reviewed']})" for row in rated}
    override_chart = charts.bar_chart(
        "Override rate per rule",
        "Share of reviewed flags that reviewers overrode. Rules near the top are the ones reviewers "
        "keep overruling: candidates for a narrower pattern.",
        [(row["rule"], [round(100 * row["overridden"] / row["reviewed"], 1)]) for row in rated],
        [("series-b", "% overridden")],
        maximum=100,
        format_value=lambda v: f"{v:.0f}%",
        note=lambda label, values: f"{values[0]:.0f}% {counts[label]}",
    )

    return Report(
        days=days,
        window=WINDOWS[days],
        queue_now=sizes[-1],
        oldest_now_hours=oldest[-1],
        decisions=len(all_hours),
        median_hours=round(median(all_hours), 1) if all_hours else None,
        p90_hours=round(percentile(all_hours, 0.9), 1) if all_hours else None,
        queue_chart=queue_chart,
        age_chart=age_chart,
        decision_time_chart=decision_time_chart,
        reviewer_chart=reviewer_chart,
        rule_chart=rule_chart,
        override_chart=override_chart,
        claims_chart=claims_per_week(now),
    )


CLAIM_WEEKS = 8


def claims_per_week(now: datetime, *, weeks: int = CLAIM_WEEKS) -> charts.BarChart:
    """Per week (the last `weeks`, the current one last): findings a claim cleared on versions saved
    that week, and the claims library's audited changes (filed, changed, expired). A jump in either is
    worth a look: a claim clears blockers, so the library is part of the gate."""
    end = _bucket_end(now, timedelta(days=1))
    starts = [end - timedelta(weeks=weeks - k) for k in range(weeks)]
    cleared = Flag.objects.filter(
        claim__isnull=False, version__created_at__gte=starts[0], version__created_at__lte=now
    ).values_list("version__created_at", flat=True)
    changes = AuditEvent.objects.filter(
        action__in=["claim.created", "claim.changed", "claim.expired"],
        created_at__gte=starts[0],
        created_at__lte=now,
    ).values_list("created_at", flat=True)

    def per_week(moments) -> list[int]:
        return [bisect_right(starts, moment) - 1 for moment in moments]

    cleared_weeks, change_weeks = per_week(cleared), per_week(changes)
    rows = [
        (
            f"week from {timezone.localtime(start).strftime('%d %b')}",
            [cleared_weeks.count(k), change_weeks.count(k)],
        )
        for k, start in enumerate(starts)
    ]
    return charts.bar_chart(
        "Claims used per week",
        f"Findings cleared by a claim of the claims library, and changes to the library, in the last "
        f"{weeks} weeks.",
        rows,
        [("series-a", "findings cleared"), ("series-b", "library changes")],
        format_value=lambda v: f"{v:.0f}",
        note=lambda label, values: f"{values[0]:.0f} cleared, {values[1]:.0f} changes",
    )
