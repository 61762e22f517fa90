"""Decision.second_factor_verified: whether the reviewer's session had passed the second factor.

On SQLite, adding a NOT NULL column rebuilds reviewapp_decision (new table, copy, drop, rename). That
drops every trigger on the table (e.g. reviewapp_decision_immutable), and the rename fails while a trigger
on another table names it (e.g. reviewapp_draft_approval_*). So every trigger on or naming the table,
whichever migration created it, is saved and dropped before the rebuild and created again after it, in
both directions, inside the migration's transaction. PostgreSQL adds the column in place.
"""

from django.db import migrations, models

_saved_triggers: list[str] = []


_TRIGGERS_OF_DECISIONS = """
    SELECT name, sql FROM sqlite_master WHERE type = 'trigger'
      AND (tbl_name = 'reviewapp_decision' OR sql LIKE '%reviewapp_decision%')"""


def set_triggers_aside(apps, schema_editor):
    _saved_triggers.clear()
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_TRIGGERS_OF_DECISIONS)
        triggers = cursor.fetchall()
    for name, sql in triggers:
        _saved_triggers.append(sql)
        schema_editor.execute(f'DROP TRIGGER "{name}"', None)


def put_triggers_back(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in _saved_triggers:
        schema_editor.execute(sql, None)
    _saved_triggers.clear()


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0010_gate_in_the_database")]

    operations = [
        migrations.RunPython(set_triggers_aside, put_triggers_back),
        migrations.AddField(
            model_name="decision",
            name="second_factor_verified",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(put_triggers_back, set_triggers_aside),
    ]
