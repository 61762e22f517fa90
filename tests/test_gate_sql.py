"""The gate attacked directly with SQL, as from a database shell: every trigger of migrations 0010 and
0012 refuses the write it exists for, with its "gate:" message, on SQLite and PostgreSQL (the tokens'
triggers of 0015 are attacked in test_admin_roles.py); every expected trigger exists (a later SQLite
table rebuild that dropped one would fail here); and on PostgreSQL the role the README tells the app to
run as can do the app's work but cannot switch a trigger off, drop one, truncate history or turn off
triggers for its session.

Each attack runs with every earlier check of its trigger satisfied, so the message shows which check
refused it. Each runs in its own `transaction.atomic()`, so the test transaction survives it.
"""

import contextlib
import importlib
import io
import os

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from reviewapp import workflow
from reviewapp.models import AuditEvent, Brief, Draft, Flag, Version, sha256_hex
from tests.conftest import SAFE_COPY, behind_trigger, make_user, submit

pytestmark = pytest.mark.django_db

MESSAGES = importlib.import_module("reviewapp.migrations.0010_gate_in_the_database").MESSAGES
BLOCKER_COPY = "Clinically proven to calm skin in a week."
REASON = "Trial report CT-88 is on file with the brand team."

EXPECTED_TRIGGERS = {
    "sqlite": {
        ("django_q_schedule", "reviewapp_gate_schedule_insert"),
        ("django_q_schedule", "reviewapp_gate_schedule_update"),
        ("reviewapp_claim", "reviewapp_gate_claim_filed_insert"),
        ("reviewapp_claim", "reviewapp_gate_claim_filed_update"),
        ("reviewapp_apitoken", "reviewapp_apitoken_revoked_for_ever"),
        ("reviewapp_apitoken", "reviewapp_apitoken_undeletable"),
        ("reviewapp_auditevent", "reviewapp_auditevent_append_only"),
        ("reviewapp_auditevent", "reviewapp_gate_auditevent_delete"),
        ("reviewapp_brief", "reviewapp_gate_brief_update"),
        ("reviewapp_claim", "reviewapp_gate_claim_insert"),
        ("reviewapp_claim", "reviewapp_gate_claim_update"),
        ("reviewapp_decision", "reviewapp_decision_immutable"),
        ("reviewapp_decision", "reviewapp_gate_decision_delete"),
        ("reviewapp_decision", "reviewapp_gate_decision_insert"),
        ("reviewapp_draft", "reviewapp_draft_approval_insert"),
        ("reviewapp_draft", "reviewapp_draft_approval_update"),
        ("reviewapp_draft", "reviewapp_gate_draft_insert"),
        ("reviewapp_draft", "reviewapp_gate_draft_update"),
        ("reviewapp_flag", "reviewapp_gate_flag_delete"),
        ("reviewapp_flag", "reviewapp_gate_flag_insert"),
        ("reviewapp_flag", "reviewapp_gate_flag_update"),
        ("reviewapp_version", "reviewapp_gate_version_delete"),
        ("reviewapp_version", "reviewapp_gate_version_insert"),
        ("reviewapp_version", "reviewapp_gate_version_update"),
        ("reviewapp_version", "reviewapp_version_immutable"),
    },
    "postgresql": {
        ("django_q_schedule", "reviewapp_gate_schedule"),
        ("reviewapp_claim", "reviewapp_gate_claim_filed"),
        ("reviewapp_apitoken", "reviewapp_apitoken_revoked_for_ever"),
        ("reviewapp_apitoken", "reviewapp_apitoken_undeletable"),
        ("reviewapp_auditevent", "reviewapp_auditevent_append_only"),
        ("reviewapp_brief", "reviewapp_gate_brief_update"),
        ("reviewapp_claim", "reviewapp_gate_claim"),
        ("reviewapp_decision", "reviewapp_decision_immutable"),
        ("reviewapp_decision", "reviewapp_gate_decision"),
        ("reviewapp_draft", "reviewapp_draft_approval"),
        ("reviewapp_draft", "reviewapp_gate_draft_insert"),
        ("reviewapp_draft", "reviewapp_gate_draft_update"),
        ("reviewapp_flag", "reviewapp_gate_flag_delete"),
        ("reviewapp_flag", "reviewapp_gate_flag_insert"),
        ("reviewapp_flag", "reviewapp_gate_flag_update"),
        ("reviewapp_version", "reviewapp_gate_version_insert"),
        ("reviewapp_version", "reviewapp_gate_version_update"),
        ("reviewapp_version", "reviewapp_version_immutable"),
        ("reviewapp_version", "reviewapp_version_undeletable"),
    },
}


