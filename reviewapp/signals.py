"""Audit events for sign-ins and for passwords saved outside the admin. A failed sign-in records a keyed
hash of the name tried, never the name: the same name always gives the same value (so repeated attempts
show up), but it cannot be reversed without the SECRET_KEY."""

import sys

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.management import call_command
from django.db.models.signals import post_migrate, post_save
from django.dispatch import receiver
from django.utils.crypto import salted_hmac

from reviewapp import accounts, audit, second_factor
from reviewapp.models import User


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


@receiver(post_save, sender=User)
def record_password_saved(sender, instance, created, **kwargs):
    """A password set with set_password() and saved anywhere but the admin's form (a shell, `manage.py
    changepassword`) is `user.password_set` with no actor: nobody signed in did it. Django keeps the new
    raw password in `_password` until the save is done; a hash upgraded at sign-in clears it first, so
    that is not recorded. A new user's password is part of `user.created`."""
    if created or getattr(instance, "_password", None) is None or accounts.password_recorded_by_caller():
        return
    audit.append_in_transaction(
        "user.password_set",
        actor=None,
        obj=instance,
        data={"usable": instance.has_usable_password(), "own": False, "via": "outside the admin"},
    )


@receiver(post_migrate)
def say_which_role_migrated(sender, using, verbosity=1, stdout=None, **kwargs):
    if sender.name == "reviewapp" and verbosity:
        from django.db import connections

        from reviewapp.checks import database_role_notice

        notice = database_role_notice(connections[using])
        if notice:
            (stdout or sys.stdout).write(notice)


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
