"""Holes a review found in the database's gate, closed on SQLite and PostgreSQL:

- A flag's category never changes (it is part of what the flag found): turning a manipulation blocker
  into an "unverifiable" one let a claim written in SQL clear it.
- A claim's filing time is not in the future (a later filing time stretched its two years), and its
  evidence is not blank.
- django-q2 schedules run only the functions `setup_schedules` creates, with no hook and no arguments:
  the scheduler runs any dotted function a row names, so a row written in SQL ran code on the worker.
- On PostgreSQL, a flag's trigger locks its draft's row and a decision's trigger shares that lock, so
  an approval and a concurrent change of the version's flags written outside workflow.py (which locks
  the draft first) cannot both commit: the second waits and then sees the first.
"""

import importlib

from django.db import migrations

gate = importlib.import_module("reviewapp.migrations.0010_gate_in_the_database")

# Keep in step with reviewapp/management/commands/setup_schedules.py (a test compares them).
SCHEDULED_FUNCTIONS = ("reviewapp.webhooks.sweep", "reviewapp.api.idempotency.prune", "reviewapp.audit.checkpoint")
SCHEDULE_MESSAGE = "gate: schedules run only the functions setup_schedules creates, with no hook or arguments"
CLAIM_MESSAGE = "gate: a claim is filed now or earlier, names its evidence and expires within 2 years"

FOUND_CHANGED = gate.FOUND_CHANGED.rstrip()[:-1] + " OR NEW.category <> OLD.category)"
FLAG_UPDATE_CHECKS = (
    ("flag_frozen", gate.VERSION_IS_DECIDED.format("OLD")),
    ("flag_found", FOUND_CHANGED),
)


def _flag_update_checks(contains: str, today: str):
    return (
        *FLAG_UPDATE_CHECKS,
        ("flag_downgrade", gate._downgrade_without_claim(contains, today)),
        ("flag_override", f"{gate.OVERRIDE_CHANGED} AND {gate._override_written(gate.LENGTH)}"),
    )


_ALLOWED = ", ".join(f"'{name}'" for name in SCHEDULED_FUNCTIONS)
SCHEDULE_REFUSED = f"""(NEW.func NOT IN ({_ALLOWED}) OR coalesce(NEW.hook, '') <> ''
    OR coalesce(NEW.args, '') <> '' OR coalesce(NEW.kwargs, '') <> '')"""

SQLITE_FORWARD = [
    "DROP TRIGGER reviewapp_gate_flag_update",
    gate._sqlite_trigger(
        "reviewapp_gate_flag_update",
        "BEFORE UPDATE",
        "reviewapp_flag",
        *_flag_update_checks(gate.SQLITE_CONTAINS, gate.SQLITE_TODAY),
    ),
    *(
        f"""CREATE TRIGGER reviewapp_gate_claim_filed_{event.lower()} BEFORE {event} ON reviewapp_claim
        BEGIN SELECT RAISE(ABORT, '{CLAIM_MESSAGE}')
        WHERE trim(NEW.evidence_source, ' ' || char(9) || char(10) || char(13)) = ''
        {"OR NEW.created_at > strftime('%Y-%m-%d %H:%M:%f', 'now', '+5 minutes')" if event == "INSERT" else ""};
        END"""
        for event in ("INSERT", "UPDATE")
    ),
    *(
        f"""CREATE TRIGGER reviewapp_gate_schedule_{event.lower()} BEFORE {event} ON django_q_schedule
        BEGIN SELECT RAISE(ABORT, '{SCHEDULE_MESSAGE}') WHERE {SCHEDULE_REFUSED}; END"""
        for event in ("INSERT", "UPDATE")
    ),
]
SQLITE_BACKWARD = [
    "DROP TRIGGER reviewapp_gate_flag_update",
    gate.SQLITE_TRIGGERS["reviewapp_gate_flag_update"],
    *(f"DROP TRIGGER reviewapp_gate_claim_filed_{event}" for event in ("insert", "update")),
    *(f"DROP TRIGGER reviewapp_gate_schedule_{event}" for event in ("insert", "update")),
]

