"""The record type, image references and every timestamp helper, checked against datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.record import (
    ContainerMeta,
    KubernetesMeta,
    Record,
    format_timestamp_ns,
    is_canonical,
    normalize_timestamp,
    parse_since,
    since_parameter,
    split_image,
    timestamp_ns,
    truncation_marker,
)
from tests.helpers.records import HOST

NOW = "2026-11-27T05:24:33.719017066Z"
NOW_NS = 1_795_757_073_719_017_066  # the same instant, as Python's datetime computes it
FIRST_NS = -62_135_596_800_000_000_000  # 0001-01-01T00:00:00Z, Docker's "zero time"
LAST_NS = 253_402_300_799_999_999_999  # 9999-12-31T23:59:59.999999999Z


def canonical(dt: datetime, nanos: int | None = None) -> str:
    """The canonical form of a datetime, computed with datetime itself (the oracle)."""
    frac = dt.microsecond * 1000 if nanos is None else nanos
    return dt.astimezone(UTC).isoformat(timespec="seconds")[:19] + f".{frac:09d}Z"


def test_the_now_constant_is_what_datetime_says() -> None:
    dt = datetime(2026, 11, 27, 5, 24, 33, tzinfo=UTC)
    assert int(dt.timestamp()) * 1_000_000_000 + 719_017_066 == NOW_NS


# -- image references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "name", "tag"),
    [
        ("nginx", "nginx", "latest"),
        ("nginx:1.25", "nginx", "1.25"),
        ("library/nginx:1.25-alpine", "library/nginx", "1.25-alpine"),
        ("docker.io/library/nginx:1.25", "docker.io/library/nginx", "1.25"),
        ("reg:5000/app", "reg:5000/app", "latest"),
        ("reg:5000/app:1.2", "reg:5000/app", "1.2"),
        ("reg:5000/team/app:v1", "reg:5000/team/app", "v1"),
        ("localhost:5000/app@sha256:" + "a" * 64, "localhost:5000/app", "sha256:" + "a" * 64),
        ("app@sha256:abc", "app", "sha256:abc"),
        ("logship-test/busybox:1.35", "logship-test/busybox", "1.35"),
    ],
)
def test_split_image_separates_name_and_tag_like_docker(
    reference: str, name: str, tag: str
) -> None:
    assert split_image(reference) == (name, tag)


# -- container metadata and records -----------------------------------------------------------


def test_container_meta_fills_image_name_and_tag_from_the_reference() -> None:
    meta = ContainerMeta(id="c" * 64, name="web", image="reg:5000/app:1.2", image_id="", host=HOST)
    assert (meta.image_name, meta.image_tag) == ("reg:5000/app", "1.2")


def test_container_meta_keeps_an_image_name_it_was_given() -> None:
    meta = ContainerMeta(
        id="c" * 64, name="web", image="x:1", image_id="", host=HOST, image_name="y", image_tag="2"
    )
    assert (meta.image_name, meta.image_tag) == ("y", "2")


def test_short_ids_are_twelve_hex_digits_without_the_sha256_prefix() -> None:
    meta = ContainerMeta(
        id="5f9a6638b642" + "0" * 52,
        name="web",
        image="app",
        image_id="sha256:d4e5f6a7b8c9" + "1" * 52,
        host=HOST,
    )
    assert meta.short_id == "5f9a6638b642"
    assert meta.short_image_id == "d4e5f6a7b8c9"


def test_kubernetes_identity_comes_from_the_kubelets_labels() -> None:
    labels = {
        "io.kubernetes.pod.namespace": "shop",
        "io.kubernetes.pod.name": "web-7d9f",
        "io.kubernetes.pod.uid": "0b1c",
        "io.kubernetes.container.name": "nginx",
    }
    meta = ContainerMeta(
        id="c" * 64, name="k8s_nginx", image="x", image_id="", host=HOST, labels=labels
    )
    assert meta.kubernetes == KubernetesMeta("shop", "web-7d9f", "0b1c", "nginx")


def test_a_container_without_a_pod_name_label_is_not_a_kubernetes_container() -> None:
    labels = {"io.kubernetes.pod.namespace": "shop", "app": "web"}
    meta = ContainerMeta(id="c" * 64, name="web", image="x", image_id="", host=HOST, labels=labels)
    assert meta.kubernetes is None


def test_missing_kubernetes_labels_become_empty_strings() -> None:
    assert KubernetesMeta.from_labels({"io.kubernetes.pod.name": "p"}) == KubernetesMeta(
        "", "p", "", ""
    )


def test_records_are_slotted_and_say_whose_line_they_are() -> None:
    meta = ContainerMeta(id="c" * 64, name="web-1", image="x", image_id="", host=HOST)
    record = Record("hello", "stderr", NOW, meta, seq=2)
    assert not hasattr(record, "__dict__")
    assert repr(record) == f"Record('hello', 'stderr', {NOW!r}, container='web-1', seq=2)"


def test_the_truncation_marker_says_how_many_bytes_were_cut() -> None:
    assert truncation_marker(1234) == " [truncated 1234 bytes]"


# -- canonical timestamps ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (NOW, NOW),
        ("2026-11-27T05:24:33Z", "2026-11-27T05:24:33.000000000Z"),
        ("2026-11-27T05:24:33.7Z", "2026-11-27T05:24:33.700000000Z"),
        ("2026-11-27T05:24:33.71901Z", "2026-11-27T05:24:33.719010000Z"),
        ("2026-11-27T05:24:33.719017066+01:00", "2026-11-27T04:24:33.719017066Z"),
        ("2026-11-27T05:24:33-05:30", "2026-11-27T10:54:33.000000000Z"),
        ("2026-11-27T00:10:00+02:00", "2026-11-26T22:10:00.000000000Z"),
        ("2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00.000000000Z"),
        ("2026-11-27t05:24:33.5z", "2026-11-27T05:24:33.500000000Z"),
        ("2026-11-27 05:24:33.5Z", "2026-11-27T05:24:33.500000000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000000Z"),
    ],
)
def test_normalize_timestamp_gives_utc_with_nine_digits(text: str, expected: str) -> None:
    assert normalize_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-11-27",
        "2026-11-27T05:24:33",
        "2026-11-27T05:24:33.1234567890Z",
        "2026-11-27T05:24Z",
        "2026-11-27T05:24:33+0100",
        "2026-11-27T05:24:33Z trailing",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-27T25:00:00+00:00",
        "2026-11-27T05:61:00Z",
    ],
)
def test_normalize_timestamp_rejects_what_is_not_an_rfc3339_time(text: str) -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 timestamp") as info:
        normalize_timestamp(text)
    assert repr(text) in str(info.value)


# st.datetimes takes naive bounds; the offset is added in the test
NAIVE_MIN, NAIVE_MAX = datetime(1971, 1, 1), datetime(9998, 12, 31)  # noqa: DTZ001


@given(
    st.datetimes(min_value=NAIVE_MIN, max_value=NAIVE_MAX),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_normalize_timestamp_agrees_with_datetime_for_any_offset(
    naive: datetime, offset_minutes: int
) -> None:
    dt = naive.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert normalize_timestamp(dt.isoformat()) == canonical(dt)


@pytest.mark.parametrize(
    ("text", "canonical_form"),
    [
        (NOW, True),
        ("2026-11-27T05:24:33.71901706Z", False),
        ("2026-11-27T05:24:33.719017066+00:00", False),
        ("2026-11-27T05:24:33Z", False),
    ],
)
def test_is_canonical_accepts_only_nine_digits_and_z(text: str, canonical_form: bool) -> None:
    assert is_canonical(text) is canonical_form


def test_timestamp_ns_counts_nanoseconds_since_the_epoch() -> None:
    assert timestamp_ns("1970-01-01T00:00:01.000000002Z") == 1_000_000_002
    assert timestamp_ns(NOW) == NOW_NS


def test_format_timestamp_ns_writes_the_canonical_form() -> None:
    assert format_timestamp_ns(FIRST_NS) == "0001-01-01T00:00:00.000000000Z"
    assert format_timestamp_ns(0) == "1970-01-01T00:00:00.000000000Z"
    assert format_timestamp_ns(NOW_NS) == NOW
    assert format_timestamp_ns(LAST_NS) == "9999-12-31T23:59:59.999999999Z"


@given(st.integers(FIRST_NS, LAST_NS))
def test_formatting_and_reading_back_nanoseconds_round_trips(ns: int) -> None:
    text = format_timestamp_ns(ns)
    assert is_canonical(text)
    assert timestamp_ns(text) == ns
    assert normalize_timestamp(text) == text
    seconds, nanos = divmod(ns, 1_000_000_000)
    assert text == canonical(datetime.fromtimestamp(seconds, UTC), nanos)


def test_since_parameter_is_seconds_dot_nanoseconds() -> None:
    assert since_parameter(NOW) == "1795757073.719017066"
    assert since_parameter("1970-01-01T00:00:05.000000001Z") == "5.000000001"


@given(st.integers(0, LAST_NS))
def test_since_parameter_keeps_every_nanosecond(ns: int) -> None:
    seconds, _, nanos = since_parameter(format_timestamp_ns(ns)).partition(".")
    assert int(seconds) * 1_000_000_000 + int(nanos) == ns
    assert len(nanos) == 9


# -- --since ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ago_ns"),
    [
        ("10m", 600 * 10**9),
        ("1h30m", 5400 * 10**9),
        ("500ms", 500 * 10**6),
        ("90s", 90 * 10**9),
        ("1.5h", 5400 * 10**9),
        ("2d", 2 * 86400 * 10**9),
        ("1m30s", 90 * 10**9),
        ("250us", 250_000),
        ("250µs", 250_000),
        ("7ns", 7),
        ("1h0m0s", 3600 * 10**9),
        ("  10m\n", 600 * 10**9),
    ],
)
def test_parse_since_reads_a_duration_as_that_long_ago(text: str, ago_ns: int) -> None:
    assert parse_since(text, NOW_NS) == format_timestamp_ns(NOW_NS - ago_ns)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T05:00:00Z", "2026-11-27T05:00:00.000000000Z"),
        ("2026-11-27T06:00:00.25+01:00", "2026-11-27T05:00:00.250000000Z"),
        ("2026-11-27", "2026-11-27T00:00:00.000000000Z"),
        ("1795757073", "2026-11-27T05:24:33.000000000Z"),
        ("1795757073.5", "2026-11-27T05:24:33.500000000Z"),
        ("1795757073.719017066", NOW),
        ("0", "1970-01-01T00:00:00.000000000Z"),
    ],
)
def test_parse_since_reads_times_dates_and_unix_seconds(text: str, expected: str) -> None:
    assert parse_since(text, NOW_NS) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "10 minutes",
        "1h 30m",
        "10x",
        "-5m",
        "m",
        "1795757073.1234567891",
        "2026-11-31",
        "2026-11-27T25:00:00Z",
        "27/11/2026",
    ],
)
def test_parse_since_rejects_garbage_and_says_what_it_expected(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_since(text, NOW_NS)
    message = str(info.value)
    assert f"cannot read {text!r} as a time" in message
    for hint in ("10m", "1h30m", "RFC 3339", "a date", "Unix seconds"):
        assert hint in message
