"""The database's last word on the gate (SPEC §3, invariant 1): a draft may be approved or published only
while its `approval` is an *approve* decision of its `approved_version`, of this draft, recorded for
that version's exact text (same sha256). The check constraint on Draft already requires both to be set
and ties the approved version to the current one (a missing approval is its error); this trigger ties
the approval to both, whatever path writes the row.

On SQLite, a migration that rebuilds reviewapp_draft (most AddField/AlterField operations there) drops
its triggers: such a migration must create them again (tests/test_constraints.py would fail).
"""

from django.db import migrations

MESSAGE = "an approved or published draft needs an approve decision of its approved version"

APPROVAL_IS_REAL = """
    EXISTS (
        SELECT 1 FROM reviewapp_decision d JOIN reviewapp_version v ON v.id = d.version_id
        WHERE d.id = NEW.approval_id AND d.kind = 'approve' AND d.version_id = NEW.approved_version_id
          AND v.draft_id = NEW.id AND d.sha256 = v.sha256
    )"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER reviewapp_draft_approval_{event.lower()} BEFORE {event} ON reviewapp_draft
        WHEN NEW.status IN ('approved', 'published') AND NEW.approval_id IS NOT NULL
          AND NEW.approved_version_id IS NOT NULL AND NOT {APPROVAL_IS_REAL}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
    for event in ("INSERT", "UPDATE")
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS reviewapp_draft_approval_insert",
    "DROP TRIGGER IF EXISTS reviewapp_draft_approval_update",
]

POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION reviewapp_check_approval() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NOT {APPROVAL_IS_REAL} THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$""",
    """CREATE TRIGGER reviewapp_draft_approval BEFORE INSERT OR UPDATE ON reviewapp_draft
       FOR EACH ROW WHEN (NEW.status IN ('approved', 'published') AND NEW.approval_id IS NOT NULL
         AND NEW.approved_version_id IS NOT NULL)
       EXECUTE FUNCTION reviewapp_check_approval()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS reviewapp_draft_approval ON reviewapp_draft",
    "DROP FUNCTION IF EXISTS reviewapp_check_approval()",
]


def _run(schema_editor, statements_by_vendor):
    for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql, None)


def create_trigger(apps, schema_editor):
    _run(schema_editor, {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRES_TRIGGERS})


def drop_trigger(apps, schema_editor):
    _run(schema_editor, {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP})


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0008_draft_risk")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
