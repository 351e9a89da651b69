"""Syslog encoding (RFC 5424, RFC 3164): a golden table checked both ways, and truncation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.protocol.syslog import Format, SyslogEncoder, sd_escape
from logship.protocol.template import TagTemplate
from logship.record import HostMeta, Record
from tests.helpers.records import CONTAINER_ID, IMAGE_ID, K8S_LABELS, TS, make_meta
from tests.helpers.syslog_wire import enrichment, parse_rfc3164, parse_rfc5424


def test_the_test_parser_reads_escapes_and_several_elements() -> None:
    wire = rb'<165>1 2003-10-11T22:14:15.003Z host app 12 ID47 [a@1 x="q\"b\\s\]"][b@1 y=""] m'
    assert parse_rfc5424(wire)["sd"] == [("a@1", [("x", 'q"b\\s]')]), ("b@1", [("y", "")])]


@pytest.mark.parametrize(
    "wire",
    [
        b'<30>1 2026-11-23T19:43:24Z vm app - id [a@1 x="]"] m',  # unescaped ]
        b"<30>1 2026-11-23T19:43:24.1234567Z vm app - id - m",  # 7 fraction digits
        b"<30>1 2026-11-23T19:43:24Z vm app - " + b"i" * 33 + b" - m",  # MSGID over 32
        b"<30>1 2026-11-23T19:43:24Z vm app - id [a=b@1] m",  # = in an SD-ID
        b"<30>0 2026-11-23T19:43:24Z vm app - id - m",  # version 0
    ],
)
def test_the_test_parser_rejects_what_rfc5424_forbids(wire: bytes) -> None:
    with pytest.raises(ValueError, match="not an RFC 5424 message"):
        parse_rfc5424(wire)


# -- the golden table -------------------------------------------------------------------------

SD_STDOUT = (
    f'[logship@32473 container_id="{CONTAINER_ID}" container_name="web-2" '
    'image_name="logship-test/busybox" image_tag="1.35" '
    f'image_id="{IMAGE_ID}" stream="stdout" host_ip="10.0.0.1"]'
)
SD_STDERR = SD_STDOUT.replace('stream="stdout"', 'stream="stderr"')


BASE_FIELDS = {
    "pri": 30,
    "version": 1,
    "timestamp": "2026-11-23T19:43:24.849838Z",
    "hostname": "vm",
    "app_name": "web-2",
    "procid": "-",
    "msgid": "web-2",
    "sd": [enrichment()],
    "msg": "hello",
}


@dataclass(frozen=True)
class Case:
    id: str
    wire: str
    fields: dict[str, Any]  # what the parser reads back, beyond BASE_FIELDS (RFC 5424 only)
    stream: str = "stdout"
    message: str = "hello"
    meta: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        record = Record(self.message, self.stream, TS, make_meta(**self.meta))
        (data,) = SyslogEncoder(**self.options).encode([record])
        return data


RFC5424_CASES = [
    Case(
        "stdout-severity-6",
        "<30>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 " + SD_STDOUT + " hello",
        {},
    ),
    Case(
        "stderr-severity-3",
        "<27>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 " + SD_STDERR + " err line",
        {"pri": 27, "sd": [enrichment("stderr")], "msg": "err line"},
        stream="stderr",
        message="err line",
    ),
    Case(
        "docker-style-tag-msgid-cut-to-32",
        "<30>1 2026-11-23T19:43:24.849838Z vm logship-test/busybox:1.35/web-2/5f9a6638b642 - "
        "logship-test/busybox:1.35/web-2/ " + SD_STDOUT + " hello",
        {
            "app_name": "logship-test/busybox:1.35/web-2/5f9a6638b642",
            "msgid": "logship-test/busybox:1.35/web-2/",
        },
        options={"tag": TagTemplate("{{.ImageName}}/{{.Name}}/{{.ID}}")},
    ),
    Case(
        "all-labels-sorted",
        "<30>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 "
        + SD_STDOUT
        + '[labels@32473 app="web" com.example.team="payments"] hello',
        {
            "sd": [
                enrichment(),
                ("labels@32473", [("app", "web"), ("com.example.team", "payments")]),
            ]
        },
        meta={"labels": {"com.example.team": "payments", "app": "web"}},
    ),
    Case(
        "chosen-labels",
        "<30>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 "
        + SD_STDOUT
        + '[labels@32473 com.example.team="payments"] hello',
        {"sd": [enrichment(), ("labels@32473", [("com.example.team", "payments")])]},
        meta={"labels": {"com.example.team": "payments", "app": "web"}},
        options={"labels": ("com.example.team", "absent")},
    ),
    Case(
        "no-labels",
        "<30>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 " + SD_STDOUT + " hello",
        {},
        meta={"labels": {"app": "web"}},
        options={"labels": "none"},
    ),
    Case(
        "chosen-labels-none-present",
        "<30>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 " + SD_STDOUT + " hello",
        {},
        meta={"labels": {"app": "web"}},
        options={"labels": ("team",)},
    ),
    Case(
        "kubernetes",
        "<30>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 "
        + SD_STDOUT[:-1]
        + ' k8s_namespace="shop" k8s_pod_name="web-7d9f" k8s_pod_uid="0b1c-22"'
        ' k8s_container_name="nginx"][labels@32473 app="web"] hello',
        {
            "sd": [
                enrichment(
                    k8s_namespace="shop",
                    k8s_pod_name="web-7d9f",
                    k8s_pod_uid="0b1c-22",
                    k8s_container_name="nginx",
                ),
                ("labels@32473", [("app", "web")]),
            ]
        },
        meta={"labels": K8S_LABELS | {"app": "web"}},
        options={"labels": ("app",)},
    ),
    Case(
        "param-value-escapes",
        "<30>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 "
        + SD_STDOUT
        + r'[labels@32473 say="a \"b\" c:\\d [e\] \]" unbalanced="\]\]\\"] hello',
        {
            "sd": [
                enrichment(),
                ("labels@32473", [("say", 'a "b" c:\\d [e] ]'), ("unbalanced", "]]\\")]),
            ]
        },
        meta={"labels": {"say": 'a "b" c:\\d [e] ]', "unbalanced": "]]\\"}},
    ),
    Case(
        "label-names-made-sd-names",
        "<30>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 "
        + SD_STDOUT
        + '[labels@32473 a_b_c_d_e="1" '
        + "x" * 32
        + '="2" _="3"] hello',
        {"sd": [enrichment(), ("labels@32473", [("a_b_c_d_e", "1"), ("x" * 32, "2"), ("_", "3")])]},
        meta={"labels": {'a b=c"d]e': "1", "x" * 40: "2", "é": "3"}},
    ),
    Case(
        "own-sd-id-and-facility",
        "<134>1 2026-11-23T19:43:24.849838Z vm web-2 - web-2 "
        + SD_STDOUT.replace("logship@32473", "example@1234")
        + '[labels@1234 app="web"] hello',
        {"pri": 134, "sd": [enrichment(sd_id="example@1234"), ("labels@1234", [("app", "web")])]},
        meta={"labels": {"app": "web"}},
        options={"sd_id": "example@1234", "facility": 16},
    ),
    Case(
        "header-fields-made-printusascii",
        "<30>1 2026-11-23T19:43:24.849838Z my_host app___web-2 - app___web-2 "
        + SD_STDOUT
        + " café ☃ \x00",
        {
            "hostname": "my_host",
            "app_name": "app___web-2",
            "msgid": "app___web-2",
            "msg": "café ☃ \x00",
        },
        message="café ☃ \x00",
        meta={"host": HostMeta("my host", "10.0.0.1")},
        options={"tag": TagTemplate("app é {{.Name}}")},
    ),
    Case(
        "empty-fields-are-nilvalues",
        "<30>1 2026-11-23T19:43:24.849838Z - - - - " + SD_STDOUT + " ",
        {"hostname": "-", "app_name": "-", "msgid": "-", "msg": ""},
        message="",
        meta={"host": HostMeta("", "10.0.0.1")},
        options={"tag": TagTemplate("")},
    ),
]

RFC3164_CASES = [
    Case(
        "stdout",
        "<30>Nov 23 19:43:24 vm web-2: hello",
        {"pri": 30, "timestamp": "Nov 23 19:43:24", "tag": "web-2", "msg": "hello"},
    ),
    Case(
        "stderr",
        "<27>Nov 23 19:43:24 vm web-2: err line",
        {"pri": 27, "timestamp": "Nov 23 19:43:24", "tag": "web-2", "msg": "err line"},
        stream="stderr",
        message="err line",
    ),
    Case(
        "tag-cut-to-32",
        "<30>Nov 23 19:43:24 vm logship-test/busybox:1.35/web-2/: hello",
        {
            "pri": 30,
            "timestamp": "Nov 23 19:43:24",
            "tag": "logship-test/busybox:1.35/web-2/",
            "msg": "hello",
        },
        options={"tag": TagTemplate("{{.ImageName}}/{{.Name}}/{{.ID}}")},
    ),
    Case(
        "local0-odd-host",
        "<134>Nov 23 19:43:24 my_host web-2: café",
        {"pri": 134, "timestamp": "Nov 23 19:43:24", "hostname": "my_host", "msg": "café"},
        message="café",
        meta={"host": HostMeta("my host", "10.0.0.1")},
        options={"facility": 16},
    ),
]


@pytest.mark.parametrize("case", RFC5424_CASES, ids=lambda c: c.id)
def test_golden_rfc5424_messages_are_encoded_byte_for_byte(case: Case) -> None:
    assert case.encode() == case.wire.encode()


@pytest.mark.parametrize("case", RFC5424_CASES, ids=lambda c: c.id)
def test_golden_rfc5424_messages_parse_back_field_by_field(case: Case) -> None:
    assert parse_rfc5424(case.wire.encode()) == BASE_FIELDS | case.fields


@pytest.mark.parametrize("case", RFC3164_CASES, ids=lambda c: c.id)
def test_golden_rfc3164_messages_are_encoded_byte_for_byte(case: Case) -> None:
    record = Record(case.message, case.stream, TS, make_meta(**case.meta))
    encoder = SyslogEncoder(format="rfc3164", **case.options)
    assert encoder.encode([record]) == [case.wire.encode()]


@pytest.mark.parametrize("case", RFC3164_CASES, ids=lambda c: c.id)
def test_golden_rfc3164_messages_parse_back_field_by_field(case: Case) -> None:
    expected = {"hostname": "vm", "tag": "web-2", "pid": None} | case.fields
    assert parse_rfc3164(case.wire.encode()) == expected


# -- header fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["rfc5424", "rfc3164"])
def test_stderr_lines_get_severity_3_and_stdout_lines_severity_6_in_facility_daemon(
    format: str,
) -> None:
    meta = make_meta()
    out = SyslogEncoder(format=format).encode(  # type: ignore[arg-type]
        [Record("a", "stdout", TS, meta), Record("b", "stderr", TS, meta)]
    )
    assert [line[:4] for line in out] == [b"<30>", b"<27>"]  # 3 * 8 + 6, 3 * 8 + 3


@pytest.mark.parametrize(
    ("docker_time", "syslog_time"),
    [
        ("2026-11-23T19:43:24.849838999Z", "2026-11-23T19:43:24.849838Z"),
        ("2026-11-23T19:43:24.000000999Z", "2026-11-23T19:43:24.000000Z"),
        ("2026-12-31T23:59:59.999999999Z", "2026-12-31T23:59:59.999999Z"),
    ],
)
def test_the_timestamp_is_dockers_own_cut_not_rounded_to_microseconds(
    docker_time: str, syslog_time: str
) -> None:
    (data,) = SyslogEncoder().encode([Record("x", "stdout", docker_time, make_meta())])
    assert parse_rfc5424(data)["timestamp"] == syslog_time


@pytest.mark.parametrize(
    ("docker_time", "syslog_time"),
    [
        ("2026-03-05T07:08:09.999999999Z", "Mar  5 07:08:09"),
        ("2026-01-10T00:00:00.000000000Z", "Jan 10 00:00:00"),
        ("2026-12-31T23:59:59.500000000Z", "Dec 31 23:59:59"),
    ],
)
def test_rfc3164_timestamps_pad_the_day_with_a_space(docker_time: str, syslog_time: str) -> None:
    (data,) = SyslogEncoder(format="rfc3164").encode(
        [Record("x", "stdout", docker_time, make_meta())]
    )
    assert parse_rfc3164(data)["timestamp"] == syslog_time


def test_rfc3164_lines_of_different_seconds_get_their_own_timestamps() -> None:
    meta = make_meta()
    times = ["2026-11-23T19:43:24.1Z", "2026-11-23T19:43:25.2Z", "2026-11-23T19:43:24.3Z"]
    encoder = SyslogEncoder(format="rfc3164")
    out = encoder.encode([Record("x", "stdout", t.replace("Z", "00000000Z"), meta) for t in times])
    assert [parse_rfc3164(d)["timestamp"] for d in out] == [
        "Nov 23 19:43:24",
        "Nov 23 19:43:25",
        "Nov 23 19:43:24",
    ]


def test_a_batch_mixing_containers_gives_each_line_its_own_header() -> None:
    web = make_meta()
    db = make_meta(id="ea9c3d8e1c86" + "0" * 52, name="db-1", image="postgres:16")
    encoder = SyslogEncoder(tag=TagTemplate("{{.Name}}/{{.ID}}"))
    out = encoder.encode(
        [
            Record("w1", "stdout", TS, web),
            Record("d1", "stderr", TS, db),
            Record("w2", "stderr", TS, web),
            Record("d2", "stdout", TS, db),
        ]
    )
    parsed = [parse_rfc5424(d) for d in out]
    assert [(p["pri"], p["app_name"], p["msg"]) for p in parsed] == [
        (30, "web-2/5f9a6638b642", "w1"),
        (27, "db-1/ea9c3d8e1c86", "d1"),
        (27, "web-2/5f9a6638b642", "w2"),
        (30, "db-1/ea9c3d8e1c86", "d2"),
    ]
    params = [dict(p["sd"][0][1]) for p in parsed]
    assert [(s["container_name"], s["image_name"], s["stream"]) for s in params] == [
        ("web-2", "logship-test/busybox", "stdout"),
        ("db-1", "postgres", "stderr"),
        ("web-2", "logship-test/busybox", "stderr"),
        ("db-1", "postgres", "stdout"),
    ]


def test_encoders_with_different_options_never_share_a_containers_cached_header() -> None:
    meta = make_meta()
    record = Record("x", "stdout", TS, meta)
    for i in range(20):  # a dead encoder's id() is soon reused by a new one
        format = ("rfc5424", "rfc3164")[i % 2]
        (data,) = SyslogEncoder(format=format).encode([record])  # type: ignore[arg-type]
        if format == "rfc5424":
            assert parse_rfc5424(data)["msg"] == "x"
        else:
            assert parse_rfc3164(data)["msg"] == "x"


def test_two_live_encoders_on_one_container_each_keep_their_own_options() -> None:
    meta = make_meta()
    record = Record("x", "stdout", TS, meta)
    plain = SyslogEncoder(labels="none")
    tagged = SyslogEncoder(tag=TagTemplate("{{.ID}}"), sd_id="example@1")
    for _ in range(2):
        assert parse_rfc5424(plain.encode([record])[0])["app_name"] == "web-2"
        assert parse_rfc5424(tagged.encode([record])[0])["sd"][0][0] == "example@1"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("plain", "plain"),
        ('"', '\\"'),
        ("\\", "\\\\"),
        ("]", "\\]"),
        ("[", "["),
        ('a\\"]b', 'a\\\\\\"\\]b'),
        ("=", "="),
    ],
)
def test_sd_escape_backslashes_exactly_quote_backslash_and_closing_bracket(
    value: str, escaped: str
) -> None:
    assert sd_escape(value) == escaped


TEXT = st.characters(exclude_categories=["Cs"])  # what a str decoded from UTF-8 can hold


@given(st.dictionaries(st.text(TEXT, max_size=40), st.text(TEXT), max_size=5))
def test_any_labels_give_structured_data_that_parses_back(labels: dict[str, str]) -> None:
    (data,) = SyslogEncoder().encode([Record("m", "stdout", TS, make_meta(labels=labels))])
    expected = [enrichment()]
    if labels:
        # SD-NAME: at most 32 of PRINTUSASCII but '=', SP, ']' and '"'; anything else is '_'
        names = [re.sub(r"[^!#-<>-\\^-~]", "_", k)[:32] or "_" for k in sorted(labels)]
        values = [labels[k] for k in sorted(labels)]
        expected.append(("labels@32473", list(zip(names, values, strict=True))))
    assert parse_rfc5424(data)["sd"] == expected


# -- truncation -------------------------------------------------------------------------------

MARKER = re.compile(rb"(?P<head>.*) \[truncated (?P<dropped>\d+) bytes\]", re.DOTALL)


def full_and_cut(message: str, limit: int, format: str = "rfc5424") -> tuple[bytes, bytes]:
    record = Record(message, "stdout", TS, make_meta())
    (full,) = SyslogEncoder(format=format, max_message_bytes=1 << 20).encode([record])  # type: ignore[arg-type]
    (cut,) = SyslogEncoder(format=format, max_message_bytes=limit).encode([record])  # type: ignore[arg-type]
    return full, cut


def check_cut(full: bytes, cut: bytes, limit: int) -> None:
    """What every cut message must be: within the limit, whole characters, an honest marker."""
    assert limit - 3 <= len(cut) <= limit
    m = MARKER.fullmatch(cut)
    assert m is not None
    assert full.startswith(m["head"])
    assert int(m["dropped"]) == len(full) - len(m["head"])
    cut.decode("utf-8")  # strict: no character was cut in two


def test_a_message_exactly_at_the_limit_is_not_cut() -> None:
    full, _ = full_and_cut("", 8192)
    message = "x" * (1000 - len(full))
    full, cut = full_and_cut(message, 1000)
    assert len(full) == 1000
    assert cut == full


def test_one_byte_over_the_limit_cuts_to_exactly_the_limit_with_a_marker() -> None:
    full, _ = full_and_cut("", 8192)
    message = "x" * (1001 - len(full))
    full, cut = full_and_cut(message, 1000)
    assert len(full) == 1001
    assert len(cut) == 1000
    assert cut.endswith(b"x [truncated 22 bytes]")  # 1 byte over + the 21 of the marker
    check_cut(full, cut, 1000)


def test_a_cut_message_is_still_a_valid_rfc5424_message_with_its_header() -> None:
    full, cut = full_and_cut("y" * 5000, 600)
    fields = parse_rfc5424(cut)
    assert fields["app_name"] == "web-2"
    assert fields["sd"] == [enrichment()]
    assert fields["msg"].startswith("yyy")
    assert fields["msg"].endswith(f" [truncated {len(full) - len(cut) + 23} bytes]")


def test_rfc3164_messages_are_cut_the_same_way() -> None:
    full, cut = full_and_cut("z" * 5000, 480, format="rfc3164")
    check_cut(full, cut, 480)
    assert parse_rfc3164(cut)["tag"] == "web-2"


@pytest.mark.parametrize("char", ["é", "€", "😀"])
@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_a_cut_never_splits_a_utf8_character(char: str, shift: int) -> None:
    message = "a" * shift + char * 400
    full, cut = full_and_cut(message, 700)
    check_cut(full, cut, 700)


def test_the_number_of_cut_messages_is_counted() -> None:
    meta = make_meta()
    encoder = SyslogEncoder(max_message_bytes=600)
    encoder.encode([Record(m, "stdout", TS, meta) for m in ("short", "x" * 1000, "y" * 2000)])
    assert encoder.truncated == 2


# long texts of characters of every UTF-8 width (a plain st.text() is rarely long enough to cut)
LONG_TEXT = st.builds(
    lambda unit, times: unit * times,
    st.text(st.sampled_from("aé€😀") | TEXT, min_size=1, max_size=8),
    st.integers(0, 600),
)


@given(
    LONG_TEXT,
    st.integers(480, 1400),
    st.sampled_from(["rfc5424", "rfc3164"]),
)
def test_any_message_fits_the_limit_and_says_exactly_how_much_was_cut(
    message: str, limit: int, format: str
) -> None:
    full, cut = full_and_cut(message, limit, format)
    if len(full) <= limit:
        assert cut == full
    else:
        check_cut(full, cut, limit)


def test_labels_too_long_for_the_limit_are_left_out_rather_than_cutting_the_header() -> None:
    meta = make_meta(labels={f"label{i}": "v" * 60 for i in range(20)})
    encoder = SyslogEncoder(max_message_bytes=1024)
    (data,) = encoder.encode([Record("short message", "stdout", TS, meta)])
    fields = parse_rfc5424(data)
    assert [sd_id for sd_id, _ in fields["sd"]] == ["logship@32473"]
    assert fields["msg"] == "short message"
    assert len(data) <= 1024
    # with room enough, the labels are there
    (roomy,) = SyslogEncoder(max_message_bytes=8192).encode([Record("m", "stdout", TS, meta)])
    assert [sd_id for sd_id, _ in parse_rfc5424(roomy)["sd"]] == ["logship@32473", "labels@32473"]


def test_long_names_and_a_small_limit_leave_out_the_structured_data_not_cut_the_header() -> None:
    long = "n" * 200
    meta = make_meta(name=long, image=f"registry.example.com/{long}:1", labels={"app": "web"})
    encoder = SyslogEncoder(max_message_bytes=480)
    (data,) = encoder.encode([Record("x" * 600, "stdout", TS, meta)])
    fields = parse_rfc5424(data)
    assert fields["sd"] == []  # "-": no structured data for this one message
    assert fields["msg"].startswith("xxx") and fields["msg"].endswith(" bytes]")
    assert len(data) <= 480
    # the cache keeps the full header for messages that fit a larger limit
    (roomy,) = SyslogEncoder(max_message_bytes=8192).encode([Record("m", "stdout", TS, meta)])
    assert [sd_id for sd_id, _ in parse_rfc5424(roomy)["sd"]] == ["logship@32473", "labels@32473"]


# -- Docker's syslog-facility and rfc5424micro ------------------------------------------------


@pytest.mark.parametrize(
    ("facility", "stdout_pri", "stderr_pri"),
    [(3, 30, 27), (0, 6, 3), (16, 134, 131), (23, 190, 187)],
    ids=["daemon (the default)", "kern", "local0", "local7"],
)
@pytest.mark.parametrize("format", ["rfc5424", "rfc5424micro", "rfc3164"])
def test_the_facility_makes_the_pri_of_both_streams(
    facility: int, stdout_pri: int, stderr_pri: int, format: Format
) -> None:
    meta = make_meta()
    out = SyslogEncoder(format=format, facility=facility).encode(
        [Record("o", "stdout", TS, meta), Record("e", "stderr", TS, meta)]
    )
    assert [d[: d.index(b">") + 1] for d in out] == [
        f"<{stdout_pri}>".encode(),
        f"<{stderr_pri}>".encode(),
    ]


def test_a_facility_past_23_is_refused() -> None:
    with pytest.raises(ValueError, match="0 to 23, got 24"):
        SyslogEncoder(facility=24)


def test_rfc5424micro_has_microseconds_the_pid_no_structured_data_and_ends_with_lf() -> None:
    meta = make_meta(labels={"app": "web"})
    (data,) = SyslogEncoder(format="rfc5424micro", procid="4242").encode(
        [Record("hello", "stderr", "2026-11-23T19:43:24.849838512Z", meta)]
    )
    assert data == b"<27>1 2026-11-23T19:43:24.849838Z vm web-2 4242 web-2 - hello\n"
    assert parse_rfc5424(data[:-1])["procid"] == "4242"


def test_rfc5424micro_cut_to_max_message_bytes_still_ends_with_lf_within_the_limit() -> None:
    (data,) = SyslogEncoder(format="rfc5424micro", max_message_bytes=480).encode(
        [Record("x" * 1000, "stdout", TS, make_meta())]
    )
    assert len(data) == 480
    assert data.endswith(b" bytes]\n")
