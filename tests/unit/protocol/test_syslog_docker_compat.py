"""Our syslog output next to what Docker's own syslog driver sent for the same containers
(captures in tests/data/docker-log-drivers, from ../shared/reference): same header fields, and
the differences we make on purpose asserted as such."""

from __future__ import annotations

from typing import Any

import pytest

from logship.protocol.syslog import SyslogEncoder
from logship.protocol.template import TagTemplate
from logship.record import ContainerMeta, Record
from tests.helpers.paths import DRIVER_CAPTURES
from tests.helpers.records import TS, make_meta
from tests.helpers.syslog_wire import enrichment, parse_rfc3164, parse_rfc5424, rfc5424_pattern

DOCKER_RFC5424 = rfc5424_pattern(128)  # Docker puts the whole tag in MSGID, past RFC's 32


def docker_messages(name: str) -> list[bytes]:
    data = (DRIVER_CAPTURES / name).read_bytes()
    messages = data.splitlines(keepends=True)
    assert messages
    assert all(m.endswith(b"\n") for m in messages)  # Docker's driver ends each with \n
    return [m[:-1] for m in messages]


def ours(meta: ContainerMeta, stream: str, message: str, ts: str, **options: Any) -> bytes:
    (data,) = SyslogEncoder(**options).encode([Record(message, stream, ts, meta)])
    return data


def test_docker_rfc5424_with_a_tag_template_has_the_same_header_as_ours() -> None:
    meta = make_meta()  # --name web-2, logship-test/busybox:1.35, host vm, ID 5f9a6638b642...
    tag = TagTemplate("{{.ImageName}}/{{.Name}}/{{.ID}}")
    docker = [parse_rfc5424(m, DOCKER_RFC5424) for m in docker_messages("syslog-rfc5424.txt")]
    assert [(d["pri"], d["msg"]) for d in docker] == [(27, "err line"), (30, "hello syslog 5424")]
    for theirs in docker:
        stream = "stderr" if theirs["pri"] == 27 else "stdout"
        data = ours(meta, stream, theirs["msg"], "2026-11-23T19:43:24.512345678Z", tag=tag)
        mine = parse_rfc5424(data)
        same = ("pri", "version", "hostname", "app_name", "msg")
        assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}
        # Docker's rfc5424 has whole seconds; ours always has Docker's microseconds
        assert theirs["timestamp"] == "2026-11-23T19:43:24Z"
        assert mine["timestamp"] == "2026-11-23T19:43:24.512345Z"
        # differences on purpose: RFC 5424 allows MSGID 32 characters, Docker sent 44
        assert len(theirs["msgid"]) == 44
        assert mine["msgid"] == theirs["msgid"][:32]
        # no daemon PID from us, and our enrichment as structured data instead of "-"
        assert (theirs["procid"], mine["procid"]) == ("2768", "-")
        assert (theirs["sd"], mine["sd"]) == ([], [enrichment(stream)])
        assert not data.endswith(b"\n")


def test_dockers_own_rfc5424_msgid_breaks_the_rfc_limit_that_ours_keeps() -> None:
    (docker, _) = docker_messages("syslog-rfc5424.txt")
    with pytest.raises(ValueError, match="not an RFC 5424 message"):
        parse_rfc5424(docker)


def test_docker_rfc5424micro_has_the_same_header_as_ours() -> None:
    meta = make_meta(id="719d5c9a5367" + "0" * 52, name="web-3")
    (docker,) = docker_messages("syslog-rfc5424micro.txt")
    theirs = parse_rfc5424(docker)  # within every RFC limit, unlike rfc5424 with a long tag
    data = ours(
        meta,
        "stdout",
        "hello syslog 5424micro",
        "2026-11-23T19:43:24.849838512Z",
        tag=TagTemplate("{{.ID}}"),  # Docker's default tag
    )
    mine = parse_rfc5424(data)
    same = ("pri", "version", "timestamp", "hostname", "app_name", "msgid", "msg")
    assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}
    assert mine["timestamp"] == "2026-11-23T19:43:24.849838Z"
    assert (theirs["procid"], mine["procid"]) == ("2768", "-")
    assert (theirs["sd"], [e[0] for e in mine["sd"]]) == ([], ["logship@32473"])


def test_rfc5424micro_is_byte_for_byte_what_dockers_driver_sent() -> None:
    meta = make_meta(id="719d5c9a5367" + "0" * 52, name="web-3")
    docker = (DRIVER_CAPTURES / "syslog-rfc5424micro.txt").read_bytes()
    data = ours(
        meta,
        "stdout",
        "hello syslog 5424micro",
        "2026-11-23T19:43:24.849838512Z",
        format="rfc5424micro",
        tag=TagTemplate("{{.ID}}"),  # Docker's default tag
        procid="2768",  # the sender's PID: Docker's daemon there, logship here
    )
    assert data == docker
    assert data.endswith(b"\n")


def test_logships_default_tag_is_the_name_where_dockers_is_the_short_id() -> None:
    meta = make_meta(id="719d5c9a5367" + "0" * 52, name="web-3")
    (docker,) = docker_messages("syslog-rfc5424micro.txt")
    mine = parse_rfc5424(ours(meta, "stdout", "x", TS))
    assert parse_rfc5424(docker)["app_name"] == "719d5c9a5367"
    assert (mine["app_name"], mine["msgid"]) == ("web-3", "web-3")


def test_docker_rfc3164_has_the_same_header_as_ours_but_for_the_pid() -> None:
    meta = make_meta(id="ea9c3d8e1c86" + "0" * 52, name="web-4")
    (docker,) = docker_messages("syslog-rfc3164.txt")
    theirs = parse_rfc3164(docker)
    data = ours(
        meta,
        "stdout",
        "hello syslog 3164",
        "2026-11-23T19:43:25.300000000Z",
        format="rfc3164",
        tag=TagTemplate("{{.ID}}"),
    )
    mine = parse_rfc3164(data)
    same = ("pri", "timestamp", "hostname", "tag", "msg")
    assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}
    assert (theirs["pid"], mine["pid"]) == ("2768", None)
    assert data == b"<30>Nov 23 19:43:25 vm ea9c3d8e1c86: hello syslog 3164"
