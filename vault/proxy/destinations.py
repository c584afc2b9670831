"""SSRF guard: a destination URL is accepted only as ``http(s)://host[:port][/base]`` without
userinfo; its host is resolved once, every address is vetted, and the request is then pinned
to the vetted address so DNS cannot answer differently between the check and the connect."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx

from vault.proxy.exceptions import DestinationRefused, RouteInvalid, UpstreamFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Cloud metadata services and other link-local hosts stay refused even when private networks
# are allowed: no payment gateway or shop service lives there, and they are SSRF's first target.
_ALWAYS_REFUSED = ("link-local", "multicast", "reserved", "unspecified")


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """Where to connect (the vetted IP) and who to present as (Host header, TLS SNI)."""

    base_url: httpx.URL  # the destination with its host replaced by the vetted IP
    host_header: str
    sni_hostname: str | None  # None when the destination is an IP literal or plain http
    address: IPAddress


def parse_destination(url: str, *, allow_http: bool) -> httpx.URL:
    """A destination base URL, or RouteInvalid saying which rule it breaks."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise RouteInvalid("the destination is not a valid URL") from exc
    if parsed.scheme not in ("https", "http"):
        raise RouteInvalid("the destination scheme must be https")
    if parsed.userinfo:
        raise RouteInvalid("the destination must not hold a user name or password")
    if not parsed.host:
        raise RouteInvalid("the destination has no host")
    if parsed.query or parsed.fragment:
        raise RouteInvalid("the destination must not hold a query or a fragment")
    if parsed.scheme == "http" and not allow_http:
        raise RouteInvalid(
            "the destination must use https (plain http needs RAMPART_VAULT_PROXY_ALLOW_HTTP)"
        )
    return parsed


def refusal_reason(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be reached, or None. Addresses embedding an IPv4 address
    (IPv4-mapped, NAT64) are judged by the IPv4 address they reach; 6to4 and Teredo
    addresses by themselves and by the IPv4 addresses they tunnel to."""
    translated = _translated_ipv4(address)
    # An IPv4-mapped or NAT64 address reaches exactly its IPv4 address: judge that one.
    kinds = _kinds(translated) if translated is not None else _kinds(address)
    for embedded in _tunnelled_ipv4(address):
        kinds.extend(_kinds(embedded))
    for kind in _ALWAYS_REFUSED:
        if kind in kinds:
            return kind
    if kinds and not allow_private:
        return kinds[0]
    return None


def _kinds(address: IPAddress) -> list[str]:
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        # IPv6 ::/8 is "reserved" and holds ::1 and ::, which have their own kinds above.
        ("reserved", address.is_reserved and not (address.is_loopback or address.is_unspecified)),
        ("private", address.is_private),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("not-global", not address.is_global),
    )
    return [name for name, hit in checks if hit]


def _translated_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _tunnelled_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses a 6to4 or Teredo address carries (its relay may deliver there)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.sixtofour] if address.sixtofour is not None else []
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UpstreamFailed("the destination's host name does not resolve") from exc
    # Scoped IPv6 results carry "%iface"; the scope is not part of the address.
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    )


def pin(url: str, *, allow_private: bool, allow_http: bool) -> PinnedTarget:
    """Vet ``url`` and every address its host resolves to; refuse if ANY is refused (an
    attacker's DNS could otherwise list one public address next to an internal one)."""
    parsed = parse_destination(url, allow_http=allow_http)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = resolve(parsed.host, port)
    if not addresses:
        raise UpstreamFailed("the destination's host name does not resolve")
    for address in addresses:
        reason = refusal_reason(address, allow_private=allow_private)
        if reason is not None:
            raise DestinationRefused(
                f"the destination resolves to a {reason} address, which proxies may not reach",
                reason=reason,
            )
    address = addresses[0]
    is_literal = _is_ip_literal(parsed.host)
    default_port = parsed.port is None
    host_header = parsed.netloc.decode("ascii")
    return PinnedTarget(
        base_url=parsed.copy_with(host=str(address), port=None if default_port else port),
        host_header=host_header,
        sni_hostname=None if is_literal or parsed.scheme != "https" else parsed.host,
        address=address,
    )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
