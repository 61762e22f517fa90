"""Accounts and API tokens: creating users with roles, issuing and revoking tokens, setting passwords,
all audited; and what the `admin` role may do in the admin site."""

import contextlib
from contextvars import ContextVar

from django.apps import apps as installed_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from reviewapp import audit, second_factor
from reviewapp.models import ApiToken, AuditEvent, Role, User

# What the `admin` role may do in the admin site: model -> the permissions its group holds. Nothing else
# (no delete anywhere; django-q2's task and schedule pages are view-only for everyone, see admin.py).
# The README lists the same table; tests/test_admin_roles.py checks the group, the admin site's models
# and the README against it. `migrate` applies it (migration 0015, then every run: sync_admin_group).
ADMIN_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "reviewapp.user": ("view", "add", "change"),  # roles, activation, passwords; never superusers
    "auth.group": ("view",),  # the roles themselves are fixed: editing one would grant any permission
    "reviewapp.apitoken": ("view", "change"),  # change = the audited Revoke action (every field read-only)
    "reviewapp.claim": ("view", "add", "change"),
    "reviewapp.webhookendpoint": ("view", "change"),  # adding shows a secret once: /webhooks/new
    "reviewapp.draft": ("view",),
    "reviewapp.version": ("view",),
    "reviewapp.flag": ("view",),
    "reviewapp.decision": ("view",),
    "reviewapp.auditevent": ("view",),
    "reviewapp.brief": ("view",),
    "reviewapp.provenance": ("view",),
    "reviewapp.webhookdelivery": ("view",),  # view includes the audited Resend action
    "reviewapp.webhookmessage": ("view",),
    "reviewapp.webhookattempt": ("view",),
    "django_q.schedule": ("view",),
    "django_q.success": ("view",),
    "django_q.failure": ("view",),
    "django_q.ormq": ("view",),
    "axes.accessattempt": ("view",),
    "axes.accesslog": ("view",),
    "axes.accessfailurelog": ("view",),
}


def admin_permission_codenames(table: dict[str, tuple[str, ...]] = ADMIN_PERMISSIONS) -> set[str]:
    """The table as Django's "app_label.codename" strings (what user.has_perm takes)."""
    return {
        f"{label.split('.')[0]}.{action}_{label.split('.')[1]}"
        for label, actions in table.items()
        for action in actions
    }


def sync_admin_group(
    apps=installed_apps, table: dict[str, tuple[str, ...]] = ADMIN_PERMISSIONS, *, create: bool = False
) -> None:
    """Give the `admin` group exactly the permissions of `table`. Runs after every `migrate` (and the
    test runner's flushes) from signals.py; migration 0015 passes its historical `apps`, its own frozen
    copy of the table and `create` (permissions are otherwise made after migrating). A permission that
    does not exist is an error, not a silent gap."""
    if create:
        for app_config in apps.get_app_configs():
            app_config.models_module = True
            create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = admin_permission_codenames(table)
    found = {
        f"{perm.content_type.app_label}.{perm.codename}": perm
        for perm in Permission.objects.select_related("content_type")
        if f"{perm.content_type.app_label}.{perm.codename}" in wanted
    }
    missing = sorted(wanted - set(found))
    if missing:
        raise LookupError(f"Permissions for the admin role do not exist: {', '.join(missing)}")
    group, _ = Group.objects.get_or_create(name=Role.ADMIN)
    group.permissions.set(found.values())


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
    # Admins are staff with the permissions of their group, never superusers (createsuperuser is the
    # operator's break-glass tool: README, Security).
    user = User(username=username, name=name, is_staff=Role.ADMIN in roles, is_superuser=False)
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


def revoke_tokens_of(user: User, *, actor: User | None) -> int:
    """Revoke every live token of the user, each one audited as `token.revoked`."""
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("pk")
    return sum(revoke_token(token, actor=actor) for token in tokens)


def end_sessions_of(user: User, *, keep: str | None = None) -> int:
    """Delete the user's sessions (signed in, or half-way through the second sign-in step), except the
    session `keep` (the admin's own, when they set their own password)."""
    from reviewapp.account_views import PENDING_KEY

    ended = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep):
        data = session.get_decoded()
        pending = data.get(PENDING_KEY)
        pending_user = pending.get("user") if isinstance(pending, dict) else None
        if str(user.pk) in (str(data.get("_auth_user_id")), str(pending_user)):
            ended.append(session.session_key)
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


_recorded_by_caller = ContextVar("reviewapp_password_recorded_by_caller", default=False)


