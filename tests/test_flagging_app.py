"""The engine inside the app: claims library, flag_copy, reflag, and start-up validation of rule packs."""

import io
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.utils import timezone

from reviewapp import checks, flagging, workflow
from reviewapp.flagging import RulePackError, rules
from reviewapp.models import AuditEvent, Claim, Flag
from tests.conftest import make_user, stored_risk_is_current, submit

CLAIM_COPY = "Clinically proven to reduce redness in 14 days. Only 2 left!"


def _claim(*, owner, days_left: int, text: str = "clinically proven to reduce redness", **extra) -> Claim:
    return Claim.objects.create(
        text=text,
        evidence_source="Split-face trial, Dermatest GmbH, n=60, 2025",
        evidence_url="https://evidence.example.com/redness-trial.pdf",
        owner=owner,
        expires_on=timezone.localdate() + timedelta(days=days_left),
        **extra,
    )


def _establishment(draft):
    return draft.current_version.flags.get(rule="unverifiable.establishment_claim")


# --- claims library -------------------------------------------------------------------------------


def test_a_live_claim_downgrades_the_finding_to_info_with_a_link_to_its_evidence(copywriter):
    claim = _claim(owner=copywriter, days_left=30)
    draft = submit(author=copywriter, body=CLAIM_COPY)
    flag = _establishment(draft)
    assert flag.severity == "info"
    assert flag.claim == claim
    assert "https://evidence.example.com/redness-trial.pdf" in flag.message
    # The rest of the copy is still checked as usual.
    assert draft.current_version.flags.get(rule="manipulation.false_scarcity").severity == "blocker"


def test_an_expired_claim_clears_nothing(copywriter):
    _claim(owner=copywriter, days_left=-1)
    flag = _establishment(submit(author=copywriter, body=CLAIM_COPY))
    assert flag.severity == "blocker" and flag.claim is None


def test_a_claim_only_clears_the_sentence_that_states_it(copywriter):
    _claim(owner=copywriter, days_left=30)
    draft = submit(author=copywriter, body="Clinically proven to whiten teeth in a week.")
    assert _establishment(draft).severity == "blocker"


def test_a_claim_is_a_phrase_never_a_pattern(copywriter):
    """Regular-expression syntax in a claim is read as words: `(?s).+` clears nothing, and a
    backtracking pattern costs nothing on a crafted submission."""
    _claim(owner=copywriter, days_left=30, text="(?s).+ clinically .* proven")
    assert _establishment(submit(author=copywriter, body=CLAIM_COPY)).severity == "blocker"
    hostile = flagging.Claim(text="(a+)+b", evidence="x")
    assert hostile.spans("a" * 40 + "!") == []
    assert hostile.spans("Our a b offer") == [(4, 7)]


def test_a_claim_clears_only_findings_inside_its_wording(copywriter):
    # The finding is "proven to reduce"; this claim's wording shares only "reduce" with it.
    _claim(owner=copywriter, days_left=30, text="reduce redness in 14 days")
    assert _establishment(submit(author=copywriter, body=CLAIM_COPY)).severity == "blocker"


def test_a_claim_never_clears_manipulation(copywriter):
    # One sentence, and the claim's wording covers both findings.
    wording = "Clinically proven to reduce redness, only 2 left"
    _claim(owner=copywriter, days_left=30, text=wording)
    draft = submit(author=copywriter, body=wording + "!")
    assert _establishment(draft).severity == "info"
    assert draft.current_version.flags.get(rule="manipulation.false_scarcity").severity == "blocker"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("text", "a b", "text"),
        ("evidence_source", "   ", "evidence_source"),
        ("expires_on", 365 * 2 + 2, "expires_on"),
    ],
)
def test_a_claim_names_its_evidence_and_expires_within_two_years(copywriter, field, value, problem):
    from django.core.exceptions import ValidationError

    claim = Claim(
        text="clinically proven to reduce redness",
        evidence_source="Split-face trial",
        owner=copywriter,
        expires_on=timezone.localdate() + timedelta(days=30),
    )
    setattr(claim, field, timezone.localdate() + timedelta(days=value) if field == "expires_on" else value)
    with pytest.raises(ValidationError) as refused:
        claim.full_clean()
    assert set(refused.value.message_dict) == {problem}