LOCK_DRAFT_OF_FLAG = """PERFORM 1 FROM reviewapp_draft d JOIN reviewapp_version v ON v.draft_id = d.id
        WHERE v.id = {}.version_id FOR UPDATE OF d;"""
SHARE_DRAFT_OF_DECISION = "PERFORM 1 FROM reviewapp_draft d WHERE d.id = NEW.draft_id FOR SHARE;"


def _replaced(sql: str, first_statement: str = "") -> str:
    """0010's function, as CREATE OR REPLACE, with `first_statement` run before its checks."""
    sql = sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    return sql.replace("BEGIN\n", f"BEGIN\n        {first_statement}\n", 1) if first_statement else sql


POSTGRES_FORWARD = [
    _replaced(
        gate._pg_function(
            "reviewapp_gate_flag_update", gate._pg_checks(*_flag_update_checks(gate.PG_CONTAINS, gate.PG_TODAY))
        ),
        LOCK_DRAFT_OF_FLAG.format("OLD"),
    ),
    _replaced(gate.POSTGRES_FUNCTIONS["reviewapp_gate_flag_insert"], LOCK_DRAFT_OF_FLAG.format("NEW")),
    _replaced(gate.POSTGRES_FUNCTIONS["reviewapp_gate_flag_delete"], LOCK_DRAFT_OF_FLAG.format("OLD")),
    _replaced(gate.POSTGRES_FUNCTIONS["reviewapp_gate_decision"], SHARE_DRAFT_OF_DECISION),
    f"""CREATE FUNCTION reviewapp_gate_claim_filed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
        IF btrim(NEW.evidence_source, E' \\t\\r\\n') = ''
           OR (TG_OP = 'INSERT' AND NEW.created_at > now() + interval '5 minutes') THEN
            RAISE EXCEPTION '{CLAIM_MESSAGE}' {gate.REFUSE};
        END IF;
        RETURN NEW;
        END $$""",
    """CREATE TRIGGER reviewapp_gate_claim_filed BEFORE INSERT OR UPDATE ON reviewapp_claim
        FOR EACH ROW EXECUTE FUNCTION reviewapp_gate_claim_filed()""",
    f"""CREATE FUNCTION reviewapp_gate_schedule() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
        IF {SCHEDULE_REFUSED} THEN RAISE EXCEPTION '{SCHEDULE_MESSAGE}' {gate.REFUSE}; END IF;
        RETURN NEW;
        END $$""",
    """CREATE TRIGGER reviewapp_gate_schedule BEFORE INSERT OR UPDATE ON django_q_schedule
        FOR EACH ROW EXECUTE FUNCTION reviewapp_gate_schedule()""",
]
POSTGRES_BACKWARD = [
    *(
        _replaced(gate.POSTGRES_FUNCTIONS[name])
        for name in (
            "reviewapp_gate_flag_update",
            "reviewapp_gate_flag_insert",
            "reviewapp_gate_flag_delete",
            "reviewapp_gate_decision",
        )
    ),
    "DROP TRIGGER reviewapp_gate_claim_filed ON reviewapp_claim",
    "DROP FUNCTION reviewapp_gate_claim_filed()",
    "DROP TRIGGER reviewapp_gate_schedule ON django_q_schedule",
    "DROP FUNCTION reviewapp_gate_schedule()",
]


def _run(statements: dict):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, None)

    return run


def refuse_other_schedules(apps, schema_editor):
    """A schedule row the trigger would refuse, already there, would run on every scheduler tick (with
    the Redis broker the task is queued before the row's save is refused). Say which, and stop: an
    operator removes it (or adds its function to setup_schedules and here) and migrates again."""
    Schedule = apps.get_model("django_q", "Schedule")
    others = [
        f"{row.pk} {row.name!r} ({row.func})"
        for row in Schedule.objects.all()
        if row.func not in SCHEDULED_FUNCTIONS or row.hook or row.args or row.kwargs
    ]
    if others:
        raise RuntimeError(
            "django-q2 schedules that setup_schedules does not create are in the database: "
            + ", ".join(others)
            + ". Delete them (they can run any function on the worker), then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reviewapp", "0015_admin_role_permissions"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(refuse_other_schedules, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]
