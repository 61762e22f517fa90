"""The whole gate in the database (SPEC §3, invariants 1-5 and 7), whatever path writes: ORM, admin,
a database shell, a task. workflow.py checks all of this first and says why in words; these triggers
are the last line of defence and refuse with a message starting "gate:".

- A decision names the current version of its own draft and that version's sha256; its reviewer is an
  active member of `reviewer`, not of `integration`, and did not write any version of the draft nor
  ask for its brief; the draft's status allows the decision; an approval finds every blocker flag of
  the version overridden by the approver with a reason of at least 10 letters or digits.
- A version's sha256 is the hash of its body; rejected and published drafts take no new versions; who
  wrote a version, a draft or asked for a brief never changes.
- Flags of a decided version are frozen (no insert, update or delete); what a flag found (version,
  rule, span, text) never changes; a blocker is never deleted, and it stops being a blocker only when
  a live claim whose wording contains its text clears an unverifiable finding; an override names an
  active reviewer (not an integration, not the draft's author) and a reason of 10 letters or digits.
- A draft's status moves only along SPEC §3's arrows, back to review only with a new version; a
  rejected or published draft never changes status, text or approval again; a draft's current version
  is its newest version.

Letters or digits: PostgreSQL's [[:alnum:]] under a UTF-8 locale (LC_CTYPE C.UTF-8 or a language's
UTF-8 locale; the README says so), on SQLite the same rule as models.letters_and_digits through the
functions of reviewapp/sqlfunctions.py. On SQLite, DELETE triggers also guard history (versions,
decisions, audit events, frozen flags), except while the test runner flushes (`reviewapp_flushing()`).

A later migration that rebuilds one of these tables on SQLite (most AddField/AlterField operations)
drops its triggers and must create them again: tests/test_gate_sql.py checks they all exist.
"""

from django.db import migrations

REFUSE = "USING ERRCODE = 'integrity_constraint_violation'"

# --- Conditions shared by both backends (NEW/OLD are the trigger's rows) ---------------------------


def _is_reviewer(user: str) -> str:
    return f"""(
        EXISTS (SELECT 1 FROM reviewapp_user u JOIN reviewapp_user_groups ug ON ug.user_id = u.id
                JOIN auth_group g ON g.id = ug.group_id
                WHERE u.id = {user} AND u.is_active AND g.name = 'reviewer')
        AND NOT EXISTS (SELECT 1 FROM reviewapp_user_groups ug JOIN auth_group g ON g.id = ug.group_id
                WHERE ug.user_id = {user} AND g.name = 'integration'))"""


def _own_work(user: str, draft: str) -> str:
    return f"""(
        EXISTS (SELECT 1 FROM reviewapp_draft d WHERE d.id = {draft} AND d.author_id = {user})
        OR EXISTS (SELECT 1 FROM reviewapp_version v WHERE v.draft_id = {draft} AND v.created_by_id = {user})
        OR EXISTS (SELECT 1 FROM reviewapp_draft d JOIN reviewapp_brief b ON b.id = d.brief_id
                   WHERE d.id = {draft} AND b.requester_id = {user}))"""


DECISION_NAMES_CURRENT_VERSION = """EXISTS (
    SELECT 1 FROM reviewapp_version v JOIN reviewapp_draft d ON d.id = v.draft_id
    WHERE v.id = NEW.version_id AND v.draft_id = NEW.draft_id AND d.current_version_id = NEW.version_id
      AND v.sha256 = NEW.sha256)"""
DECISION_STATUS_ALLOWS = """EXISTS (
    SELECT 1 FROM reviewapp_draft d WHERE d.id = NEW.draft_id AND (
      (NEW.kind IN ('approve', 'request_changes') AND d.status = 'in_review')
      OR (NEW.kind = 'reject' AND d.status IN ('in_review', 'changes_requested'))))"""


def _unanswered_blocker(length: str) -> str:
    return f"""(NEW.kind = 'approve' AND EXISTS (
        SELECT 1 FROM reviewapp_flag f WHERE f.version_id = NEW.version_id AND f.severity = 'blocker'
          AND NOT (f.status = 'overridden' AND f.overridden_by_id = NEW.reviewer_id
                   AND {length.format("f.override_reason")} >= 10)))"""


