"""Who may read what the operator's window serves, decided without a socket: the token, the
loopback rule and the Host header (DNS rebinding)."""

from __future__ import annotations

from pathlib import Path

import pytest

from logship.config.http import HttpSettings
from logship.server.access import Access, Verdict, host_name

TOKEN = "c0ffee-t0ken"
DATA = ("/logs", "/logs/name:web*", "/logs/id:5f9a", "/containers")  # logspout's forms too
OPEN = ("/healthz", "/readyz", "/metrics")


def access(listen: str, tmp_path: Path | None = None, **options: object) -> Access:
    if tmp_path is not None:
        path = tmp_path / "token"
        path.write_text(TOKEN + "\n")
        options["token_file"] = path
    return Access(HttpSettings(listen=listen, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("LocalHost:9880", "localhost"),
        ("localhost.:9880", "localhost"),
        ("127.0.0.1:9880", "127.0.0.1"),
        ("[::1]:9880", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("evil.example:80", "evil.example"),
        ("evil.example", "evil.example"),
    ],
)
def test_the_host_name_is_the_header_without_its_port(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize("path", [*DATA, "/", *OPEN])
@pytest.mark.parametrize(
    "host", [None, "localhost", "localhost:9880", "127.0.0.1:9880", "127.1.2.3", "[::1]:9880"]
)
def test_on_the_loopback_without_a_token_everything_is_served_to_local_names(
    path: str, host: str | None
) -> None:
    assert access("9880").verdict(path, host, None) is Verdict.SERVE


@pytest.mark.parametrize("path", [*DATA, "/", *OPEN])
@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:9880", "10.0.0.7:9880", "localhost.evil.example"]
)
def test_on_the_loopback_another_host_name_is_refused_whatever_the_path_and_token(
    path: str, host: str, tmp_path: Path
) -> None:
    assert access("127.0.0.1:9880").verdict(path, host, None) is Verdict.WRONG_HOST
    with_token = access("127.0.0.1:9880", tmp_path)
    assert with_token.verdict(path, host, f"Bearer {TOKEN}") is Verdict.WRONG_HOST


def test_allowed_hosts_add_names_on_the_loopback() -> None:
    rules = access("9880", allowed_hosts=["Logs.Internal"])
    assert rules.verdict("/logs", "logs.internal:9880", None) is Verdict.SERVE
    assert rules.verdict("/logs", "LOGS.INTERNAL", None) is Verdict.SERVE
    assert rules.verdict("/logs", "other.internal", None) is Verdict.WRONG_HOST


@pytest.mark.parametrize("listen", ["0.0.0.0:9880", "10.0.0.7:9880", "[::]:9880"])
def test_elsewhere_without_a_token_the_data_and_the_page_are_off_the_probes_are_not(
    listen: str,
) -> None:
    rules = access(listen)
    for path in (*DATA, "/"):
        assert rules.verdict(path, "node-1:9880", None) is Verdict.OFF
        assert rules.verdict(path, "127.0.0.1:9880", None) is Verdict.OFF
    for path in OPEN:
        assert rules.verdict(path, "any.name:9880", None) is Verdict.SERVE


def test_elsewhere_the_host_header_does_not_matter() -> None:
    assert access("0.0.0.0:9880").verdict("/metrics", "whatever", None) is Verdict.SERVE


@pytest.mark.parametrize("listen", ["0.0.0.0:9880", "127.0.0.1:9880"])
def test_with_a_token_the_data_needs_it_and_the_page_and_probes_do_not(
    listen: str, tmp_path: Path
) -> None:
    rules = access(listen, tmp_path)
    for path in DATA:
        assert rules.verdict(path, "localhost", None) is Verdict.NEEDS_TOKEN
        assert rules.verdict(path, "localhost", f"Bearer {TOKEN}") is Verdict.SERVE
        assert rules.verdict(path, "localhost", f"bearer   {TOKEN} ") is Verdict.SERVE
    for path in ("/", *OPEN):
        assert rules.verdict(path, "localhost", None) is Verdict.SERVE


@pytest.mark.parametrize(
    ("authorization", "verdict"),
    [
        ("", Verdict.NEEDS_TOKEN),
        (TOKEN, Verdict.NEEDS_TOKEN),  # no scheme
        (f"Basic {TOKEN}", Verdict.NEEDS_TOKEN),
        ("Bearer", Verdict.BAD_TOKEN),
        ("Bearer ", Verdict.BAD_TOKEN),
        (f"Bearer {TOKEN}x", Verdict.BAD_TOKEN),
        (f"Bearer {TOKEN[:-1]}", Verdict.BAD_TOKEN),
        (f"Bearer {TOKEN.upper()}", Verdict.BAD_TOKEN),
        ("Bearer caf\udce9", Verdict.BAD_TOKEN),  # not UTF-8 on the wire
        ("Bearer \u00e9t\u00e9", Verdict.BAD_TOKEN),
    ],
)
def test_anything_but_the_exact_token_is_refused(
    authorization: str, verdict: Verdict, tmp_path: Path
) -> None:
    assert access("0.0.0.0:9880", tmp_path).verdict("/logs", None, authorization) is verdict


def test_a_refusal_says_what_to_do_and_never_holds_the_token(tmp_path: Path) -> None:
    rules = access("0.0.0.0:9880", tmp_path)
    for verdict in (Verdict.NEEDS_TOKEN, Verdict.BAD_TOKEN):
        response = rules.refusal(verdict, "node-1")
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="logship"')
        assert response.body is not None and TOKEN.encode() not in response.body
    assert "invalid_token" in rules.refusal(Verdict.BAD_TOKEN, "").headers["WWW-Authenticate"]
    off = access("0.0.0.0:9880").refusal(Verdict.OFF, "node-1")
    assert off.status == 403
    assert off.body is not None and b"--http-token-file" in off.body
    wrong = access("9880").refusal(Verdict.WRONG_HOST, "evil.example")
    assert wrong.status == 421
    assert wrong.body is not None and b"evil.example" in wrong.body
