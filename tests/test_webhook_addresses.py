"""The webhook SSRF guard and IPv6 addresses that carry an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4,
NAT64): each is judged as the IPv4 address inside it, so loopback, private and link-local ones are refused
when an endpoint is added (the admin page, `add_webhook`) and when an attempt connects (the address an IP
literal or a host name resolves to), and the receiver on 127.0.0.1 never hears from them."""

import io
import ipaddress
import socket

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from reviewapp import webhooks
from reviewapp.models import WebhookEndpoint
from tests.conftest import make_user
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

CARRYING_NON_PUBLIC_IPV4 = [
    "::ffff:127.0.0.1",  # IPv4-mapped, dotted
    "::ffff:7f00:1",  # IPv4-mapped, hex
    "::7f00:1",  # IPv4-compatible, hex
    "::127.0.0.1",  # IPv4-compatible, dotted
    "::ffff:10.0.0.1",  # mapped private
    "::a9fe:a9fe",  # compatible 169.254.169.254 (cloud metadata)
    "::ffff:169.254.169.254",  # mapped metadata
    "::c0a8:101",  # compatible 192.168.1.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::169.254.169.254",  # NAT64 of the metadata address
]
PUBLIC = ["93.184.215.14", "2606:4700:4700::1111", "::ffff:93.184.215.14"]


def url_of(address: str, port: int = 80) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/hooks"


@pytest.fixture
def guarded(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(make_user(roles=["admin"]))
    return client


# --- When an endpoint is added --------------------------------------------------------------------


@pytest.mark.parametrize("address", CARRYING_NON_PUBLIC_IPV4)
def test_the_admin_page_refuses_an_endpoint_at_an_address_carrying_a_non_public_ipv4(
    guarded, admin_client, address
):
    response = admin_client.post("/webhooks/new", {"url": url_of(address)})
    assert response.status_code == 400
    assert "non-public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", CARRYING_NON_PUBLIC_IPV4)
def test_the_django_admin_refuses_moving_an_endpoint_to_such_an_address_on_its_form(
    guarded, admin_client, address
):
    endpoint, _ = webhooks.create_endpoint(url="https://cms.example.com/hooks")
    response = admin_client.post(
        f"/admin/reviewapp/webhookendpoint/{endpoint.pk}/change/",
        {"url": url_of(address), "description": "", "event_types": []},
    )
    assert response.status_code == 200  # the form again, saying why; no 500
    assert "non-public address" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://cms.example.com/hooks"


@pytest.mark.parametrize("address", CARRYING_NON_PUBLIC_IPV4)
def test_add_webhook_refuses_an_address_carrying_a_non_public_ipv4(guarded, address):
    with pytest.raises(CommandError, match="non-public address"):
        call_command("add_webhook", url_of(address), stdout=io.StringIO())
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "localhost", "a.localhost"]
)
def test_plain_non_public_hosts_are_refused_too(guarded, host):
    with pytest.raises(webhooks.WebhookError, match="non-public address"):
        webhooks.create_endpoint(url=f"http://{host}/hooks")


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_and_host_names_are_accepted(guarded, admin_client, address):
    assert admin_client.post("/webhooks/new", {"url": url_of(address)}).status_code == 200
    assert admin_client.post("/webhooks/new", {"url": "https://cms.example.com/hooks"}).status_code == 200
    assert WebhookEndpoint.objects.count() == 2


def test_the_setting_allows_them_for_development(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    endpoint, _ = webhooks.create_endpoint(url=url_of("::ffff:127.0.0.1"))
    assert endpoint.url == "http://[::ffff:127.0.0.1]:80/hooks"


# --- When an attempt connects ---------------------------------------------------------------------


@pytest.mark.parametrize("address", CARRYING_NON_PUBLIC_IPV4)
def test_an_ip_literal_carrying_a_non_public_ipv4_is_refused_before_connecting(guarded, address):
    """As for an endpoint added while the setting allowed it: the address getaddrinfo gives for the
    literal is checked before any socket opens."""
    with Receiver() as receiver:
        result = webhooks.post(url_of(address, receiver.port), b"{}", {})
    assert (result.status_code, result.error_kind) == (None, "address_refused")
    assert receiver.received == []


@pytest.fixture
def name_resolving_to(monkeypatch):
    """receiver.example.com resolves (in getaddrinfo, the resolver's only door) to the given address."""

    def point(address: str) -> None:
        real = socket.getaddrinfo

        def lookup(host, port, *args, **kwargs):
            if host == "receiver.example.com":
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", lookup)

    return point


@pytest.mark.parametrize("address", CARRYING_NON_PUBLIC_IPV4)
def test_a_host_name_resolving_to_an_address_carrying_a_non_public_ipv4_is_refused(
    guarded, name_resolving_to, address
):
    name_resolving_to(address)
    with Receiver() as receiver:
        result = webhooks.post(f"http://receiver.example.com:{receiver.port}/hooks", b"{}", {})
    assert (result.status_code, result.error_kind) == (None, "address_refused")
    assert receiver.received == []


def test_the_mapped_loopback_address_does_reach_the_receiver_without_the_guard(settings, name_resolving_to):
    """The refusals above stop a real request: unguarded, ::ffff:127.0.0.1 is the receiver itself."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    name_resolving_to("::ffff:127.0.0.1")
    with Receiver() as receiver:
        result = webhooks.post(f"http://receiver.example.com:{receiver.port}/hooks", b"{}", {})
        assert result.status_code == 200
        assert len(receiver.wait_for(1)) == 1


@pytest.mark.parametrize("address", CARRYING_NON_PUBLIC_IPV4)
def test_the_rule_judges_the_carried_ipv4(address):
    assert not webhooks.is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_the_rule_accepts_public_addresses(address):
    assert webhooks.is_public_address(ipaddress.ip_address(address))