@contextlib.contextmanager
def recording_password_set():
    """Around a password change whose caller records it (the admin's form): the catch-all in signals.py,
    which records passwords saved anywhere else (a shell, `manage.py changepassword`), stays quiet."""
    token = _recorded_by_caller.set(True)
    try:
        yield
    finally:
        _recorded_by_caller.reset(token)


def password_recorded_by_caller() -> bool:
    return _recorded_by_caller.get()


@transaction.atomic
def record_password_set(user: User, *, actor: User, keep_session: str | None = None) -> None:
    """An admin set (or disabled) a user's password in the admin. Audited naming the admin, never the
    password. The user's sessions end and, when it is someone else's password, their API tokens are
    revoked: whoever held them must not keep access the new password does not grant. The second factor
    stays (see reset_second_factor)."""
    own = user.pk == actor.pk
    sessions = end_sessions_of(user, keep=keep_session if own else None)
    tokens = 0 if own else revoke_tokens_of(user, actor=actor)
    audit.record(
        "user.password_set",
        actor=actor,
        obj=user,
        data={
            "usable": user.has_usable_password(),
            "own": own,
            "sessions_ended": sessions,
            "tokens_revoked": tokens,
        },
    )


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


# Two people, so that no admin takes over an account alone: whoever holds one of a user's credentials
# (set their password, created them with one, reset their second factor) does not also replace the
# other, nor give them the reviewer role, until the user has replaced it themselves; another admin can.


def _last(action: str, user: User, *, actor: User) -> AuditEvent | None:
    return (
        AuditEvent.objects.filter(action=action, actor=actor, object_type="user", object_id=str(user.pk))
        .order_by("-seq")
        .first()
    )


def _holds_password(user: User, *, actor: User) -> bool:
    """Whether `actor` chose the user's current password: they set it (or created the user in the
    admin, with a password) and the user has not set one since."""
    chosen = [
        e
        for e in (_last("user.password_set", user, actor=actor), _last("admin.added", user, actor=actor))
        if e
    ]
    if not chosen:
        return False
    since = max(event.seq for event in chosen)
    return (
        not AuditEvent.objects.filter(
            action="user.password_set", object_type="user", object_id=str(user.pk), seq__gt=since
        )
        .exclude(actor=actor)
        .exists()
    )


def _holds_second_factor(user: User, *, actor: User) -> bool:
    """Whether `actor` reset the user's second factor and the user has not set one up again since."""
    reset = _last("user.second_factor_reset", user, actor=actor)
    return (
        reset is not None
        and not AuditEvent.objects.filter(
            action="user.second_factor_enrolled",
            actor=user,
            object_type="user",
            object_id=str(user.pk),
            seq__gt=reset.seq,
        ).exists()
    )


def refuse_second_credential(user: User, *, actor: User, resetting: str) -> None:
    """Raise AccountError when `actor` already holds the user's other credential. `resetting` is
    "password" or "second factor"."""
    if actor.pk == user.pk:
        return
    held = (
        _holds_second_factor(user, actor=actor)
        if resetting == "password"
        else _holds_password(user, actor=actor)
    )
    if held:
        done = "reset their second factor" if resetting == "password" else "chose their password"
        raise AccountError(
            f"You {done}, and they have not replaced it since, so another admin changes their {resetting}: "
            "nobody replaces both of someone's credentials alone."
        )


def refuse_reviewer_grant(user: User, *, actor: User) -> None:
    """Raise AccountError when `actor` may not make `user` a reviewer: themselves, or someone whose
    password or second factor they hold (they could sign in and approve as them)."""
    if actor.pk == user.pk:
        raise AccountError("You cannot give yourself the reviewer role; another admin can.")
    if _holds_password(user, actor=actor) or _holds_second_factor(user, actor=actor):
        raise AccountError(
            "You chose this user's password or reset their second factor, and they have not replaced it "
            "since, so another admin gives them the reviewer role."
        )


@transaction.atomic
def reset_second_factor(user: User, *, actor: User) -> bool:
    """An admin removes a user's authenticator and recovery codes (say, a lost phone); the user sets it up
    again. Audited naming the admin. Setting a password never does this: knowing a password that an admin
    set is not enough to sign in as someone who has a second factor, and the admin who set it may not
    reset the second factor too (refuse_second_credential)."""
    refuse_second_credential(user, actor=actor, resetting="second factor")
    removed = second_factor.delete_devices(user)
    if removed:
        audit.record("user.second_factor_reset", actor=actor, obj=user, data={"devices": removed})
    return bool(removed)
