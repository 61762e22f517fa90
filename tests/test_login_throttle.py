"""Sign-in throttling through the real sign-in page (reviewapp/login_throttle.py on django-axes): per username
and address, per address (one password against many usernames), per username from any address, a lockout
that doubles and is capped, attempts during a lockout that do not move its end, and the client address
behind REVERSE_PROXY_TRUSTED_HOPS proxies. Time passes by moving axes' failure records back."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F, Sum
from django.test import Client, RequestFactory

from reviewapp.client_address import client_address
from reviewapp.login_throttle import throttle_address
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "plum-harbour-lantern-42"
WRONG = "wrong-guess"
MINUTE = 60


@pytest.fixture
def rhea(db):
    return make_user(roles=["reviewer"], username="rhea", password=PASSWORD)


def sign_in(username: str, password: str = WRONG, *, address: str = "198.51.100.1", **headers):
    return Client(REMOTE_ADDR=address, headers=headers).post(
        "/login/", {"username": username, "password": password}
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/"


def locked_for(response) -> int:
    """Seconds the lockout page says are left (Retry-After); fails the test when it is not that page."""
    assert response.status_code == 429, response.status_code
    assert "Too many failed sign-ins" in response.content.decode()
    return int(response["Retry-After"])


def minutes_pass(minutes: float) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


def recorded_failures() -> int:
    return AccessAttempt.objects.aggregate(total=Sum("failures_since_start"))["total"] or 0


def fail_until_locked(username: str, **kwargs) -> int:
    for attempt in range(1, settings.LOGIN_FAILURE_LIMIT):
        assert sign_in(username, **kwargs).status_code == 200, attempt
    return locked_for(sign_in(username, **kwargs))


def test_one_password_against_many_usernames_from_one_address_is_locked(rhea):
    limit = settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS
    for number in range(1, limit):
        assert sign_in(f"user{number}", "Spring2026!").status_code == 200, number
    assert locked_for(sign_in(f"user{limit}", "Spring2026!")) == 15 * MINUTE

    # The address is locked for every username, the right password included; elsewhere rhea signs in.
    assert locked_for(sign_in("rhea", PASSWORD)) > 14 * MINUTE
    assert signed_in(sign_in("rhea", PASSWORD, address="198.51.100.2"))


def test_one_username_from_many_addresses_is_locked(rhea):
    limit = settings.LOGIN_FAILURE_LIMIT_PER_USERNAME
    for number in range(1, limit):
        assert sign_in("rhea", address=f"203.0.113.{number}").status_code == 200, number
    assert locked_for(sign_in("rhea", address=f"203.0.113.{limit}")) == 15 * MINUTE

    # rhea is locked from any address, even with her password; other people from those addresses are not.
    assert locked_for(sign_in("rhea", PASSWORD, address="192.0.2.50")) > 14 * MINUTE
    make_user(roles=["copywriter"], username="cora", password=PASSWORD)
    assert signed_in(sign_in("cora", PASSWORD, address="203.0.113.1"))


def test_one_username_from_one_address_is_locked_first_and_only_there(rhea):
    assert fail_until_locked("rhea") == 15 * MINUTE
    assert locked_for(sign_in("rhea", PASSWORD)) > 14 * MINUTE
    assert signed_in(sign_in("rhea", PASSWORD, address="198.51.100.9"))  # her own computer elsewhere


def test_each_failure_after_a_lockout_doubles_the_next_one_up_to_the_cap(rhea):
    assert fail_until_locked("rhea") == 15 * MINUTE

    minutes_pass(14)
    assert 0 < locked_for(sign_in("rhea")) <= MINUTE
    minutes_pass(1.1)
    assert (
        locked_for(sign_in("rhea")) == 30 * MINUTE
    )  # the 6th failure: locked again at once, for twice as long
    minutes_pass(29)
    assert 0 < locked_for(sign_in("rhea")) <= MINUTE
    minutes_pass(1.1)
    assert locked_for(sign_in("rhea")) == 60 * MINUTE  # the 7th
    minutes_pass(60.1)
    assert locked_for(sign_in("rhea")) == 60 * MINUTE  # the 8th: the cap (LOGIN_LOCKOUT_MAX_MINUTES)
    minutes_pass(60.1)
    assert locked_for(sign_in("rhea")) == 60 * MINUTE
    assert recorded_failures() == 9

    minutes_pass(60.1)
    assert signed_in(sign_in("rhea", PASSWORD))  # the right password once the lockout is over
    assert recorded_failures() == 0  # and her failures are forgotten
    assert sign_in("rhea").status_code == 200


def test_attempts_during_a_lockout_do_not_move_its_end(rhea):
    assert fail_until_locked("rhea") == 15 * MINUTE
    minutes_pass(10)
    for _ in range(30):  # a script hammering on, with wrong passwords and the right one
        left = locked_for(sign_in("rhea"))
        assert 4 * MINUTE < left <= 5 * MINUTE
    assert 4 * MINUTE < locked_for(sign_in("rhea", PASSWORD)) <= 5 * MINUTE
    assert recorded_failures() == settings.LOGIN_FAILURE_LIMIT  # none of them counted

    minutes_pass(5.1)
    assert signed_in(sign_in("rhea", PASSWORD))  # 15 minutes after the failure that caused it


def test_signing_in_to_ones_own_account_does_not_reset_the_address_count(rhea):
    """Only the username's failures are forgotten on success: a sprayer with an account of their own
    cannot clear the address's count by signing in between guesses."""
    make_user(roles=["copywriter"], username="mallory", password=PASSWORD)
    limit = settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS
    for number in range(1, limit):
        assert sign_in(f"user{number}").status_code == 200
        if number % 4 == 0:
            assert signed_in(sign_in("mallory", PASSWORD))
    assert locked_for(sign_in(f"user{limit}")) == 15 * MINUTE


