"""The claims library's changes, each one audited in the transaction that makes it.

A claim downgrades blockers, so who filed it, what changed and when it was retired belong in the audit
trail. Events carry ids, dates and the names of changed fields, never the claim's wording or evidence.
Claims are never deleted (flags name the claim that cleared them); `expire` is how one is retired.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from reviewapp import audit
from reviewapp.models import Claim, User

EDITABLE = ("text", "evidence_source", "evidence_url", "document", "owner", "expires_on")


def file(claim: Claim, *, actor: User | None) -> Claim:
    """Store a new claim (already validated by its form) and audit `claim.created`."""
    with transaction.atomic():
        claim.save()
        audit.record("claim.created", actor=actor, obj=claim, data=_facts(claim))
    return claim


def change(claim: Claim, *, actor: User | None) -> list[str]:
    """Save an edited claim and audit `claim.changed` with the names of the fields that changed."""
    with transaction.atomic():
        stored = Claim.objects.select_for_update().get(pk=claim.pk)
        changed = [name for name in EDITABLE if _value(stored, name) != _value(claim, name)]
        if not changed:
            return []
        claim.save(update_fields=changed)
        audit.record("claim.changed", actor=actor, obj=claim, data={**_facts(claim), "changed": changed})
    return changed


def expire(claim: Claim, *, actor: User | None) -> bool:
    """Retire a live claim from today on (it stops clearing findings); False if it had already expired."""
    yesterday = timezone.localdate() - timedelta(days=1)
    with transaction.atomic():
        expired = Claim.objects.filter(pk=claim.pk, expires_on__gt=yesterday).update(expires_on=yesterday)
        if expired:
            claim.refresh_from_db(fields=["expires_on"])
            audit.record("claim.expired", actor=actor, obj=claim, data=_facts(claim))
    return bool(expired)


def _value(claim: Claim, name: str):
    return claim.owner_id if name == "owner" else getattr(claim, name)


def _facts(claim: Claim) -> dict:
    return {"owner": claim.owner_id, "expires_on": claim.expires_on.isoformat()}
