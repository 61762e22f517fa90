"""IdempotencyRecord rows can be claims: a request inserts its row (no status code, no response yet)
in its own short transaction before doing the work, so the unique (user, key) constraint decides the
one request that runs; the row gets its response when the work commits.

On SQLite altering the columns rebuilds reviewapp_idempotencyrecord; triggers on or naming it are kept
(see _sqlite_rebuild). PostgreSQL alters the columns in place.
"""

from django.db import migrations, models

from reviewapp.migrations._sqlite_rebuild import around_rebuild


def drop_unanswered_claims(apps, schema_editor):
    """Going back: a claim without a response cannot be stored in the old NOT NULL columns; it is a
    request that never finished, so its retry simply runs again."""
    apps.get_model("reviewapp", "IdempotencyRecord").objects.filter(status_code__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0012_claims_are_phrases")]

    operations = [migrations.RunPython(migrations.RunPython.noop, drop_unanswered_claims)] + around_rebuild(
        "reviewapp_idempotencyrecord",
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="status_code",
            field=models.PositiveSmallIntegerField(null=True),
        ),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="response",
            field=models.JSONField(null=True),
        ),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(status_code__isnull=True, response__isnull=True)
                | models.Q(status_code__isnull=False, response__isnull=False),
                name="idempotency_claim_or_response",
            ),
        ),
    )
