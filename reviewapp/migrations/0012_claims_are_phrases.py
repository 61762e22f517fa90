"""Claims are phrases with evidence and an expiry at most two years after filing.

Pattern claims could clear every finding (`(?s).+`) or take exponential time on a crafted submission;
they are retired here (expired as of yesterday, so they clear nothing and stay on record for the flags
that name them), and the column goes. Expiries further than two years from filing are brought back to
two years; a claim without evidence is expired. The database then refuses, on SQLite and PostgreSQL,
an expiry more than two years after filing and a change of the filing time; a check constraint
refuses blank evidence.
"""

from datetime import timedelta

from django.db import migrations, models
from django.db.models import Q
from django.utils import timezone

from reviewapp.migrations._sqlite_rebuild import around_rebuild

MESSAGE = "gate: a claim expires at most 2 years after it is filed, and its filing time never changes"

SQLITE = [
    f"""CREATE TRIGGER reviewapp_gate_claim_{event.lower()} BEFORE {event} ON reviewapp_claim
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}') WHERE NEW.expires_on > date(NEW.created_at, '+2 years')
        {"OR NEW.created_at <> OLD.created_at" if event == "UPDATE" else ""}; END"""
    for event in ("INSERT", "UPDATE")
]
POSTGRES = [
    f"""CREATE FUNCTION reviewapp_gate_claim() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
        IF NEW.expires_on > ((NEW.created_at AT TIME ZONE 'UTC') + interval '2 years')::date
           OR (TG_OP = 'UPDATE' AND NEW.created_at IS DISTINCT FROM OLD.created_at) THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
        END $$""",
    """CREATE TRIGGER reviewapp_gate_claim BEFORE INSERT OR UPDATE ON reviewapp_claim
        FOR EACH ROW EXECUTE FUNCTION reviewapp_gate_claim()""",
]


def _two_years_after(moment):
    day = timezone.localdate(moment)
    try:
        return day.replace(year=day.year + 2)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 2, day=28)


def retire_patterns(apps, schema_editor):
    Claim = apps.get_model("reviewapp", "Claim")
    yesterday = timezone.localdate() - timedelta(days=1)
    for claim in Claim.objects.all():
        expires_on = min(claim.expires_on, _two_years_after(claim.created_at))
        if claim.is_pattern or not claim.evidence_source.strip():
            expires_on = min(expires_on, yesterday)
        evidence = claim.evidence_source.strip() or "none given (expired when evidence became required)"
        if (expires_on, evidence) != (claim.expires_on, claim.evidence_source):
            Claim.objects.filter(pk=claim.pk).update(expires_on=expires_on, evidence_source=evidence)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in SQLITE if vendor == "sqlite" else POSTGRES if vendor == "postgresql" else []:
        schema_editor.execute(sql, None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for event in ("insert", "update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS reviewapp_gate_claim_{event}", None)
    elif vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS reviewapp_gate_claim ON reviewapp_claim", None)
        schema_editor.execute("DROP FUNCTION IF EXISTS reviewapp_gate_claim()", None)


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0011_decision_second_factor_verified")]

    operations = [
        migrations.RunPython(retire_patterns, migrations.RunPython.noop),
        *around_rebuild(
            "reviewapp_claim",
            migrations.RemoveField(model_name="claim", name="is_pattern"),
            migrations.AlterField(
                model_name="claim",
                name="text",
                field=models.TextField(
                    help_text="The claim's wording as it appears in copy: matched as whole words in order, in "
                    "any case and with any punctuation or spacing between them. It clears only findings inside it."
                ),
            ),
            migrations.AlterField(
                model_name="claim",
                name="owner",
                field=models.ForeignKey(
                    help_text="Who answers for the evidence.",
                    on_delete=models.deletion.PROTECT,
                    related_name="claims",
                    to="reviewapp.user",
                ),
            ),
            migrations.AlterField(
                model_name="claim",
                name="expires_on",
                field=models.DateField(
                    help_text="Last day the evidence supports the claim; at most 2 years after it is filed."
                ),
            ),
            migrations.AddConstraint(
                model_name="claim",
                constraint=models.CheckConstraint(condition=~Q(evidence_source=""), name="claim_evidence_not_empty"),
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