def installed_triggers() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        return {(table, name) for table, name in cursor.fetchall() if name.startswith("reviewapp_")}


def test_every_trigger_of_the_gate_is_installed():
    assert installed_triggers() == EXPECTED_TRIGGERS[connection.vendor]


# --- SQL as a shell would write it -----------------------------------------------------------------


def sql(statement: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, list(params))


@contextlib.contextmanager
def refused(message: str):
    """The write is refused by the gate check `message` (a key of migration 0010's MESSAGES, or the
    text itself)."""
    text = MESSAGES.get(message, message)
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        yield
    assert text in str(error.value), str(error.value)


def insert_decision(
    draft: Draft, reviewer, *, kind: str = "approve", version: Version | None = None, sha=None
):
    version = version or draft.current_version
    sql(
        "INSERT INTO reviewapp_decision (draft_id, version_id, sha256, kind, comment, reviewer_id, "
        "second_factor_verified, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        draft.pk,
        version.pk,
        sha or version.sha256,
        kind,
        "" if kind == "approve" else "Please cite the trial.",
        reviewer.pk,
        False,
        timezone.now(),
    )


def insert_version(draft: Draft, *, body: str, sha: str | None = None, number: int | None = None):
    sql(
        "INSERT INTO reviewapp_version (draft_id, number, body, sha256, created_by_id, source, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        draft.pk,
        number or draft.versions.count() + 1,
        body,
        sha or sha256_hex(body),
        draft.author_id,
        "human",
        timezone.now(),
    )


def blocker_of(draft: Draft) -> Flag:
    return draft.current_version.flags.filter(severity="blocker").first()


@pytest.fixture
def people(db):
    return {
        "writer": make_user(roles=["copywriter"]),
        "reviewer": make_user(roles=["reviewer"]),
        "other_reviewer": make_user(roles=["reviewer"]),
    }


# --- Decisions ---------------------------------------------------------------------------------------