def test_the_database_refuses_a_claim_without_evidence_or_beyond_two_years(copywriter):
    from django.db import IntegrityError, transaction

    with transaction.atomic(), pytest.raises(IntegrityError):
        _claim(owner=copywriter, days_left=365 * 2 + 2)
    with transaction.atomic(), pytest.raises(IntegrityError):
        Claim.objects.create(
            text="clinically proven", evidence_source="", owner=copywriter, expires_on=timezone.localdate()
        )
    claim = _claim(owner=copywriter, days_left=30)
    with transaction.atomic(), pytest.raises(IntegrityError, match="2 years"):
        Claim.objects.filter(pk=claim.pk).update(expires_on=timezone.localdate() + timedelta(days=365 * 3))
    with transaction.atomic(), pytest.raises(IntegrityError, match="2 years"):
        # Moving the filing time forward would stretch the two years.
        Claim.objects.filter(pk=claim.pk).update(created_at=timezone.now() + timedelta(days=365))


@pytest.fixture
def admin_user(db, client):
    admin = make_user(roles=["admin"])
    client.force_login(admin)
    return admin


def test_filing_changing_and_expiring_a_claim_through_the_admin_is_audited(client, admin_user, copywriter):
    day = timezone.localdate() + timedelta(days=90)
    form = {
        "text": "clinically proven to reduce redness",
        "evidence_source": "Split-face trial, n=60",
        "evidence_url": "",
        "document": "",
        "owner": copywriter.pk,
        "expires_on": day.isoformat(),
    }
    assert client.post("/admin/reviewapp/claim/add/", form).status_code == 302
    claim = Claim.objects.get()
    created = AuditEvent.objects.get(action="claim.created")
    assert (created.actor, created.object_id) == (admin_user, str(claim.pk))
    assert "redness" not in json.dumps(created.data)  # ids, dates and field names only

    response = client.post(f"/admin/reviewapp/claim/{claim.pk}/change/", {**form, "document": "Filed as T-7"})
    assert response.status_code == 302
    changed = AuditEvent.objects.get(action="claim.changed")
    assert changed.data["changed"] == ["document"] and changed.actor == admin_user

    refused = client.post("/admin/reviewapp/claim/add/", {**form, "expires_on": "2099-01-01"})
    assert refused.status_code == 200 and Claim.objects.count() == 1  # the form says why, nothing stored

    client.post("/admin/reviewapp/claim/", {"action": "expire_now", "_selected_action": [claim.pk]})
    claim.refresh_from_db()
    assert not claim.is_live
    assert AuditEvent.objects.filter(action="claim.expired", actor=admin_user).count() == 1
    assert _establishment(submit(author=copywriter, body=CLAIM_COPY)).severity == "blocker"


