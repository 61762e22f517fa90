"""Accounts and API tokens: creating users with roles, issuing and revoking tokens, all audited."""

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from reviewapp import audit, second_factor
from reviewapp.models import ApiToken, Role, User


class AccountError(ValueError):
    pass


def parse_roles(raw: str) -> list[str]:
    roles = [part.strip().lower() for part in raw.split(",") if part.strip()]
    unknown = sorted(set(roles) - set(Role.values))
    if not roles or unknown:
        raise AccountError(
            f"Unknown role(s) {', '.join(unknown) or '(none given)'}; use {', '.join(Role.values)}."
        )
    if Role.INTEGRATION in roles and Role.REVIEWER in roles:
        raise AccountError("An integration (machine) account can never be a reviewer.")
    return roles


@transaction.atomic
def create_user(
    username: str, *, roles: list[str], name: str = "", password: str | None = None, actor: User | None = None
) -> User:
    if User.objects.filter(username=username).exists():
        raise AccountError(f"User {username!r} already exists.")
    user = User(username=username, name=name, is_staff=Role.ADMIN in roles, is_superuser=Role.ADMIN in roles)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
    audit.record("user.created", actor=actor, obj=user, data={"roles": sorted(roles)})
    return user


@transaction.atomic
def issue_token(user: User, *, name: str = "", actor: User | None = None) -> str:
    """Create a token and return its plain value, which is shown once and never stored."""
    token, plain = ApiToken.issue(user, name=name)
    audit.record(
        "token.created", actor=actor or user, obj=token, data={"user": user.pk, "prefix": token.prefix}
    )
    return plain


@transaction.atomic
def revoke_token(token: ApiToken, *, actor: User | None) -> bool:
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        audit.record(
            "token.revoked", actor=actor, obj=token, data={"user": token.user_id, "prefix": token.prefix}
        )
    return bool(revoked)


def access_of(user: User) -> dict:
    """What a user may do, as stored: roles (groups) and the account flags that grant or stop access."""
    user = User.objects.get(pk=user.pk)
    return {
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
    }


def record_access_change(user: User, *, before: dict | None, actor: User | None) -> None:
    """Audit `user.access_changed` when roles or account flags differ from `before` (None: new user)."""
    after = access_of(user)
    if before == after:
        return
    with transaction.atomic():
        audit.record("user.access_changed", actor=actor, obj=user, data={"before": before, "after": after})


@transaction.atomic
def reset_second_factor(user: User, *, actor: User) -> bool:
    """An admin removes a user's authenticator and recovery codes (say, a lost phone); the user sets it up
    again. Audited naming the admin. Setting a password never does this: knowing a password that an admin
    set is not enough to sign in as someone who has a second factor."""
    removed = second_factor.delete_devices(user)
    if removed:
        audit.record("user.second_factor_reset", actor=actor, obj=user, data={"devices": removed})
    return bool(removed)