VERSION_IS_DECIDED = "EXISTS (SELECT 1 FROM reviewapp_decision x WHERE x.version_id = {}.version_id)"
DRAFT_IS_FINAL = "EXISTS (SELECT 1 FROM reviewapp_draft d WHERE d.id = NEW.draft_id AND d.status IN ('rejected', 'published'))"
FOUND_CHANGED = """(NEW.version_id <> OLD.version_id OR NEW.rule <> OLD.rule OR NEW.start <> OLD.start
    OR NEW."end" <> OLD."end" OR NEW.text <> OLD.text)"""


def _downgrade_without_claim(contains: str, today: str) -> str:
    return f"""(OLD.severity = 'blocker' AND NEW.severity <> 'blocker' AND NOT EXISTS (
        SELECT 1 FROM reviewapp_claim c WHERE c.id = NEW.claim_id AND c.expires_on >= {today}
          AND OLD.category = 'unverifiable' AND NEW.category = 'unverifiable'
          AND length(reviewapp_alnum(NEW.text)) > 0
          AND {contains.format("reviewapp_alnum(c.text)", "reviewapp_alnum(NEW.text)")} > 0))"""


def _override_written(length: str) -> str:
    return f"""(NEW.status = 'overridden' AND NOT (
        {_is_reviewer("NEW.overridden_by_id")}
        AND NOT {_own_work("NEW.overridden_by_id", "(SELECT v.draft_id FROM reviewapp_version v WHERE v.id = NEW.version_id)")}
        AND {length.format("NEW.override_reason")} >= 10))"""


STATUS_ARROWS = """(OLD.status = NEW.status
    OR (OLD.status = 'generating' AND NEW.status = 'in_review')
    OR (OLD.status = 'in_review' AND NEW.status IN ('changes_requested', 'approved', 'rejected'))
    OR (OLD.status = 'changes_requested' AND NEW.status IN ('in_review', 'rejected'))
    OR (OLD.status = 'approved' AND NEW.status IN ('published', 'in_review')))"""
BACK_TO_REVIEW_WITHOUT_NEW_TEXT = """(NEW.status = 'in_review' AND OLD.status IN ('changes_requested', 'approved')
    AND NEW.current_version_id IS NOT DISTINCT FROM OLD.current_version_id)"""
FINAL_DRAFT_CHANGED = """(OLD.status IN ('rejected', 'published') AND (NEW.status <> OLD.status
    OR NEW.current_version_id IS DISTINCT FROM OLD.current_version_id
    OR NEW.approved_version_id IS DISTINCT FROM OLD.approved_version_id
    OR NEW.approval_id IS DISTINCT FROM OLD.approval_id))"""
NOT_THE_NEWEST_VERSION = """(NEW.current_version_id IS DISTINCT FROM OLD.current_version_id AND NOT EXISTS (
    SELECT 1 FROM reviewapp_version v WHERE v.id = NEW.current_version_id AND v.draft_id = NEW.id
      AND v.number = (SELECT max(w.number) FROM reviewapp_version w WHERE w.draft_id = NEW.id)))"""
DRAFT_AUTHORSHIP_CHANGED = "(NEW.author_id <> OLD.author_id OR NEW.brief_id IS DISTINCT FROM OLD.brief_id)"
OVERRIDE_CHANGED = """(NEW.status IS DISTINCT FROM OLD.status OR NEW.overridden_by_id IS DISTINCT FROM OLD.overridden_by_id
    OR NEW.override_reason IS DISTINCT FROM OLD.override_reason)"""

