"""Routing: every destination gets the records its filter wants, in order, without blocking."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from logship.config.filters import DestinationFilter
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.router import Route, Router
from logship.record import Record
from tests.helpers.records import make_meta

WEB = make_meta(
    id="abc123" + "0" * 58,
    name="web_1",
    image="nginx:1",
    labels={"tier": "front", "io.kubernetes.pod.namespace": "payments"},
)
DB = make_meta(id="def456" + "0" * 58, name="pg_db", image="postgres:16", labels={"tier": "data"})
TS = "2026-11-27T00:00:00.000000000Z"


def batch() -> list[Record]:
    return [
        Record("web out", "stdout", TS, WEB),
        Record("db out", "stdout", TS, DB),
        Record("web err", "stderr", TS, WEB),
        Record("db err", "stderr", TS, DB),
    ]


def buffer() -> DropOldestBuffer:
    return DropOldestBuffer(max_records=100, max_bytes=1 << 20)


def routed(**filter_options: object) -> list[str]:
    route = Route(buffer(), DestinationFilter.model_validate(filter_options))
    Router([route]).emit(batch())
    return [r.message for r in route.buffer.take(100)]


def test_a_destination_without_filter_gets_everything_in_order() -> None:
    assert routed() == ["web out", "db out", "web err", "db err"]


def test_filter_name_is_a_glob_on_the_container_name() -> None:
    assert routed(name="*_db") == ["db out", "db err"]


def test_filter_id_is_a_prefix_of_the_container_id() -> None:
    assert routed(id="abc1") == ["web out", "web err"]


def test_filter_sources_picks_streams() -> None:
    assert routed(sources="stderr") == ["web err", "db err"]
    assert routed(sources=["stdout", "stderr"]) == ["web out", "db out", "web err", "db err"]


def test_filter_labels_must_all_match_and_values_may_be_globs() -> None:
    assert routed(labels="tier:front") == ["web out", "web err"]
    assert routed(labels="tier:*") == ["web out", "db out", "web err", "db err"]
    assert routed(labels="tier:front,io.kubernetes.pod.namespace:pay*") == ["web out", "web err"]
    assert routed(labels="tier:front,io.kubernetes.pod.namespace:other") == []
    assert routed(labels="missing:*") == []


def test_conditions_combine() -> None:
    assert routed(name="web*", sources="stderr") == ["web err"]


def test_each_destination_filters_on_its_own_and_counts_what_it_left() -> None:
    everything, errors_only = (
        Route(buffer()),
        Route(buffer(), DestinationFilter(sources=["stderr"])),
    )
    Router([everything, errors_only]).emit(batch())
    assert len(everything.buffer) == 4
    assert [r.message for r in errors_only.buffer.take(10)] == ["web err", "db err"]
    assert (everything.filtered, errors_only.filtered) == (0, 2)


def test_a_full_destination_drops_its_oldest_and_the_other_still_gets_everything() -> None:
    small = Route(DropOldestBuffer(max_records=2, max_bytes=1 << 20))
    roomy = Route(buffer())
    Router([small, roomy]).emit(batch())
    assert [r.message for r in small.buffer.take(10)] == ["web err", "db err"]
    assert small.buffer.dropped == 2
    assert len(roomy.buffer) == 4


def test_a_label_filter_without_a_colon_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="'tier=front' must be key:value"):
        DestinationFilter.model_validate({"labels": "tier=front"})