def test_claims_cannot_be_deleted_from_the_admin(client, admin_user, copywriter):
    claim = _claim(owner=copywriter, days_left=30)
    assert client.post(f"/admin/reviewapp/claim/{claim.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post("/admin/reviewapp/claim/", {"action": "delete_selected", "_selected_action": [claim.pk]})
    assert Claim.objects.filter(pk=claim.pk).exists()


def test_new_versions_see_a_claim_added_after_the_first_one(copywriter):
    draft = submit(author=copywriter, body=CLAIM_COPY)
    assert _establishment(draft).severity == "blocker"
    _claim(owner=copywriter, days_left=30)
    workflow.add_version(draft, author=copywriter, body=CLAIM_COPY + " Free returns.")
    draft.refresh_from_db()
    assert _establishment(draft).severity == "info"


def test_the_claims_library_is_in_the_admin(db):
    from django.contrib import admin

    assert admin.site.is_registered(Claim)


# --- reflag ---------------------------------------------------------------------------------------


def test_reflag_recomputes_undecided_drafts_and_never_touches_decided_ones(copywriter, reviewer):
    open_draft = submit(author=copywriter, body=CLAIM_COPY)
    decided = submit(author=copywriter, body=CLAIM_COPY, title="Decided")
    workflow.decide(decided, reviewer=reviewer, kind="request_changes", version=1, comment="Needs a source.")
    decided_flags = list(decided.current_version.flags.values_list("pk", "severity"))
    _claim(owner=copywriter, days_left=30)  # the library changes after both were flagged

    err = io.StringIO()
    out = io.StringIO()
    call_command("reflag", stdout=out, stderr=err)

    assert _establishment(open_draft).severity == "info"
    assert stored_risk_is_current(open_draft)  # the queue's sort key follows the new flags
    assert list(decided.current_version.flags.values_list("pk", "severity")) == decided_flags
    assert "1 changed" in out.getvalue()
    assert "draft" in err.getvalue()  # the tqdm progress bar
    assert AuditEvent.objects.filter(action="flags.recomputed", draft=open_draft).count() == 1

    out = io.StringIO()
    call_command("reflag", "--no-progress", stdout=out)
    assert "0 changed, 1 unchanged" in out.getvalue()


def test_reflag_keeps_an_override_on_a_flag_that_is_found_again(copywriter, reviewer):
    draft = submit(author=copywriter, body=CLAIM_COPY)
    scarcity = draft.current_version.flags.get(rule="manipulation.false_scarcity")
    workflow.override_flag(scarcity, reviewer=reviewer, reason="Stock count comes from the live feed.")
    _claim(owner=copywriter, days_left=30)
    call_command("reflag", "--no-progress", stdout=io.StringIO())
    scarcity.refresh_from_db()
    assert scarcity.status == "overridden"


# --- flag_copy ------------------------------------------------------------------------------------


def test_flag_copy_writes_one_line_per_input_in_order_and_reports_bad_lines(db, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b'{"id": "a", "text": "Only 2 left, hurry!"}\n'
        b"not json\n"
        b'{"id": 7, "text": 42}\n'
        b"\n"
        b'{"id": "b", "text": "A kettle with a steel body."}\n'
        b'{"id": "c", "text": "\xff broken"}\n'
        b'{"id": "d", "text": "Das ist das beste Angebot f\xc3\xbcr Sie, nur heute!"}\n'
    )
    out = io.StringIO()
    call_command("flag_copy", str(source), stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["id"] for line in lines] == ["a", None, 7, "b", None, "d"]
    assert {f["rule"] for f in lines[0]["flags"]} >= {
        "manipulation.false_scarcity",
        "manipulation.false_urgency",
    }
    assert set(lines[0]["flags"][0]) == {"start", "end", "category", "rule", "severity", "message"}
    assert "invalid JSON" in lines[1]["error"]
    assert "'text' must be a string" in lines[2]["error"]
    assert lines[3]["flags"] == []
    assert "UTF-8" in lines[4]["error"]
    assert [f["rule"] for f in lines[5]["flags"]] == ["language.unsupported"]
    text = "Only 2 left, hurry!"
    for flag in lines[0]["flags"]:
        assert 0 <= flag["start"] < flag["end"] <= len(text)


def test_flag_copy_reports_a_lone_surrogate_on_its_line_and_goes_on(db, tmp_path):
    # "\ud800" is valid JSON but no character: it used to crash the run and lose the whole batch
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "text": "Only 2 left!"}\n'
        '{"id": 2, "text": "\\ud800 Only 2 left"}\n'
        '{"id": "\\udc00", "text": "Hurry"}\n'
        '{"id": 4, "text": "Only 2 left\\u200b!"}\n',
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("flag_copy", str(source), stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("id") for line in lines] == [1, None, None, 4]
    assert "manipulation.false_scarcity" in {f["rule"] for f in lines[0]["flags"]}
    assert "'text' contains an invalid character (lone surrogate U+D800" in lines[1]["error"]
    assert "'id' contains an invalid character (lone surrogate U+DC00" in lines[2]["error"]
    assert {f["rule"] for f in lines[3]["flags"]} >= {
        "manipulation.false_scarcity",
        "manipulation.hidden_character",
    }


