"""Decision.second_factor_verified: whether the reviewer's session had passed the second factor.

On SQLite adding the column rebuilds reviewapp_decision; its triggers and those naming it are kept
(see _sqlite_rebuild). PostgreSQL adds the column in place.
"""

from django.db import migrations, models

from reviewapp.migrations._sqlite_rebuild import around_rebuild


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0010_gate_in_the_database")]

    operations = around_rebuild(
        "reviewapp_decision",
        migrations.AddField(
            model_name="decision",
            name="second_factor_verified",
            field=models.BooleanField(default=False),
        ),
    )
