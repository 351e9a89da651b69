"""Addresses as operators write them (``--http``) and as URLs need them."""

from __future__ import annotations

import pytest

from logship.config.address import format_address, parse_listen_address


@pytest.mark.parametrize(
    ("given", "host", "port"),
    [
        ("9880", "127.0.0.1", 9880),
        (":9880", "127.0.0.1", 9880),
        ("0.0.0.0:9880", "0.0.0.0", 9880),
        ("[::1]:9880", "::1", 9880),
        ("[::]:80", "::", 80),
        ("localhost:0", "localhost", 0),
        (" 10.1.2.3:65535 ", "10.1.2.3", 65535),
    ],
)
def test_listen_addresses_are_read_as_operators_write_them(
    given: str, host: str, port: int
) -> None:
    assert parse_listen_address(given) == (host, port)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "expected [ADDR:]PORT"),
        ("web", "expected [ADDR:]PORT"),
        ("127.0.0.1:65536", "PORT 0-65535"),
        ("127.0.0.1:-1", "expected [ADDR:]PORT"),
        ("::1:9880", "write an IPv6 address in brackets, e.g. [::1]:9880"),
        ("127.0.0.1:", "expected [ADDR:]PORT"),
    ],
)
def test_a_bad_listen_address_is_refused_quoting_it(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^'.*'") as info:
        parse_listen_address(given)
    assert repr(given) in str(info.value)
    assert message in str(info.value)


def test_addresses_are_shown_as_a_url_needs_them() -> None:
    assert format_address("127.0.0.1", 9880) == "127.0.0.1:9880"
    assert format_address("::1", 9880) == "[::1]:9880"
