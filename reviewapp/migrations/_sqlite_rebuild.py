"""Keeping triggers through a SQLite table rebuild (not a migration: the loader skips `_` modules).

On SQLite, most AddField/RemoveField/AlterField operations rebuild the table (new table, copy, drop,
rename). That drops every trigger on the table, and the rename fails while a trigger on another table
names it (0010's gate triggers name many tables). `around_rebuild(table, *operations)` saves and drops
every trigger on or naming `table` before the operations and creates them again after, in both
directions, inside the migration's transaction. PostgreSQL alters tables in place: nothing to do.
"""

from django.db import migrations


def around_rebuild(table: str, *operations) -> list:
    saved: list[str] = []

    def set_aside(apps, schema_editor):
        saved.clear()
        if schema_editor.connection.vendor != "sqlite":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND (tbl_name = %s OR sql LIKE %s)",
                [table, f"%{table}%"],
            )
            triggers = cursor.fetchall()
        for name, sql in triggers:
            saved.append(sql)
            schema_editor.execute(f'DROP TRIGGER "{name}"', None)

    def put_back(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        for sql in saved:
            schema_editor.execute(sql, None)
        saved.clear()

    return [
        migrations.RunPython(set_aside, put_back),
        *operations,
        migrations.RunPython(put_back, set_aside),
    ]