def test_flag_copy_fails_only_when_the_input_cannot_be_read(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("flag_copy", str(tmp_path / "missing.jsonl"), stdout=io.StringIO())


def test_flag_copy_applies_live_claims(copywriter, tmp_path):
    _claim(owner=copywriter, days_left=30)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "text": CLAIM_COPY}) + "\n")
    out = io.StringIO()
    call_command("flag_copy", str(source), stdout=out)
    flags = json.loads(out.getvalue())["flags"]
    assert [f["severity"] for f in flags if f["rule"] == "unverifiable.establishment_claim"] == ["info"]


# --- rule packs stop start-up when invalid --------------------------------------------------------


BAD_PACK = """
pack: broken
rules:
  - id: exaggeration.oops
    category: exaggeration
    severity: fatal
    message: A message that is long enough to pass.
    reference: Somewhere
    phrases: [oops]
"""


def test_an_invalid_rule_pack_stops_start_up_with_a_clear_message(tmp_path, monkeypatch):
    (tmp_path / "broken.yaml").write_text(BAD_PACK)
    monkeypatch.setattr(rules, "RULES_DIR", tmp_path)
    with pytest.raises(
        RulePackError, match=r"broken\.yaml is invalid: rules\.0 \(exaggeration\.oops\)\.severity"
    ):
        apps.get_app_config("reviewapp").ready()
    errors = checks.check_rule_packs(None)
    assert [error.id for error in errors] == ["reviewapp.E004"]
    assert "exaggeration.oops" in errors[0].msg


@pytest.mark.parametrize(
    ("snippet", "complaint"),
    [
        ("    patterns: [[{NOPE: x}]]\n", "invalid token pattern"),
        ("    unless: [no_such_condition]\n", "unknown condition"),
        ("    regex: ['(unclosed']\n", "does not compile"),
    ],
)
def test_rule_pack_validation_names_the_problem(tmp_path, snippet, complaint):
    pack = BAD_PACK.replace("severity: fatal", "severity: warning") + snippet
    (tmp_path / "pack.yaml").write_text(pack)
    with pytest.raises(RulePackError, match=complaint):
        rules.load_rules(tmp_path)


def test_duplicate_rule_ids_across_packs_are_refused(tmp_path):
    good = BAD_PACK.replace("severity: fatal", "severity: warning")
    (tmp_path / "a.yaml").write_text(good)
    (tmp_path / "b.yaml").write_text(good)
    with pytest.raises(RulePackError, match="defined in both"):
        rules.load_rules(tmp_path)


def test_flags_are_stored_with_offsets_into_the_version_body(copywriter):
    draft = submit(author=copywriter, body="<p>Only 3 left!</p> 🔥 The best kettle in the world.")
    body = draft.current_version.body
    stored = list(Flag.objects.filter(version=draft.current_version))
    assert stored
    for flag in stored:
        assert body[flag.start : flag.end] == flag.text


def test_the_draft_page_links_a_cleared_finding_to_its_evidence(copywriter, reviewer, client):
    _claim(owner=copywriter, days_left=30)
    draft = submit(author=copywriter, body=CLAIM_COPY)
    client.force_login(reviewer)

    page = client.get(f"/drafts/{draft.pk}").content.decode()

    assert "Substantiated claim on file: Split-face trial, Dermatest GmbH" in page
    assert 'href="https://evidence.example.com/redness-trial.pdf"' in page
