"""The admin site without superpowers, and every account change in the audit chain, through the admin's
pages with Django's test client: the `admin` role's exact permissions (accounts.ADMIN_PERMISSIONS, also
listed in the README), django-q2's pages read-only for admins and superusers alike, admins who are never
superusers, every admin change audited (superusers' too), passwords set by an admin (audited, sessions
ended, tokens revoked), activation, and API tokens that are revoked but never deleted, down to the SQL."""

import importlib
import json
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, RequestFactory
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Task

from reviewapp import accounts, webhooks
from reviewapp.management.commands.setup_schedules import SCHEDULES
from reviewapp.models import ApiToken, AuditEvent, User
from tests.conftest import api_as, make_user

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parent.parent / "README.md"
NEW_PASSWORD = "borrowed-lantern-orchard-91"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def admin_user(**kwargs) -> User:
    return make_user(roles=["admin"], **kwargs)


def superuser() -> User:
    """The operator's break-glass account, made the way the README says: createsuperuser."""
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    return User.objects.get(username="root")


def events(action: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("seq"))


def change_form_data(client: Client, user: User, **changes) -> dict:
    """What the user change form posts back unchanged, with `changes` applied."""
    form = client.get(f"/admin/reviewapp/user/{user.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if name in form.fields and value is not None}
    data["groups"] = [group.pk for group in user.groups.all()]
    data.update(changes)
    return {name: value for name, value in data.items() if value is not False}


# --- Item 1: the admin role's exact permissions ---------------------------------------------------


def test_the_admin_role_holds_exactly_the_documented_permissions():
    group = Group.objects.get(name="admin")
    held = {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }

    assert held == accounts.admin_permission_codenames()
    ada = admin_user()
    assert ada.is_staff and not ada.is_superuser
    assert User.objects.get(pk=ada.pk).get_all_permissions() == held
    assert not any(codename.split(".")[1].startswith("delete_") for codename in held)


def test_the_admin_site_shows_exactly_the_documented_models_and_no_more_than_the_role_allows():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered == set(accounts.ADMIN_PERMISSIONS)

    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(pk=admin_user().pk)
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        allowed = {
            action
            for action in ("view", "add", "change", "delete")
            if getattr(model_admin, f"has_{action}_permission")(request)
        }
        assert "view" in allowed, label
        assert allowed <= set(accounts.ADMIN_PERMISSIONS[label]), label


def test_the_readme_lists_the_admin_permission_table():
    readme = README.read_text()
    for label, actions in accounts.ADMIN_PERMISSIONS.items():
        assert f"`{label}`: {', '.join(actions)}" in readme, label
    listed = re.findall(r"^- `([a-z_]+\.[a-z]+)`: [a-z, ]+$", readme, flags=re.M)
    assert sorted(listed) == sorted(accounts.ADMIN_PERMISSIONS)


def test_migrate_gives_the_admin_group_its_permissions_again_after_they_were_taken():
    group = Group.objects.get(name="admin")
    group.permissions.set(Permission.objects.all())

    call_command("migrate", verbosity=0)

    assert {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()} == (
        accounts.admin_permission_codenames()
    )


# --- Item 1: no code from the web ------------------------------------------------------------------


@pytest.fixture(params=["admin", "superuser"])
def operator(request) -> User:
    return admin_user() if request.param == "admin" else superuser()


def test_no_admin_page_lets_an_admin_or_a_superuser_create_or_edit_a_schedule(operator):
    call_command("setup_schedules", verbosity=0)
    schedule = Schedule.objects.get(name="webhooks.sweep")
    client = signed_in(operator)
    attack = {
        "name": "pwn",
        "func": "subprocess.getoutput",
        "args": "'id > /tmp/pwned'",
        "schedule_type": "I",
        "minutes": "1",
        "repeats": "-1",
        "next_run_0": "2026-01-01",
        "next_run_1": "00:00:00",
    }
    base = "/admin/django_q/schedule/"

    assert client.get(base).status_code == 200  # visible, read-only
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}add/", attack).status_code == 403
    assert client.get(f"{base}{schedule.pk}/change/").status_code == 200
    assert client.post(f"{base}{schedule.pk}/change/", attack).status_code == 403
    assert client.post(f"{base}{schedule.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(base, {"action": "delete_selected", "_selected_action": [schedule.pk], "post": "yes"})

    assert set(Schedule.objects.values_list("name", "func")) == {(name, func) for name, func, _ in SCHEDULES}
    assert not AuditEvent.objects.filter(action__startswith="admin.").exists()


def test_no_admin_page_resubmits_or_edits_a_task(operator):
    now = timezone.now()
    failed = Task.objects.create(
        id="f" * 32,
        name="failed-one",
        func="math.floor",
        args=(1.5,),
        started=now,
        stopped=now,
        success=False,
    )
    client = signed_in(operator)

    for base in ("/admin/django_q/failure/", "/admin/django_q/success/", "/admin/django_q/ormq/"):
        assert client.get(base).status_code == 200, base
        assert client.get(f"{base}add/").status_code == 403, base
    resubmit = client.post(
        "/admin/django_q/failure/", {"action": "resubmit_task", "_selected_action": [failed.pk]}
    )
    assert (
        client.post(f"/admin/django_q/failure/{failed.pk}/change/", {"func": "os.system"}).status_code == 403
    )

    assert resubmit.status_code in (200, 302)
    assert not OrmQ.objects.exists()
    assert list(Task.objects.values_list("pk", "func")) == [(failed.pk, "math.floor")]
    assert Failure.objects.filter(pk=failed.pk).exists()


# --- Item 1: admins are never superusers ----------------------------------------------------------


def test_add_user_and_seed_demo_make_admins_staff_who_are_not_superusers(settings):
    call_command("add_user", "ada", role="admin", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.DEBUG = True
    settings.REQUIRE_2FA_FOR = []
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    for username in ("ada", "admin"):
        user = User.objects.get(username=username)
        assert user.is_staff and not user.is_superuser, username
        assert user.roles == {"admin"}
    assert not User.objects.filter(is_superuser=True).exists()


def test_the_migration_makes_admin_superusers_staff_and_keeps_break_glass_superusers():
    ada = admin_user()
    User.objects.filter(pk=ada.pk).update(is_superuser=True, is_staff=False)  # as add_user made them before
    root = superuser()
    migration = importlib.import_module("reviewapp.migrations.0015_admin_role_permissions")
    state = MigrationExecutor(connection).loader.project_state(("reviewapp", "0015_admin_role_permissions"))

    with transaction.atomic():
        migration.admins_without_superpowers(state.apps, None)

    ada.refresh_from_db()
    root.refresh_from_db()
    assert ada.is_staff and not ada.is_superuser
    assert root.is_superuser and root.is_staff


def test_an_admin_cannot_make_anyone_a_superuser_or_grant_permissions_one_by_one():
    ada = admin_user()
    client = signed_in(ada)
    data = change_form_data(
        client,
        ada,
        is_superuser="on",
        is_staff="on",
        user_permissions=list(Permission.objects.values_list("pk", flat=True)),
    )

    response = client.post(f"/admin/reviewapp/user/{ada.pk}/change/", data)

    assert response.status_code == 302, response.content[:2000]
    ada = User.objects.get(pk=ada.pk)
    assert not ada.is_superuser and not ada.user_permissions.exists()
    assert ada.get_all_permissions() == accounts.admin_permission_codenames()


def test_an_admin_cannot_change_a_superuser_or_set_their_password():
    root = superuser()
    client = signed_in(admin_user())

    assert client.get(f"/admin/reviewapp/user/{root.pk}/change/").status_code == 200  # viewable
    assert client.post(f"/admin/reviewapp/user/{root.pk}/change/", {"username": "x"}).status_code == 403
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    assert client.post(f"/admin/reviewapp/user/{root.pk}/password/", form).status_code == 403
    client.post("/admin/reviewapp/user/", {"action": "reset_second_factor", "_selected_action": [root.pk]})

    root.refresh_from_db()
    assert root.username == "root" and not root.check_password(NEW_PASSWORD)
    assert not events("user.password_set")


def test_adding_the_admin_role_makes_staff_and_taking_it_away_ends_staff_status():
    ada = admin_user()
    writer = make_user(roles=["copywriter"])
    client = signed_in(ada)
    admin_group = Group.objects.get(name="admin")

    client.post(
        f"/admin/reviewapp/user/{writer.pk}/change/",
        change_form_data(
            client, writer, groups=[*writer.groups.values_list("pk", flat=True), admin_group.pk]
        ),
    )
    writer.refresh_from_db()
    assert writer.is_staff and not writer.is_superuser
    client.post(
        f"/admin/reviewapp/user/{writer.pk}/change/",
        change_form_data(client, writer, groups=[Group.objects.get(name="copywriter").pk]),
    )
    writer.refresh_from_db()
    assert not writer.is_staff

    grant, removal = events("user.access_changed", object_id=str(writer.pk))
    assert grant.actor == ada and grant.data["after"]["is_staff"] and "admin" in grant.data["after"]["roles"]
    assert removal.actor == ada and not removal.data["after"]["is_staff"]


def test_every_admin_change_by_a_superuser_is_audited_with_field_names_only():
    root = superuser()
    writer = make_user(roles=["copywriter"])
    client = signed_in(root)

    response = client.post(
        f"/admin/reviewapp/user/{writer.pk}/change/",
        change_form_data(client, writer, email="cora.private@example.com", name="Cora Private"),
    )

    assert response.status_code == 302, response.content[:2000]
    (event,) = events("admin.changed", object_id=str(writer.pk))
    assert event.actor == root and event.object_type == "user"
    assert event.data["superuser"] is True and event.data["model"] == "reviewapp.user"
    assert set(event.data["fields"]) == {"Email address", "Full name"}
    stored = json.dumps([e.data for e in AuditEvent.objects.all()])
    assert "cora.private" not in stored and "Cora Private" not in stored


# --- Item 2: passwords, activation ----------------------------------------------------------------


def test_a_password_set_by_an_admin_is_audited_naming_them_and_ends_the_users_sessions_and_tokens():
    ada = admin_user()
    victim = make_user(roles=["reviewer"], password="the-old-password-1234")
    victims_browser = signed_in(victim)
    victims_api = api_as(victim)
    accounts.issue_token(victim, name="second")
    assert victims_browser.get("/mine").status_code == 200
    admins_browser = signed_in(ada)

    response = admins_browser.post(
        f"/admin/reviewapp/user/{victim.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content[:2000]
    (event,) = events("user.password_set")
    assert event.actor == ada and event.object_id == str(victim.pk)
    assert event.data == {"usable": True, "own": False, "sessions_ended": 1, "tokens_revoked": 2}
    revoked = events("token.revoked")
    assert len(revoked) == 2 and all(e.actor == ada for e in revoked)
    assert not ApiToken.objects.filter(user=victim, revoked_at__isnull=True).exists()
    assert victims_api.get("/drafts").status_code == 401
    # Deleted, not only made stale by the new password (Django would flush it at its next request).
    assert not any(s.get_decoded().get("_auth_user_id") == str(victim.pk) for s in Session.objects.all())
    assert victims_browser.get("/mine").status_code == 302  # signed out
    assert admins_browser.get("/admin/").status_code == 200  # the admin's own session goes on
    assert NEW_PASSWORD not in json.dumps([e.data for e in AuditEvent.objects.all()])


def test_an_admin_setting_their_own_password_keeps_their_session_and_tokens():
    ada = admin_user()
    accounts.issue_token(ada)
    client = signed_in(ada)
    other_session = signed_in(ada)

    client.post(
        f"/admin/reviewapp/user/{ada.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    (event,) = events("user.password_set")
    assert event.actor == ada and event.data["own"] and event.data["sessions_ended"] == 1
    assert client.get("/admin/").status_code == 200
    assert other_session.get("/admin/").status_code == 302
    assert ApiToken.objects.filter(user=ada, revoked_at__isnull=True).exists()


def test_a_password_saved_outside_the_admin_is_audited_with_no_actor(settings):
    writer = make_user(roles=["copywriter"], password="the-old-password-1234")

    writer.set_password(NEW_PASSWORD)  # what a shell or `manage.py changepassword` does
    writer.save()

    (event,) = events("user.password_set")
    assert event.actor is None and event.object_id == str(writer.pk)
    assert event.data == {"usable": True, "own": False, "via": "outside the admin"}
    # Signing in with a hash of an older hasher re-hashes the password: that is no password change.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    signed = Client().post("/login/", {"username": writer.username, "password": NEW_PASSWORD})
    assert signed.status_code == 302
    writer.refresh_from_db()
    assert writer.password.startswith("pbkdf2_sha256$")
    assert len(events("user.password_set")) == 1


def test_disabling_password_sign_in_is_audited_too():
    ada = admin_user()
    victim = make_user(roles=["copywriter"], password="the-old-password-1234")

    signed_in(ada).post(
        f"/admin/reviewapp/user/{victim.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )

    victim.refresh_from_db()
    assert not victim.has_usable_password()
    (event,) = events("user.password_set")
    assert event.actor == ada and event.data["usable"] is False


def test_deactivating_and_activating_a_user_is_audited_naming_the_admin():
    ada = admin_user()
    writer = make_user(roles=["copywriter"])
    client = signed_in(ada)

    client.post(
        f"/admin/reviewapp/user/{writer.pk}/change/", change_form_data(client, writer, is_active=False)
    )
    writer.refresh_from_db()
    assert not writer.is_active
    client.post(
        f"/admin/reviewapp/user/{writer.pk}/change/", change_form_data(client, writer, is_active="on")
    )

    off, on = events("user.access_changed", object_id=str(writer.pk))
    assert off.actor == ada and off.data["before"]["is_active"] and not off.data["after"]["is_active"]
    assert on.actor == ada and on.data["after"]["is_active"]


def test_users_are_never_deleted_from_the_admin(operator):
    writer = make_user(roles=["copywriter"])
    client = signed_in(operator)

    assert client.post(f"/admin/reviewapp/user/{writer.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(
        "/admin/reviewapp/user/",
        {"action": "delete_selected", "_selected_action": [writer.pk], "post": "yes"},
    )

    assert User.objects.filter(pk=writer.pk).exists()


# --- Item 2: tokens are revoked, never deleted ----------------------------------------------------


def test_tokens_can_only_be_revoked_in_the_admin_and_revoking_is_audited(operator):
    owner = make_user(roles=["integration"])
    accounts.issue_token(owner)
    token = ApiToken.objects.get(user=owner)
    client = signed_in(operator)
    base = "/admin/reviewapp/apitoken/"

    changelist = client.get(base)
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    assert client.post(f"{base}{token.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(base, {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"})
    assert ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).exists()

    response = client.post(base, {"action": "revoke", "_selected_action": [token.pk]})

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    (event,) = events("token.revoked")
    assert event.actor == operator and event.data == {"user": owner.pk, "prefix": token.prefix}


def test_the_database_refuses_to_delete_a_token_or_bring_a_revoked_one_back():
    owner = make_user(roles=["integration"])
    accounts.issue_token(owner)
    token = ApiToken.objects.get(user=owner)

    with (
        pytest.raises(IntegrityError, match="never deleted"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM reviewapp_apitoken WHERE id = %s", [token.pk])
    with pytest.raises(IntegrityError, match="never deleted"), transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).delete()
    accounts.revoke_token(token, actor=None)
    with (
        pytest.raises(IntegrityError, match="stays revoked"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE reviewapp_apitoken SET revoked_at = NULL WHERE id = %s", [token.pk])
    with (
        pytest.raises(IntegrityError, match="stays revoked"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE reviewapp_apitoken SET digest = %s WHERE id = %s", ["0" * 64, token.pk])

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiToken.objects.filter(pk=token.pk).exists()
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())  # ordinary updates go on


# --- Item 2: webhook endpoints --------------------------------------------------------------------


def test_webhook_endpoint_changes_in_the_admin_are_audited_naming_the_admin():
    ada = admin_user()
    endpoint, _ = webhooks.create_endpoint(url="https://cms.example.com/hooks")
    client = signed_in(ada)

    client.post(
        f"/admin/reviewapp/webhookendpoint/{endpoint.pk}/change/",
        {
            "url": "https://cms.example.com/v2/hooks",
            "description": "CMS v2",
            "event_types": ["copy.published"],
        },
    )
    client.post("/admin/reviewapp/webhookendpoint/", {"action": "disable", "_selected_action": [endpoint.pk]})

    (updated,) = events("webhook.endpoint_updated")
    assert updated.actor == ada and updated.object_id == str(endpoint.pk)
    (changed,) = events("admin.changed", object_id=str(endpoint.pk))
    assert changed.actor == ada and changed.data["superuser"] is False
    assert events("webhook.endpoint_disabled")[0].actor == ada
    assert "cms.example.com" not in json.dumps(changed.data)


def test_an_admin_makes_neither_themselves_nor_someone_whose_password_they_chose_a_reviewer():
    reviewer_group = Group.objects.get(name="reviewer")
    ada, bea = admin_user(), admin_user()
    client = signed_in(ada)

    own = client.post(
        f"/admin/reviewapp/user/{ada.pk}/change/",
        change_form_data(client, ada, groups=[*ada.groups.values_list("pk", flat=True), reviewer_group.pk]),
    )
    assert own.status_code == 200 and "cannot give yourself the reviewer role" in own.content.decode()
    assert not ada.groups.filter(name="reviewer").exists()

    cora = make_user(roles=["copywriter"])
    password = "borrowed-lantern-orchard-91"
    form = {"password1": password, "password2": password, "usable_password": "true"}
    assert client.post(f"/admin/reviewapp/user/{cora.pk}/password/", form).status_code == 302
    grant = change_form_data(
        client, cora, groups=[*cora.groups.values_list("pk", flat=True), reviewer_group.pk]
    )
    refused = client.post(f"/admin/reviewapp/user/{cora.pk}/change/", grant)
    assert (
        refused.status_code == 200
        and "another admin gives them the reviewer role" in refused.content.decode()
    )
    assert not cora.groups.filter(name="reviewer").exists()

    other = signed_in(bea)
    granted = other.post(
        f"/admin/reviewapp/user/{cora.pk}/change/", change_form_data(other, cora, groups=grant["groups"])
    )
    assert granted.status_code == 302
    assert cora.groups.filter(name="reviewer").exists()
