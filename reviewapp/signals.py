"""Audit events for sign-ins. A failed sign-in records a keyed hash of the name tried, never the name:
the same name always gives the same value (so repeated attempts show up), but it cannot be reversed
without the SECRET_KEY."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.management import call_command
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django.utils.crypto import salted_hmac

from reviewapp import accounts, audit, second_factor


@receiver(user_logged_in)
def record_login(sender, request, user, **kwargs):
    # The sign-in's second step sets otp_device before logging in (reviewapp/account_views.py).
    device = getattr(user, "otp_device", None)
    audit.append_in_transaction(
        "user.logged_in",
        actor=user,
        obj=user,
        data={"second_factor": second_factor.kind_of(device) if device is not None else None},
    )


@receiver(user_login_failed)
def record_login_failure(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", "")).strip().lower()
    pseudonym = salted_hmac("reviewapp.login_failed", username).hexdigest()[:16]
    audit.append_in_transaction("user.login_failed", actor=None, data={"username_hmac": pseudonym})


@receiver(post_migrate)
def create_cache_table(sender, using, **kwargs):
    """The database cache needs its table; creating it on migrate makes `migrate` the only deploy step."""
    if sender.name == "reviewapp":
        call_command("createcachetable", database=using, verbosity=0)


@receiver(post_migrate)
def grant_admin_permissions(sender, using, **kwargs):
    """The `admin` group holds exactly accounts.ADMIN_PERMISSIONS after every migrate, and after the test
    runner's flushes (which empty the group's permissions). reviewapp is the last installed app, so by
    its post_migrate every app's permissions exist."""
    if sender.name == "reviewapp":
        accounts.sync_admin_group()
