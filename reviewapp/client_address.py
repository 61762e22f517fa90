"""The address a request comes from, behind REVERSE_PROXY_TRUSTED_HOPS trusted reverse proxies.

With 0 (the default) it is REMOTE_ADDR, and X-Forwarded-For is ignored: anyone can send that header. With N,
it is the Nth address from the right of X-Forwarded-For. Each proxy appends the address it was connected
from, so the rightmost N entries were written by our proxies and the Nth from the right is the address that
connected to the outermost one; anything left of it was written by the client and proves nothing. This holds
only while the proxies are the only way in.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    hops = settings.REVERSE_PROXY_TRUSTED_HOPS
    if not hops:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")  # several headers arrive joined with commas
    forwarded = [entry.strip() for entry in header.split(",") if entry.strip()]
    if not forwarded:
        return remote  # not through the proxies: then REMOTE_ADDR is the client
    # Fewer entries than hops: the request came in past some of the proxies; every entry there is was
    # written by one of ours, and the leftmost is the farthest address they saw.
    chosen = forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    return _address(chosen) or remote


def _address(value: str) -> str | None:
    """A canonical IP address from an address as proxies write it (with a port, IPv6 in brackets), with
    IPv4-mapped IPv6 addresses as the IPv4 address they are; None for anything else."""
    value = value.strip()
    if value.startswith("["):  # [2001:db8::1]:443
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # 203.0.113.7:51234
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address).partition("%")[0]  # without an IPv6 zone (fe80::1%eth0), which databases refuse
