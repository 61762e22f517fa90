"""Reviewers' time-limited leases on drafts in review, so two reviewers don't work the same draft.

A lease is two columns on the draft (`claimed_by`, `claimed_until`). It is taken and extended with a
conditional UPDATE — "set me as holder where nobody else holds a live lease" — so of two reviewers
claiming at once exactly one row update succeeds. A lease ends when its holder decides (the decision's
UPDATE in workflow.py clears it), releases it, or lets it run out: an expired lease is ignored, so no
sweeper is needed. While another reviewer's lease is live, workflow.decide and override_flag refuse.

Taking and releasing a lease are audited; renewals are not (a heartbeat renews every minute while a
reviewer works, and would bury the trail in noise without recording any decision).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from reviewapp import audit
from reviewapp.models import Draft, Status, User
from reviewapp.workflow import Conflict, Forbidden, can, wrote_any_version


def lease_length() -> timedelta:
    return timedelta(minutes=settings.LEASE_MINUTES)


@dataclass(frozen=True)
class Lease:
    draft_id: int
    holder: User
    until: datetime
    new: bool  # False when an existing lease of the same holder was extended


def _refusal(draft_id: int, reviewer: User, now: datetime) -> Conflict:
    current = Draft.objects.select_related("claimed_by").filter(pk=draft_id).first()
    if current is None or current.status != Status.IN_REVIEW:
        status = current.get_status_display() if current else "gone"
        return Conflict(
            f"Draft {draft_id} is {status}; only drafts in review can be claimed.", code="not_in_review"
        )
    holder = current.lease_holder(now=now)
    if holder is not None and holder.pk != reviewer.pk:
        return Conflict(
            f"{holder.display_name} is working on this draft until "
            f"{timezone.localtime(current.claimed_until):%H:%M}.",
            code="claimed",
            holder=holder.username,
        )
    return Conflict("The lease changed while claiming; try again.", code="concurrent_change")


def _require_reviewer(user: User) -> None:
    if not can(user, "decide"):
        raise Forbidden("Only a reviewer may claim drafts.", code="role_not_allowed")


def claim(draft: Draft, *, reviewer: User) -> Lease:
    """Take (or extend) the lease on a draft in review for `settings.LEASE_MINUTES`."""
    _require_reviewer(reviewer)
    if wrote_any_version(draft, reviewer):
        raise Forbidden(
            "You wrote a version of this draft, so another reviewer must review it.", code="own_work"
        )
    now = timezone.now()
    until = now + lease_length()
    with transaction.atomic():
        extended = Draft.objects.filter(
            pk=draft.pk, status=Status.IN_REVIEW, claimed_by=reviewer, claimed_until__gt=now
        ).update(claimed_until=until)
        if extended:
            return Lease(draft.pk, reviewer, until, new=False)
        taken = (
            Draft.objects.filter(pk=draft.pk, status=Status.IN_REVIEW)
            .filter(Q(claimed_by__isnull=True) | Q(claimed_until__lte=now) | Q(claimed_by=reviewer))
            .update(claimed_by=reviewer, claimed_until=until)
        )
        if not taken:
            raise _refusal(draft.pk, reviewer, now)
        audit.record(
            "draft.claimed",
            actor=reviewer,
            obj=draft,
            draft=draft,
            data={"lease_seconds": int(lease_length().total_seconds())},
        )
    return Lease(draft.pk, reviewer, until, new=True)


def renew(draft: Draft, *, reviewer: User) -> Lease:
    """Extend the reviewer's lease while they work (heartbeat, page actions). A lease that ran out is
    taken again if nobody else took it meanwhile; otherwise this refuses like `claim`."""
    return claim(draft, reviewer=reviewer)


def release(draft: Draft, *, reviewer: User) -> bool:
    """Give the lease back. Returns False when the reviewer held no live lease (nothing to do)."""
    now = timezone.now()
    with transaction.atomic():
        released = Draft.objects.filter(pk=draft.pk, claimed_by=reviewer, claimed_until__gt=now).update(
            claimed_by=None, claimed_until=None
        )
        if released:
            audit.record("draft.released", actor=reviewer, obj=draft, draft=draft, data={})
    return bool(released)


def claim_next(
    reviewer: User, *, skip: Draft | None = None, exclude: Iterable[int] = (), order: str = "risk"
) -> Lease | None:
    """Claim the next draft in the queue that this reviewer may review and nobody else holds.

    `skip` is the draft the reviewer is moving away from: their lease on it is released and it is not
    offered; nor are the drafts in `exclude`. Returns None when the queue has nothing left for them."""
    _require_reviewer(reviewer)
    excluded = set(exclude)
    if skip is not None:
        release(skip, reviewer=reviewer)
        excluded.add(skip.pk)
    candidates = Draft.objects.reviewable_by(reviewer).lease_free_for(reviewer)
    if excluded:
        candidates = candidates.exclude(pk__in=excluded)
    candidates = candidates.by_age() if order == "age" else candidates.by_risk()
    # Another reviewer may take a candidate between this read and the conditional UPDATE; then the
    # next one is tried. A handful per round keeps the read small.
    for _round in range(5):
        batch = list(candidates.values_list("pk", flat=True)[:10])
        if not batch:
            return None
        for pk in batch:
            try:
                return claim(Draft(pk=pk, author_id=None), reviewer=reviewer)
            except (Conflict, Forbidden):
                continue
    return None