# Messages are SQL string literals: no apostrophes.
MESSAGES = {
    "decision_version": "gate: a decision names the current version of its draft and its sha256",
    "decision_reviewer": "gate: only an active reviewer who is not an integration decides",
    "decision_own_work": "gate: nobody decides on a draft they wrote a version of or asked for",
    "decision_status": "gate: the status of the draft does not allow this decision",
    "decision_blockers": "gate: an approval needs every blocker overridden by the approver with a reason",
    "version_hash": "gate: the sha256 of a version is the hash of its body",
    "version_final": "gate: a rejected or published draft takes no new versions",
    "version_author": "gate: who wrote a version never changes",
    "flag_frozen": "gate: the flags of a decided version are frozen",
    "flag_found": "gate: what a flag found never changes",
    "flag_downgrade": "gate: a blocker is cleared only by a live claim stating its text",
    "flag_blocker_deleted": "gate: a blocker flag is never deleted",
    "flag_override": "gate: an override names an active reviewer and a reason of 10 letters or digits",
    "draft_insert": "gate: a draft starts without text or approval",
    "draft_final": "gate: a rejected or published draft never changes again",
    "draft_arrow": "gate: this status change is not a step of the workflow",
    "draft_back": "gate: a draft goes back to review only with a new version",
    "draft_newest": "gate: the current version of a draft is its newest version",
    "draft_authorship": "gate: who wrote or asked for a draft never changes",
    "brief_requester": "gate: who asked for a brief never changes",
    "history_deleted": "gate: history is never deleted",
}

# --- SQLite ------------------------------------------------------------------------------------------

# The same measures on both: reviewapp_alnum() is defined for each (see the module docstring).
LENGTH = "length(reviewapp_alnum({}))"
SQLITE_CONTAINS = "instr({}, {})"
SQLITE_TODAY = "date('now')"


def _sqlite_raise(message: str, condition: str) -> str:
    return f"SELECT RAISE(ABORT, '{MESSAGES[message]}') WHERE {condition};"


def _sqlite_trigger(name: str, when: str, table: str, *checks: tuple[str, str], where: str = "") -> str:
    body = "\n".join(_sqlite_raise(message, condition) for message, condition in checks)
    return f"CREATE TRIGGER {name} {when} ON {table} {'WHEN ' + where if where else ''} BEGIN {body} END"


SQLITE_TRIGGERS = {
    "reviewapp_gate_decision_insert": _sqlite_trigger(
        "reviewapp_gate_decision_insert",
        "BEFORE INSERT",
        "reviewapp_decision",
        ("decision_version", f"NOT {DECISION_NAMES_CURRENT_VERSION}"),
        ("decision_reviewer", f"NOT {_is_reviewer('NEW.reviewer_id')}"),
        ("decision_own_work", _own_work("NEW.reviewer_id", "NEW.draft_id")),
        ("decision_status", f"NOT {DECISION_STATUS_ALLOWS}"),
        ("decision_blockers", _unanswered_blocker(LENGTH)),
    ),
    "reviewapp_gate_version_insert": _sqlite_trigger(
        "reviewapp_gate_version_insert",
        "BEFORE INSERT",
        "reviewapp_version",
        ("version_hash", "NEW.sha256 IS DISTINCT FROM reviewapp_sha256(NEW.body)"),
        ("version_final", DRAFT_IS_FINAL),
    ),
    "reviewapp_gate_version_update": _sqlite_trigger(
        "reviewapp_gate_version_update",
        "BEFORE UPDATE",
        "reviewapp_version",
        ("version_author", "NEW.created_by_id IS DISTINCT FROM OLD.created_by_id"),
    ),
    "reviewapp_gate_flag_insert": _sqlite_trigger(
        "reviewapp_gate_flag_insert",
        "BEFORE INSERT",
        "reviewapp_flag",
        ("flag_frozen", VERSION_IS_DECIDED.format("NEW")),
        ("flag_override", _override_written(LENGTH)),
    ),
    "reviewapp_gate_flag_update": _sqlite_trigger(
        "reviewapp_gate_flag_update",
        "BEFORE UPDATE",
        "reviewapp_flag",
        ("flag_frozen", VERSION_IS_DECIDED.format("OLD")),
        ("flag_found", FOUND_CHANGED),
        ("flag_downgrade", _downgrade_without_claim(SQLITE_CONTAINS, SQLITE_TODAY)),
        (
            "flag_override",
            f"{OVERRIDE_CHANGED} AND {_override_written(LENGTH)}",
        ),
    ),
    "reviewapp_gate_flag_delete": _sqlite_trigger(
        "reviewapp_gate_flag_delete",
        "BEFORE DELETE",
        "reviewapp_flag",
        ("flag_frozen", VERSION_IS_DECIDED.format("OLD")),
        ("flag_blocker_deleted", "OLD.severity = 'blocker'"),
        where="reviewapp_flushing() = 0",
    ),
    "reviewapp_gate_draft_insert": _sqlite_trigger(
        "reviewapp_gate_draft_insert",
        "BEFORE INSERT",
        "reviewapp_draft",
        (
            "draft_insert",
            "NEW.status <> 'generating' OR NEW.current_version_id IS NOT NULL "
            "OR NEW.approved_version_id IS NOT NULL OR NEW.approval_id IS NOT NULL",
        ),
    ),
    "reviewapp_gate_draft_update": _sqlite_trigger(
        "reviewapp_gate_draft_update",
        "BEFORE UPDATE",
        "reviewapp_draft",
        ("draft_final", FINAL_DRAFT_CHANGED),
        ("draft_arrow", f"NOT {STATUS_ARROWS}"),
        ("draft_back", BACK_TO_REVIEW_WITHOUT_NEW_TEXT),
        ("draft_newest", NOT_THE_NEWEST_VERSION),
        ("draft_authorship", DRAFT_AUTHORSHIP_CHANGED),
    ),
    "reviewapp_gate_brief_update": _sqlite_trigger(
        "reviewapp_gate_brief_update",
        "BEFORE UPDATE",
        "reviewapp_brief",
        ("brief_requester", "NEW.requester_id IS DISTINCT FROM OLD.requester_id"),
    ),
    **{
        f"reviewapp_gate_{table}_delete": _sqlite_trigger(
            f"reviewapp_gate_{table}_delete",
            "BEFORE DELETE",
            f"reviewapp_{table}",
            ("history_deleted", "1"),
            where="reviewapp_flushing() = 0",
        )
        for table in ("version", "decision", "auditevent")
    },
}

