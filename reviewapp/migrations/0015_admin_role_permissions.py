"""The `admin` role without superpowers, and API tokens that are revoked, never deleted.

- The `admin` group gets an explicit list of permissions (a frozen copy of accounts.ADMIN_PERMISSIONS as
  it was when this migration was written; every later `migrate` applies the current list, see
  signals.grant_admin_permissions). Its members are staff, never superusers: those made superusers by
  `add_user --role admin` or `seed_demo` before this migration become staff non-superusers. Superusers
  without the `admin` role (made with `createsuperuser`, the operator's break-glass account) are kept.
- A trigger refuses DELETE of API token rows (revoke instead: the row is what `token.created` and
  `token.revoked` refer to), and an UPDATE that brings a revoked token back or changes whose it is or
  its digest. On SQLite the DELETE trigger lets the test runner's flush through (`reviewapp_flushing()`,
  as migration 0010's history triggers do); PostgreSQL's flush is a TRUNCATE, which triggers do not see.
  On PostgreSQL the refusal is reviewapp_refuse_change() of migration 0002 (SQLSTATE 23000).
"""

from django.db import migrations

ADMIN_PERMISSIONS = {
    "reviewapp.user": ("view", "add", "change"),
    "auth.group": ("view",),
    "reviewapp.apitoken": ("view", "change"),
    "reviewapp.claim": ("view", "add", "change"),
    "reviewapp.webhookendpoint": ("view", "change"),
    "reviewapp.draft": ("view",),
    "reviewapp.version": ("view",),
    "reviewapp.flag": ("view",),
    "reviewapp.decision": ("view",),
    "reviewapp.auditevent": ("view",),
    "reviewapp.brief": ("view",),
    "reviewapp.provenance": ("view",),
    "reviewapp.webhookdelivery": ("view",),
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

TOKEN_DELETED = "api tokens are revoked, never deleted"
TOKEN_CHANGED = "a revoked api token stays revoked and a token never changes owner or digest"
TOKEN_CHANGE_CONDITION = """(OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS NULL)
    OR NEW.user_id <> OLD.user_id OR NEW.digest <> OLD.digest OR NEW.prefix <> OLD.prefix"""

SQLITE_TRIGGERS = {
    "reviewapp_apitoken_undeletable": f"""CREATE TRIGGER reviewapp_apitoken_undeletable
        BEFORE DELETE ON reviewapp_apitoken WHEN reviewapp_flushing() = 0
        BEGIN SELECT RAISE(ABORT, '{TOKEN_DELETED}'); END""",
    "reviewapp_apitoken_revoked_for_ever": f"""CREATE TRIGGER reviewapp_apitoken_revoked_for_ever
        BEFORE UPDATE ON reviewapp_apitoken WHEN {TOKEN_CHANGE_CONDITION}
        BEGIN SELECT RAISE(ABORT, '{TOKEN_CHANGED}'); END""",
}
POSTGRES_TRIGGERS = {
    "reviewapp_apitoken_undeletable": f"""CREATE TRIGGER reviewapp_apitoken_undeletable
        BEFORE DELETE ON reviewapp_apitoken
        FOR EACH ROW EXECUTE FUNCTION reviewapp_refuse_change('{TOKEN_DELETED}')""",
    "reviewapp_apitoken_revoked_for_ever": f"""CREATE TRIGGER reviewapp_apitoken_revoked_for_ever
        BEFORE UPDATE ON reviewapp_apitoken FOR EACH ROW WHEN ({TOKEN_CHANGE_CONDITION})
        EXECUTE FUNCTION reviewapp_refuse_change('{TOKEN_CHANGED}')""",
}


def admins_without_superpowers(apps, schema_editor):
    from reviewapp.accounts import sync_admin_group

    sync_admin_group(apps, ADMIN_PERMISSIONS, create=True)
    User = apps.get_model("reviewapp", "User")
    User.objects.filter(groups__name="admin", is_superuser=True).update(is_superuser=False, is_staff=True)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRES_TRIGGERS}.get(vendor, {}).values():
        schema_editor.execute(sql, None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    suffix = " ON reviewapp_apitoken" if vendor == "postgresql" else ""
    if vendor in ("sqlite", "postgresql"):
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{suffix}", None)


class Migration(migrations.Migration):
    dependencies = [
        ("reviewapp", "0014_audit_hmac"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        ("axes", "0010_accessattemptexpiration"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        # Reversing leaves the group's permissions and the users as they are: superuser status is not
        # handed back.
        migrations.RunPython(admins_without_superpowers, migrations.RunPython.noop),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