# --- The client's address behind proxies ----------------------------------------------------------


def test_x_forwarded_for_is_ignored_without_trusted_hops(settings, rhea):
    settings.REVERSE_PROXY_TRUSTED_HOPS = 0
    for number in range(1, settings.LOGIN_FAILURE_LIMIT):
        response = sign_in("rhea", address="198.51.100.1", x_forwarded_for=f"203.0.113.{number}")
        assert response.status_code == 200
    assert locked_for(sign_in("rhea", address="198.51.100.1", x_forwarded_for="203.0.113.99")) > 0
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.1"}


def test_with_one_trusted_hop_the_proxys_entry_counts_and_a_spoofed_one_does_not(settings, rhea):
    settings.REVERSE_PROXY_TRUSTED_HOPS = 1
    proxy = "10.0.0.2"
    for number in range(1, settings.LOGIN_FAILURE_LIMIT):
        # The client writes whatever it likes on the left; the proxy appends the address it saw.
        spoofed = f"192.0.2.{number}, 203.0.113.7"
        assert sign_in("rhea", address=proxy, x_forwarded_for=spoofed).status_code == 200
    assert locked_for(sign_in("rhea", address=proxy, x_forwarded_for="192.0.2.99, 203.0.113.7")) > 0
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}

    # Another client through the same proxy is another address: rhea signs in from there.
    assert signed_in(sign_in("rhea", PASSWORD, address=proxy, x_forwarded_for="203.0.113.8"))


@pytest.mark.parametrize(
    ("hops", "remote", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "203.0.113.7", "198.51.100.1"),
        (1, "10.0.0.2", "192.0.2.1, 203.0.113.7", "203.0.113.7"),
        (2, "10.0.0.2", "192.0.2.1, 203.0.113.7, 10.0.0.3", "203.0.113.7"),
        (2, "10.0.0.2", "203.0.113.7", "203.0.113.7"),  # came in past the outer proxy
        (1, "10.0.0.2", "", "10.0.0.2"),  # not through the proxy at all
        (1, "10.0.0.2", "203.0.113.7:51234", "203.0.113.7"),
        (1, "10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
        (1, "10.0.0.2", "unknown", "10.0.0.2"),  # nonsense from a proxy: the proxy's own address
        (0, "::ffff:198.51.100.1", "", "198.51.100.1"),  # a dual-stack socket's IPv4 client
        (0, "fe80::1%eth0", "", "fe80::1"),
    ],
)
def test_the_client_address(settings, hops, remote, forwarded, expected):
    settings.REVERSE_PROXY_TRUSTED_HOPS = hops
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_ipv6_clients_count_by_their_64(rhea):
    """One subscriber usually holds a whole /64: new addresses from it are the same address to the
    throttle."""
    request = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    assert throttle_address(request) == "2001:db8:1:2::"
    for number in range(1, settings.LOGIN_FAILURE_LIMIT):
        assert sign_in("rhea", address=f"2001:db8:1:2::{number:x}").status_code == 200
    assert locked_for(sign_in("rhea", address="2001:db8:1:2:ffff::1")) > 0
    assert signed_in(sign_in("rhea", PASSWORD, address="2001:db8:1:3::1"))