def test_only_an_active_reviewer_who_is_no_integration_decides(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    with refused("decision_reviewer"):
        insert_decision(draft, people["writer"])
    with refused("decision_reviewer"):
        insert_decision(draft, make_user(roles=["integration"]))
    with refused("decision_reviewer"):
        insert_decision(draft, make_user(roles=["reviewer", "integration"]))
    gone = make_user(roles=["reviewer"])
    sql("UPDATE reviewapp_user SET is_active = %s WHERE id = %s", False, gone.pk)
    with refused("decision_reviewer"):
        insert_decision(draft, gone)


def test_nobody_approves_their_own_work(people):
    both = make_user(roles=["copywriter", "reviewer"])
    own = submit(author=both, body=SAFE_COPY)
    with refused("decision_own_work"):
        insert_decision(own, both)
    # A reviewer who wrote a later version of someone else's draft.
    draft = submit(author=people["writer"], body=SAFE_COPY)
    workflow.add_version(draft, author=both, body=SAFE_COPY + " Refill pouches available.")
    draft.refresh_from_db()
    with refused("decision_own_work"):
        insert_decision(draft, both)
    # The requester of the brief a draft came from.
    brief = Brief.objects.create(requester=both, product="Serum")
    briefed = Draft.objects.create(
        title="From a brief", author=people["writer"], brief=brief, status="generating"
    )
    text = Version.objects.create(
        draft=briefed, number=1, body=SAFE_COPY, sha256=sha256_hex(SAFE_COPY), created_by=people["writer"]
    )
    Draft.objects.filter(pk=briefed.pk).update(current_version=text, status="in_review")
    briefed.refresh_from_db()
    with refused("decision_own_work"):
        insert_decision(briefed, both)


def test_a_decision_names_the_current_version_and_its_hash(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    first = draft.current_version
    workflow.add_version(draft, author=people["writer"], body=SAFE_COPY + " Now vegan.")
    draft.refresh_from_db()
    with refused("decision_version"):
        insert_decision(draft, people["reviewer"], version=first)
    with refused("decision_version"):
        insert_decision(draft, people["reviewer"], sha="0" * 64)


def test_a_decision_needs_a_status_that_allows_it(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    workflow.decide(
        draft, reviewer=people["reviewer"], kind="reject", version=1, comment="Off brand entirely."
    )
    with refused("decision_status"):
        insert_decision(draft, people["other_reviewer"])


def test_an_approval_needs_every_blocker_overridden_by_the_approver_with_a_reason(people):
    draft = submit(author=people["writer"], body=BLOCKER_COPY)
    flag = blocker_of(draft)
    with refused("decision_blockers"):
        insert_decision(draft, people["reviewer"])
    # Overridden, but by someone else: the approver answers for every blocker.
    workflow.override_flag(flag, reviewer=people["other_reviewer"], reason=REASON)
    with refused("decision_blockers"):
        insert_decision(draft, people["reviewer"])


# --- Versions ----------------------------------------------------------------------------------------


def test_a_version_hash_is_the_hash_of_its_body(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    with refused("version_hash"):
        insert_version(draft, body="Cures everything, guaranteed.", sha=draft.current_version.sha256)


def test_rejected_and_published_drafts_take_no_new_versions(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    workflow.decide(
        draft, reviewer=people["reviewer"], kind="reject", version=1, comment="Off brand entirely."
    )
    with refused("version_final"):
        insert_version(draft, body="A second try.")


def test_who_wrote_a_version_never_changes(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    with refused("version_author"):
        sql(
            "UPDATE reviewapp_version SET created_by_id = %s WHERE id = %s",
            people["other_reviewer"].pk,
            draft.current_version.pk,
        )


# --- Flags -------------------------------------------------------------------------------------------


def test_a_blocker_is_never_deleted_or_downgraded_without_a_live_claim(people):
    draft = submit(author=people["writer"], body=BLOCKER_COPY)
    flag = blocker_of(draft)
    with refused("flag_blocker_deleted"):
        sql("DELETE FROM reviewapp_flag WHERE id = %s", flag.pk)
    for severity in ("warning", "info"):
        with refused("flag_downgrade"):
            sql("UPDATE reviewapp_flag SET severity = %s WHERE id = %s", severity, flag.pk)
    with refused("flag_found"):
        sql("UPDATE reviewapp_flag SET text = %s WHERE id = %s", "calm", flag.pk)


def test_an_override_names_a_reviewer_and_a_real_reason(people):
    draft = submit(author=people["writer"], body=BLOCKER_COPY)
    flag = blocker_of(draft)
    update = (
        "UPDATE reviewapp_flag SET status = 'overridden', overridden_by_id = %s, override_reason = %s "
        "WHERE id = %s"
    )
    with refused("flag_override"):
        sql(update, None, REASON, flag.pk)
    with refused("flag_override"):
        sql(update, people["writer"].pk, REASON, flag.pk)
    for reason in (
        "",
        "ok ok ok!!",
        "\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301",
        " " * 20,
    ):
        with refused("flag_override"):
            sql(update, people["reviewer"].pk, reason, flag.pk)
    sql(update, people["reviewer"].pk, REASON, flag.pk)  # what the workflow writes is allowed


def test_flags_of_a_decided_version_are_frozen(people):
    draft = submit(author=people["writer"], body=BLOCKER_COPY)
    flag = blocker_of(draft)
    workflow.decide(
        draft,
        reviewer=people["reviewer"],
        kind="approve",
        version=1,
        overrides=[workflow.Override(flag.pk, REASON)],
    )
    with refused("flag_frozen"):
        sql(
            "UPDATE reviewapp_flag SET override_reason = %s WHERE id = %s",
            "Rewritten after the fact, sorry.",
            flag.pk,
        )
    with refused("flag_frozen"):
        sql("DELETE FROM reviewapp_flag WHERE version_id = %s", flag.version_id)
    with refused("flag_frozen"):
        sql(
            'INSERT INTO reviewapp_flag (version_id, category, rule, severity, start, "end", text, message, '
            "suggestion, reference, status, override_reason) "
            "VALUES (%s, 'pii', 'pii.email', 'warning', 0, 4, 'Clin', 'm', '', '', 'open', '')",
            flag.version_id,
        )


def test_a_flag_category_never_changes_so_no_claim_clears_a_manipulation_blocker(people):
    """The attack: relabel a manipulation blocker as unverifiable, file a claim in SQL stating it, clear
    it with the claim, approve with no override."""
    draft = submit(author=people["writer"], body="Only 2 left, so hurry!")
    flag = draft.current_version.flags.get(category="manipulation", severity="blocker")
    with refused("flag_found"):
        sql("UPDATE reviewapp_flag SET category = 'unverifiable' WHERE id = %s", flag.pk)
    with refused("decision_blockers"):
        insert_decision(draft, people["reviewer"])


def test_a_claim_is_filed_now_or_earlier_with_evidence_that_is_not_blank(people):
    from datetime import timedelta

    insert = (
        "INSERT INTO reviewapp_claim (text, evidence_source, evidence_url, document, owner_id, expires_on, "
        "created_at) VALUES ('clinically proven', %s, '', '', %s, %s, %s)"
    )
    later = timezone.now() + timedelta(days=400)
    with refused("a claim is filed now or earlier"):
        sql(insert, "Trial CT-88", people["writer"].pk, later.date() + timedelta(days=700), later)
    for blank in ("   ", "\t\n \r"):
        with refused("a claim is filed now or earlier"):
            sql(insert, blank, people["writer"].pk, timezone.localdate(), timezone.now())
    sql(insert, "Trial CT-88", people["writer"].pk, timezone.localdate(), timezone.now())


# --- django-q2 schedules -------------------------------------------------------------------------------


def test_schedules_run_only_what_setup_schedules_creates(db):
    from django_q.models import Schedule

    from reviewapp.management.commands.setup_schedules import SCHEDULES

    gate_of_schedules = importlib.import_module("reviewapp.migrations.0016_gate_holes")
    assert set(gate_of_schedules.SCHEDULED_FUNCTIONS) == {func for _, func, _ in SCHEDULES}
    call_command("setup_schedules", stdout=io.StringIO())
    schedule = Schedule.objects.get(name="webhooks.sweep")
    message = "schedules run only the functions setup_schedules creates"
    for column, value in [
        ("func", "subprocess.getoutput"),
        ("hook", "subprocess.getoutput"),
        ("args", "'rm -rf /'"),
        ("kwargs", "{}"),
    ]:
        with refused(message):
            sql(f"UPDATE django_q_schedule SET {column} = %s WHERE id = %s", value, schedule.pk)  # noqa: S608
    with refused(message):
        Schedule.objects.create(
            name="x", func="os.getenv", args="'AUDIT_KEY'", schedule_type=Schedule.MINUTES
        )
    # What the scheduler itself writes is allowed.
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now(), repeats=-1)


# --- Drafts and briefs -------------------------------------------------------------------------------


def test_a_draft_starts_without_text_or_approval(people):
    with refused("draft_insert"):
        sql(
            "INSERT INTO reviewapp_draft (title, channel, campaign, language, author_id, status, created_at, "
            "updated_at, risk) VALUES ('x', 'web', '', 'en', %s, 'approved', %s, %s, 0)",
            people["writer"].pk,
            timezone.now(),
            timezone.now(),
        )


def test_a_rejected_draft_never_goes_back_to_review(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    workflow.decide(
        draft, reviewer=people["reviewer"], kind="reject", version=1, comment="Off brand entirely."
    )
    for status in ("in_review", "approved", "changes_requested"):
        with refused("draft_final"):
            sql("UPDATE reviewapp_draft SET status = %s WHERE id = %s", status, draft.pk)


def test_status_moves_only_along_the_workflow(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    with refused("draft_arrow"):
        sql("UPDATE reviewapp_draft SET status = 'published' WHERE id = %s", draft.pk)
    workflow.decide(
        draft, reviewer=people["reviewer"], kind="request_changes", version=1, comment="Add a source."
    )
    with refused("draft_back"):
        sql("UPDATE reviewapp_draft SET status = 'in_review' WHERE id = %s", draft.pk)


def test_the_current_version_is_the_newest_and_authorship_never_changes(people):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    first = draft.current_version
    workflow.add_version(draft, author=people["writer"], body=SAFE_COPY + " Now vegan.")
    with refused("draft_newest"):
        sql("UPDATE reviewapp_draft SET current_version_id = %s WHERE id = %s", first.pk, draft.pk)
    with refused("draft_authorship"):
        sql("UPDATE reviewapp_draft SET author_id = %s WHERE id = %s", people["other_reviewer"].pk, draft.pk)
    brief = Brief.objects.create(requester=people["writer"], product="Serum")
    with refused("brief_requester"):
        sql("UPDATE reviewapp_brief SET requester_id = %s WHERE id = %s", people["reviewer"].pk, brief.pk)


@pytest.mark.parametrize("table", ["reviewapp_version", "reviewapp_decision", "reviewapp_auditevent"])
def test_history_is_never_deleted_in_sql(people, table):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    workflow.decide(
        draft, reviewer=people["reviewer"], kind="request_changes", version=1, comment="Add a source."
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        sql(f"DELETE FROM {table}")  # noqa: S608 - a fixed table name


# --- The role the app runs as (PostgreSQL) -----------------------------------------------------------


@pytest.fixture
def app_role(db):
    """A role as the README's "Database roles" creates it: owns nothing, may read and write rows.
    Created inside the test's transaction, so it goes with it."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/reviewapp (make test does)"
        )
    role = f"reviewapp_app_test_{os.getpid()}"
    sql(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")
    sql(f"GRANT USAGE ON SCHEMA public TO {role}")
    sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql(f"SET LOCAL ROLE {role}")  # undone with the test's transaction, like the role itself
    return role


def test_the_app_role_works_but_cannot_switch_the_gate_off(people, app_role):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    workflow.decide(draft, reviewer=people["reviewer"], kind="approve", version=1)
    draft.refresh_from_db()
    assert draft.status == "approved"
    for attack in [
        "ALTER TABLE reviewapp_decision DISABLE TRIGGER reviewapp_gate_decision",
        "ALTER TABLE reviewapp_flag DISABLE TRIGGER ALL",
        "DROP TRIGGER reviewapp_gate_draft_update ON reviewapp_draft",
        "DROP FUNCTION reviewapp_gate_decision() CASCADE",
        "TRUNCATE reviewapp_auditevent CASCADE",
        "SET session_replication_role = replica",
    ]:
        with pytest.raises(DatabaseError, match=r"must be owner|permission denied"), transaction.atomic():
            sql(attack)
    both = make_user(roles=["copywriter", "reviewer"])
    with refused("decision_own_work"):
        insert_decision(submit(author=both, body=SAFE_COPY), both)


def test_migrate_says_so_when_it_runs_as_the_owner_of_the_tables(postgres):
    out = io.StringIO()
    call_command("migrate", verbosity=1, stdout=out)
    assert "owner of the tables" in out.getvalue()
    assert "Database roles" in out.getvalue()


# --- What the workflow says when the database refuses ------------------------------------------------


def test_a_decision_the_database_refuses_is_a_conflict_saying_why(people):
    """A reviewer deactivated while their request runs: the workflow's checks saw the account as it
    was loaded, the trigger sees the row as it is."""
    draft = submit(author=people["writer"], body=SAFE_COPY)
    reviewer = people["reviewer"]
    reviewer.roles  # noqa: B018 - loaded before the account changes, as during a request
    sql("UPDATE reviewapp_user SET is_active = %s WHERE id = %s", False, reviewer.pk)
    with pytest.raises(workflow.Conflict) as refusal:
        workflow.decide(draft, reviewer=reviewer, kind="approve", version=1)
    assert refusal.value.code == "refused_by_database"
    assert "only an active reviewer" in refusal.value.message
    draft.refresh_from_db()
    assert draft.status == "in_review" and not draft.decisions.exists()


@pytest.mark.parametrize("reason", ["\u0301" * 12 + "ab", " . , ; : ! ? - " * 3, "\u200d" * 20, "ok ok ok!!"])
def test_an_override_reason_needs_ten_letters_or_digits(people, reason):
    draft = submit(author=people["writer"], body=BLOCKER_COPY)
    with pytest.raises(workflow.WorkflowError) as refusal:
        workflow.override_flag(blocker_of(draft), reviewer=people["reviewer"], reason=reason)
    assert refusal.value.code in ("override_reason_too_short", "invisible_character", "invalid")
    assert blocker_of(draft).status == "open"


@pytest.mark.parametrize("kind", ["request_changes", "reject"])
def test_a_required_comment_needs_ten_letters_or_digits(people, kind):
    draft = submit(author=people["writer"], body=SAFE_COPY)
    with pytest.raises(workflow.Invalid) as refusal:
        workflow.decide(draft, reviewer=people["reviewer"], kind=kind, version=1, comment="No!!! ...")
    assert refusal.value.code == "comment_too_short"
    workflow.decide(draft, reviewer=people["reviewer"], kind=kind, version=1, comment="Cite the trial.")


def test_reflag_keeps_a_blocker_the_rules_no_longer_find_or_find_milder(people):
    import dataclasses

    from reviewapp import flagging

    draft = submit(author=people["writer"], body=BLOCKER_COPY + " The best serum.")
    found = flagging.find_flags(draft.current_version.body)
    blocker = next(f for f in found if f.severity == "blocker")
    others = [f for f in found if f.severity != "blocker"]
    assert others  # the warning is replaced freely

    assert workflow.reflag(draft, found=[]) is True  # the rules changed: nothing found any more
    assert list(draft.current_version.flags.values_list("rule", "severity")) == [(blocker.rule, "blocker")]
    milder = [dataclasses.replace(blocker, severity="warning")]
    assert workflow.reflag(draft, found=milder) is False
    assert draft.current_version.flags.get().severity == "blocker"
    assert (
        AuditEvent.objects.filter(action="flags.recomputed", draft=draft).latest("seq").data["blockers_kept"]
        == 1
    )


def test_reflag_goes_on_past_a_draft_the_database_refuses(people, monkeypatch):
    import dataclasses

    from reviewapp.management.commands import reflag as command

    refused_draft = submit(author=people["writer"], body=BLOCKER_COPY)
    fine = submit(author=people["writer"], body=SAFE_COPY + " The best serum.")
    real = command.find_flags_many

    def changed_text_for_the_first(bodies, **kwargs):
        # What a flag found never changes: a finding at the same place with other text is refused.
        for body, found in zip(bodies, real(bodies, **kwargs), strict=True):
            yield [
                dataclasses.replace(f, text="tampered")
                if body == BLOCKER_COPY and f.severity == "blocker"
                else f
                for f in found
            ]

    Flag.objects.filter(version=fine.current_version).update(message="old message")
    monkeypatch.setattr(command, "find_flags_many", changed_text_for_the_first)
    out, err = io.StringIO(), io.StringIO()
    call_command("reflag", "--no-progress", stdout=out, stderr=err)
    assert f"Draft {refused_draft.pk}: The database refused this change" in err.getvalue()
    assert "1 refused by the database" in out.getvalue() and "1 changed" in out.getvalue()
    assert "tampered" not in err.getvalue()


def test_an_approval_and_a_concurrent_sql_change_of_its_flags_cannot_both_commit(people, postgres):
    """Written outside workflow.py (which locks the draft first): a transaction reopens the overridden
    blocker; an approval inserted meanwhile waits for it, then sees the blocker open and is refused."""
    import threading

    import psycopg

    draft = submit(author=people["writer"], body=BLOCKER_COPY)
    flag = blocker_of(draft)
    workflow.override_flag(flag, reviewer=people["reviewer"], reason=REASON)
    settings = connection.settings_dict
    conninfo = {
        "dbname": settings["NAME"],
        "user": settings["USER"],
        "host": settings["HOST"],
        "port": settings["PORT"] or 5432,
    }
    reopening = psycopg.connect(**conninfo)
    reopening.execute(
        "UPDATE reviewapp_flag SET status = 'open', overridden_by_id = NULL, override_reason = '', "
        "overridden_at = NULL WHERE id = %s",
        [flag.pk],
    )
    outcome = {}

    def approve():
        with psycopg.connect(**conninfo) as approving:
            try:
                approving.execute(
                    "INSERT INTO reviewapp_decision (draft_id, version_id, sha256, kind, comment, "
                    "reviewer_id, second_factor_verified, created_at) "
                    "VALUES (%s, %s, %s, 'approve', '', %s, false, now())",
                    [draft.pk, draft.current_version.pk, draft.current_version.sha256, people["reviewer"].pk],
                )
                approving.commit()
                outcome["result"] = "committed"
            except psycopg.errors.IntegrityError as error:
                outcome["result"] = str(error)

    approval = threading.Thread(target=approve)
    approval.start()
    approval.join(timeout=1.0)
    assert approval.is_alive(), "the approval waits for the transaction changing the version's flags"
    reopening.commit()
    reopening.close()
    approval.join(timeout=10)
    assert MESSAGES["decision_blockers"] in outcome["result"]
    assert not draft.decisions.exists()


def test_migrating_stops_at_a_schedule_setup_schedules_did_not_create(db):
    """A row already there when 0016 came would run on every tick: the migration names it and stops."""
    from django.apps import apps
    from django_q.models import Schedule

    migration = importlib.import_module("reviewapp.migrations.0016_gate_holes")
    call_command("setup_schedules", stdout=io.StringIO())
    migration.refuse_other_schedules(apps, None)  # only setup_schedules' rows: fine
    triggers = [name for table, name in installed_triggers() if table == "django_q_schedule"]
    with behind_trigger("django_q_schedule", *triggers):
        Schedule.objects.create(name="planted", func="subprocess.getoutput", args="'id'", schedule_type="I")
    with pytest.raises(RuntimeError, match=r"'planted' \(subprocess\.getoutput\)"):
        migration.refuse_other_schedules(apps, None)
