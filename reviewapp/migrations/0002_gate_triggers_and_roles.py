"""Roles as groups, the audit chain's head row, and triggers that keep history immutable.

Triggers refuse UPDATEs of audit events, decisions and version text whatever path writes (ORM,
admin, raw SQL). On PostgreSQL they also refuse DELETE of audit events, decisions and versions
(TRUNCATE, which the test runner's flush uses, is not affected); on SQLite a DELETE trigger would
also fire on the test runner's flush, so there the models refuse deletes and the hash chain (seq
gaps) detects a deleted event. Refusals are integrity errors (SQLSTATE 23000 on PostgreSQL).
"""

from django.db import migrations

ROLES = ["copywriter", "reviewer", "admin", "integration"]
GENESIS_HASH = "0" * 64

SQLITE_TRIGGERS = [
    """CREATE TRIGGER reviewapp_auditevent_append_only BEFORE UPDATE ON reviewapp_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER reviewapp_decision_immutable BEFORE UPDATE ON reviewapp_decision
       BEGIN SELECT RAISE(ABORT, 'decisions are immutable'); END""",
    """CREATE TRIGGER reviewapp_version_immutable BEFORE UPDATE ON reviewapp_version
       WHEN NEW.body IS NOT OLD.body OR NEW.sha256 IS NOT OLD.sha256
         OR NEW.number IS NOT OLD.number OR NEW.draft_id IS NOT OLD.draft_id
       BEGIN SELECT RAISE(ABORT, 'version text is immutable'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS reviewapp_auditevent_append_only",
    "DROP TRIGGER IF EXISTS reviewapp_decision_immutable",
    "DROP TRIGGER IF EXISTS reviewapp_version_immutable",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION reviewapp_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION '% on % is not allowed: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0]
           USING ERRCODE = 'integrity_constraint_violation';
       END $$""",
    """CREATE TRIGGER reviewapp_auditevent_append_only BEFORE UPDATE OR DELETE ON reviewapp_auditevent
       FOR EACH ROW EXECUTE FUNCTION reviewapp_refuse_change('audit events are append-only')""",
    """CREATE TRIGGER reviewapp_decision_immutable BEFORE UPDATE OR DELETE ON reviewapp_decision
       FOR EACH ROW EXECUTE FUNCTION reviewapp_refuse_change('decisions are immutable')""",
    """CREATE TRIGGER reviewapp_version_undeletable BEFORE DELETE ON reviewapp_version
       FOR EACH ROW EXECUTE FUNCTION reviewapp_refuse_change('versions are kept for ever')""",
    """CREATE TRIGGER reviewapp_version_immutable BEFORE UPDATE ON reviewapp_version
       FOR EACH ROW WHEN (NEW.body IS DISTINCT FROM OLD.body OR NEW.sha256 IS DISTINCT FROM OLD.sha256
         OR NEW.number IS DISTINCT FROM OLD.number OR NEW.draft_id IS DISTINCT FROM OLD.draft_id)
       EXECUTE FUNCTION reviewapp_refuse_change('version text is immutable')""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS reviewapp_auditevent_append_only ON reviewapp_auditevent",
    "DROP TRIGGER IF EXISTS reviewapp_decision_immutable ON reviewapp_decision",
    "DROP TRIGGER IF EXISTS reviewapp_version_immutable ON reviewapp_version",
    "DROP TRIGGER IF EXISTS reviewapp_version_undeletable ON reviewapp_version",
    "DROP FUNCTION IF EXISTS reviewapp_refuse_change()",
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRES_TRIGGERS}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql, None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql, None)


def create_roles_and_head(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    AuditHead = apps.get_model("reviewapp", "AuditHead")
    AuditHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})


class Migration(migrations.Migration):
    dependencies = [
        ("reviewapp", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_roles_and_head, migrations.RunPython.noop),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
