"""The proxies' pure parts: the SSRF guard (schemes, userinfo, every non-public address kind,
IPv4 hidden in IPv6, names resolving to loopback), field paths, path joining, response masking
and inbound signatures."""

from __future__ import annotations

import ipaddress
import time

import pytest

from core.sensitive import contains_card_number
from vault.proxy import signatures
from vault.proxy.destinations import parse_destination, pin, refusal_reason
from vault.proxy.exceptions import (
    DestinationRefused,
    ProxyBodyInvalid,
    ProxyPathInvalid,
    RouteInvalid,
    SignatureInvalid,
)
from vault.proxy.fields import locate, parse_path, string_slots
from vault.proxy.masking import mask_response_body
from vault.proxy.transport import join_path

PAN = "4111111111111111"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "not-global"),  # carrier-grade NAT
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address), allow_private=False) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address), allow_private=False) is None


def test_allowing_private_networks_keeps_metadata_and_multicast_refused() -> None:
    allowed = [
        refusal_reason(ipaddress.ip_address(a), allow_private=True)
        for a in ("127.0.0.1", "10.0.0.1", "::1", "::ffff:127.0.0.1")
    ]
    assert allowed == [None, None, None, None]
    for address in ("169.254.169.254", "fe80::1", "224.0.0.1", "0.0.0.0"):  # noqa: S104
        assert refusal_reason(ipaddress.ip_address(address), allow_private=True) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "https://10.0.0.5/pay",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://localhost/",  # a name resolving to loopback
        "https://localhost:8443/v1",
    ],
)
def test_pin_refuses_urls_reaching_internal_addresses(url: str) -> None:
    with pytest.raises(DestinationRefused) as refused:
        pin(url, allow_private=False, allow_http=True)
    assert refused.value.status == 403 and refused.value.extensions["reason"]


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://user@pay.example.com/", "user name"),
        ("https://user:pw@pay.example.com/", "user name"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://pay.example.com/", "scheme"),
        ("ftp://pay.example.com/", "scheme"),
        ("http://pay.example.com/", "https"),  # plain http not allowed here
        ("https://pay.example.com/?a=1", "query"),
        ("https:///nohost", "host"),
    ],
)
def test_destination_syntax_rules(url: str, rule: str) -> None:
    with pytest.raises(RouteInvalid) as invalid:
        parse_destination(url, allow_http=False)
    assert rule in invalid.value.detail


def test_pin_connects_to_the_vetted_ip_and_presents_the_name() -> None:
    target = pin("https://localhost:8443/v1", allow_private=True, allow_http=False)
    assert target.address.is_loopback
    assert target.base_url.host == str(target.address)  # connect to the IP resolved once...
    assert target.host_header == "localhost:8443"  # ...present the name in Host
    assert target.sni_hostname == "localhost"  # ...and in TLS SNI (certificate checked on it)
    assert target.base_url.port == 8443 and target.base_url.path == "/v1"
    literal = pin("https://[::1]/", allow_private=True, allow_http=False)
    assert literal.sni_hostname is None and literal.host_header == "[::1]"


def test_field_paths() -> None:
    document = {"card": {"number": "a"}, "items": [{"pan": "b"}, {"pan": None}, {"x": 1}]}
    assert [s.value for s in locate(document, parse_path("$.card.number"))] == ["a"]
    assert [s.path for s in string_slots(document, parse_path("$.items[*].pan"))] == [
        "$.items[0].pan"
    ]
    assert locate(document, parse_path("$.items[5].pan")) == []
    assert locate(document, parse_path("$.missing.number")) == []
    with pytest.raises(ProxyBodyInvalid):
        string_slots({"card": {"number": 4111}}, parse_path("$.card.number"))
    for bad in ("card.number", "$", "$..number", "$.a[-1].b", "$.a['b']", "$.items[*]"):
        with pytest.raises(RouteInvalid):
            parse_path(bad)


def test_join_path_stays_under_the_base() -> None:
    assert join_path("/v1/", "charges/ch_1") == "/v1/charges/ch_1"
    assert join_path("", "") == "/"
    for bad in ("../admin", "a/../../b", "a/./b", "%2e%2e/x", "a?b=1", "a#frag", "a\\b"):
        with pytest.raises(ProxyPathInvalid):
            join_path("/v1", bad)


def test_card_numbers_in_upstream_answers_are_masked() -> None:
    body = b'{"card":{"number":"4111111111111111","n":4111111111111111},"id":"ch_1","amt":1234}'
    masked, count = mask_response_body(body, "application/json")
    assert count == 2 and not contains_card_number(masked.decode())
    assert b'"************1111"' in masked and b'"amt":1234' in masked
    text, count = mask_response_body(b"card 4111 1111 1111 1111 declined", "text/plain")
    assert count == 1 and text == b"card ************1111 declined"
    clean = b'{"id":"ch_1"}'
    assert mask_response_body(clean, "application/json") == (clean, 0)


def test_signatures() -> None:
    secret, body, now = b"rps_secret", b'{"a":1}', int(time.time())
    header = signatures.sign(secret, now, "POST", "events", body)
    signatures.verify(
        secret, header, method="POST", path="events", body=body, now=now, tolerance_seconds=300
    )
    for wrong in (
        None,
        "",
        "t=abc,v1=00",
        signatures.sign(b"other", now, "POST", "events", body),
        signatures.sign(secret, now, "POST", "other-path", body),
        signatures.sign(secret, now - 301, "POST", "events", body),
    ):
        with pytest.raises(SignatureInvalid):
            signatures.verify(
                secret,
                wrong,
                method="POST",
                path="events",
                body=body,
                now=now,
                tolerance_seconds=300,
            )
    with pytest.raises(SignatureInvalid):  # the body is covered
        signatures.verify(
            secret,
            header,
            method="POST",
            path="events",
            body=b'{"a":2}',
            now=now,
            tolerance_seconds=300,
        )