# --- PostgreSQL ----------------------------------------------------------------------------------------

PG_CONTAINS = "strpos({}, {})"
PG_TODAY = "CURRENT_DATE"


def _pg_checks(*checks: tuple[str, str]) -> str:
    return "\n".join(
        f"IF {condition} THEN RAISE EXCEPTION '{MESSAGES[message]}' {REFUSE}; END IF;"
        for message, condition in checks
    )


def _pg_function(name: str, body: str, result: str = "NEW") -> str:
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
        {body}
        RETURN {result};
        END $$"""


POSTGRES_FUNCTIONS = {
    "reviewapp_alnum": """CREATE FUNCTION reviewapp_alnum(value text) RETURNS text LANGUAGE sql IMMUTABLE
        AS $$ SELECT lower(regexp_replace(coalesce(value, ''), '[^[:alnum:]]', '', 'g')) $$""",
    "reviewapp_gate_decision": _pg_function(
        "reviewapp_gate_decision",
        _pg_checks(
            ("decision_version", f"NOT {DECISION_NAMES_CURRENT_VERSION}"),
            ("decision_reviewer", f"NOT {_is_reviewer('NEW.reviewer_id')}"),
            ("decision_own_work", _own_work("NEW.reviewer_id", "NEW.draft_id")),
            ("decision_status", f"NOT {DECISION_STATUS_ALLOWS}"),
            ("decision_blockers", _unanswered_blocker(LENGTH)),
        ),
    ),
    "reviewapp_gate_version_insert": _pg_function(
        "reviewapp_gate_version_insert",
        _pg_checks(
            ("version_hash", "NEW.sha256 IS DISTINCT FROM encode(sha256(convert_to(NEW.body, 'UTF8')), 'hex')"),
            ("version_final", DRAFT_IS_FINAL),
        ),
    ),
    "reviewapp_gate_version_update": _pg_function(
        "reviewapp_gate_version_update",
        _pg_checks(("version_author", "NEW.created_by_id IS DISTINCT FROM OLD.created_by_id")),
    ),
    "reviewapp_gate_flag_insert": _pg_function(
        "reviewapp_gate_flag_insert",
        _pg_checks(
            ("flag_frozen", VERSION_IS_DECIDED.format("NEW")),
            ("flag_override", _override_written(LENGTH)),
        ),
    ),
    "reviewapp_gate_flag_update": _pg_function(
        "reviewapp_gate_flag_update",
        _pg_checks(
            ("flag_frozen", VERSION_IS_DECIDED.format("OLD")),
            ("flag_found", FOUND_CHANGED),
            ("flag_downgrade", _downgrade_without_claim(PG_CONTAINS, PG_TODAY)),
            (
                "flag_override",
                f"{OVERRIDE_CHANGED} AND {_override_written(LENGTH)}",
            ),
        ),
    ),
    "reviewapp_gate_flag_delete": _pg_function(
        "reviewapp_gate_flag_delete",
        _pg_checks(
            ("flag_frozen", VERSION_IS_DECIDED.format("OLD")),
            ("flag_blocker_deleted", "OLD.severity = 'blocker'"),
        ),
        result="OLD",
    ),
    "reviewapp_gate_draft_insert": _pg_function(
        "reviewapp_gate_draft_insert",
        _pg_checks(
            (
                "draft_insert",
                "NEW.status <> 'generating' OR NEW.current_version_id IS NOT NULL "
                "OR NEW.approved_version_id IS NOT NULL OR NEW.approval_id IS NOT NULL",
            )
        ),
    ),
    "reviewapp_gate_draft_update": _pg_function(
        "reviewapp_gate_draft_update",
        _pg_checks(
            ("draft_final", FINAL_DRAFT_CHANGED),
            ("draft_arrow", f"NOT {STATUS_ARROWS}"),
            ("draft_back", BACK_TO_REVIEW_WITHOUT_NEW_TEXT),
            ("draft_newest", NOT_THE_NEWEST_VERSION),
            ("draft_authorship", DRAFT_AUTHORSHIP_CHANGED),
        ),
    ),
    "reviewapp_gate_brief_update": _pg_function(
        "reviewapp_gate_brief_update",
        _pg_checks(("brief_requester", "NEW.requester_id IS DISTINCT FROM OLD.requester_id")),
    ),
}

# (trigger, table, when, function)
POSTGRES_TRIGGERS = [
    ("reviewapp_gate_decision", "reviewapp_decision", "BEFORE INSERT", "reviewapp_gate_decision"),
    ("reviewapp_gate_version_insert", "reviewapp_version", "BEFORE INSERT", "reviewapp_gate_version_insert"),
    ("reviewapp_gate_version_update", "reviewapp_version", "BEFORE UPDATE", "reviewapp_gate_version_update"),
    ("reviewapp_gate_flag_insert", "reviewapp_flag", "BEFORE INSERT", "reviewapp_gate_flag_insert"),
    ("reviewapp_gate_flag_update", "reviewapp_flag", "BEFORE UPDATE", "reviewapp_gate_flag_update"),
    ("reviewapp_gate_flag_delete", "reviewapp_flag", "BEFORE DELETE", "reviewapp_gate_flag_delete"),
    ("reviewapp_gate_draft_insert", "reviewapp_draft", "BEFORE INSERT", "reviewapp_gate_draft_insert"),
    ("reviewapp_gate_draft_update", "reviewapp_draft", "BEFORE UPDATE", "reviewapp_gate_draft_update"),
    ("reviewapp_gate_brief_update", "reviewapp_brief", "BEFORE UPDATE", "reviewapp_gate_brief_update"),
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for sql in SQLITE_TRIGGERS.values():
            schema_editor.execute(sql, None)
    elif vendor == "postgresql":
        for sql in POSTGRES_FUNCTIONS.values():
            schema_editor.execute(sql, None)
        for trigger, table, when, function in POSTGRES_TRIGGERS:
            schema_editor.execute(
                f"CREATE TRIGGER {trigger} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()", None
            )


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", None)
    elif vendor == "postgresql":
        for trigger, table, _when, _function in POSTGRES_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}", None)
        for name in reversed(POSTGRES_FUNCTIONS):
            arguments = "text" if name == "reviewapp_alnum" else ""
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}({arguments})", None)


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0009_approval_trigger")]

    operations = [migrations.RunPython(create, drop)]
