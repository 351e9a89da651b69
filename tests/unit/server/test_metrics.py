"""The HTTP server's metrics without a socket: destination labels, read and decoder counts."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from logship.pipeline.running import Destinations, unique_names
from logship.record import ContainerMeta, Record
from logship.server.metrics import ReadCounter
from tests.helpers.records import TS, make_meta


def test_destination_names_used_twice_get_a_number() -> None:
    assert unique_names(["console (text)", "syslog", "console (text)", "console (text)"]) == [
        "console (text)",
        "syslog",
        "console (text) #2",
        "console (text) #3",
    ]


def meta(container_id: str) -> ContainerMeta:
    return make_meta(id=container_id, name=f"n-{container_id}")


def source_of(containers: dict[str, Any]) -> Any:
    """A source that knows these containers (what ReadCounter asks of a source)."""
    return SimpleNamespace(containers=lambda: containers)


def test_reads_are_counted_per_container_and_stream_and_kept_when_it_goes() -> None:
    a, b = meta("a" * 64), meta("b" * 64)
    containers: dict[str, Any] = {a.id: None, b.id: None}
    reads = ReadCounter(source_of(containers))
    ts = "2026-01-01T00:00:00.000000000Z"
    reads(
        [Record("x", "stdout", ts, a), Record("y", "stderr", ts, a), Record("z", "stdout", ts, a)]
    )
    reads([Record("x", "stderr", ts, b)])
    reads([])
    assert (reads.current[a.id].stdout, reads.current[a.id].stderr) == (2, 1)
    assert reads.totals() == {"stdout": 2, "stderr": 2}
    del containers[a.id]  # the engine removed it
    reads.settle()
    assert set(reads.current) == {b.id}
    assert reads.totals() == {"stdout": 2, "stderr": 2}
    # a batch that mixes containers (no source makes one) is still counted right
    reads([Record("x", "stdout", ts, b), Record("y", "stdout", ts, a)])
    assert reads.totals() == {"stdout": 4, "stderr": 2}


def test_what_is_kept_of_containers_that_went_stays_bounded_when_nobody_scrapes() -> None:
    # --http for the probes only (no Prometheus): thousands of short-lived containers must not
    # each leave their counts (and their metadata) behind until a scrape that never comes
    containers: dict[str, Any] = {}
    reads = ReadCounter(source_of(containers))
    ts = "2026-01-01T00:00:00.000000000Z"
    for n in range(5000):
        m = meta(f"{n:064x}")
        containers[m.id] = None
        reads([Record("x", "stdout", ts, m), Record("y", "stderr", ts, m)])
        del containers[m.id]  # it ran, logged, and was removed
    assert len(reads.current) < 200
    assert reads.totals() == {"stdout": 5000, "stderr": 5000}


def test_decoder_counts_are_summed_and_kept_when_a_container_goes() -> None:
    class Container:
        def __init__(self, **counts: int) -> None:
            self.decoded = counts

        def counts(self) -> dict[str, int]:
            return self.decoded

    containers: dict[str, Any] = {
        "a": Container(truncated=2, malformed_frames=1, skipped_bytes=10),
        "b": Container(truncated=1, engine_errors=3),
        "c": Container(),  # read nothing: counted all the same
    }
    reads = ReadCounter(source_of(containers))
    reads.settle()
    expected = {"truncated": 3, "malformed_frames": 1, "skipped_bytes": 10, "engine_errors": 3}
    assert reads.decoded() == expected
    containers["a"].decoded["truncated"] = 4  # its last lines, then it goes
    del containers["a"]
    reads.settle()
    assert reads.decoded() == {**expected, "truncated": 5}


def test_a_log_files_malformed_lines_are_a_stream_problem_in_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from logship.pipeline.router import Router
    from logship.server.live import LiveHub
    from logship.server.metrics import AgentCollector
    from logship.sources.base import EngineStatus, SourceStats

    class Container:
        meta = make_meta()
        skip_reason = None
        following = True

        def counts(self) -> dict[str, int]:
            return {"malformed_lines": 3, "truncated": 1}

    containers = {Container.meta.id: Container()}
    source = SimpleNamespace(
        containers=lambda: containers,
        status=lambda: EngineStatus("/var/log/pods", connected=True),
        stats=lambda: SourceStats(0, 0, 0, 0, 0),
    )
    reads = ReadCounter(source)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(source, Destinations([]), reads, LiveHub(Router([]), source)))
    text = generate_latest(registry).decode()
    assert 'logship_log_stream_problems_total{problem="malformed_line"} 3.0' in text
    assert "logship_lines_truncated_total 1.0" in text


def test_multiline_joining_is_counted_on_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from logship.config.multiline import MultilineConfig
    from logship.pipeline.router import Router
    from logship.server.live import LiveHub
    from logship.server.metrics import AgentCollector
    from logship.sources.base import EngineStatus, SourceStats
    from logship.transform.multiline import MultilineStage
    from logship.transform.rules import compile_rule

    rule = compile_rule(MultilineConfig(preset="java", max_lines=2))
    stage = MultilineStage(lambda meta: rule)
    meta = make_meta()
    trace = [
        "java.lang.IllegalStateException: boom",
        "\tat a.B.c(B.java:1)",
        "\tat a.B.d(B.java:2)",
    ]
    stage.push([Record(line, "stderr", TS, meta, n) for n, line in enumerate(trace)], 0.0)
    stage.due(10.0)  # the third frame, held open: shipped when its flush timeout passed
    source = SimpleNamespace(
        containers=dict,
        status=lambda: EngineStatus("/var/run/docker.sock", connected=True),
        stats=lambda: SourceStats(0, 0, 0, 0, 0),
    )
    collector = AgentCollector(
        source, Destinations([]), ReadCounter(source), LiveHub(Router([], stage), source)
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    assert 'logship_multiline_records_joined_total{joiner="shared"} 1.0' in text
    assert 'logship_multiline_records_cut_total{joiner="shared"} 1.0' in text
    assert 'logship_multiline_records_flushed_total{joiner="shared"} 1.0' in text


async def test_a_line_the_sink_failed_on_is_dropped_as_encode_error_not_rejected() -> None:
    from logship.pipeline.destination import Destination
    from logship.server.metrics import AgentCollector

    class Picky:
        """A sink whose encoder cannot take the line "bad"."""

        name = "picky"
        bytes_sent = 0

        async def open(self) -> None:
            return None

        async def send(self, batch: list[Record]) -> None:
            if any(r.message == "bad" for r in batch):
                raise UnicodeEncodeError("utf-8", "bad", 0, 1, "surrogates not allowed")

        async def close(self) -> None:
            return None

    destination = Destination(Picky())
    ts = "2026-01-01T00:00:00.000000000Z"
    m = meta("a" * 64)
    destination.route.put([Record(text, "stdout", ts, m) for text in ("ok", "bad", "ok")])
    destination.close_input()
    await destination.run()
    collector = AgentCollector(
        source_of({}), Destinations([destination]), ReadCounter(source_of({})), SimpleNamespace()
    )
    (dropped,) = [f for f in collector._destinations() if f.name == "logship_records_dropped"]
    by_reason = {s.labels["reason"]: s.value for s in dropped.samples}
    assert by_reason["encode_error"] == 1 and by_reason["rejected"] == 0
    (sent,) = [f for f in collector._destinations() if f.name == "logship_records_sent"]
    assert [s.value for s in sent.samples if s.name.endswith("_total")] == [2]


def collector_text(containers: dict[str, Any], **options: Any) -> str:
    """What /metrics would say of a source knowing ``containers`` (no destinations)."""
    from prometheus_client import CollectorRegistry, generate_latest

    from logship.pipeline.router import Router
    from logship.server.live import LiveHub
    from logship.server.metrics import AgentCollector
    from logship.sources.base import EngineStatus, SourceStats

    source = SimpleNamespace(
        containers=lambda: containers,
        status=lambda: EngineStatus("/var/log/pods", connected=True),
        stats=lambda: SourceStats(0, 0, 0, 0, 0),
    )
    reads = ReadCounter(source)
    ts = "2026-01-01T00:00:00.000000000Z"
    for container in containers.values():
        reads([Record("x", "stdout", ts, container.meta)])
    registry = CollectorRegistry(auto_describe=False)
    collector = AgentCollector(
        source, Destinations([]), reads, LiveHub(Router([]), source), **options
    )
    registry.register(collector)
    return generate_latest(registry).decode()


class Followed:
    def __init__(self, container_id: str, **counts: int) -> None:
        self.meta = meta(container_id)
        self.skip_reason = None
        self.following = True
        self.decoded = counts

    def counts(self) -> dict[str, int]:
        return self.decoded


def test_series_per_container_only_when_asked_for() -> None:
    containers: dict[str, Any] = {"a" * 64: Followed("a" * 64)}
    text = collector_text(containers)
    assert "logship_container_records_read" not in text
    assert 'logship_records_read_total{stream="stdout"} 1.0' in text
    text = collector_text(containers, per_container=True)
    assert (
        f'logship_container_records_read_total{{container_id="{"a" * 12}",'
        f'container_name="n-{"a" * 64}",image="logship-test/busybox:1.35",stream="stdout"}} 1.0'
    ) in text


def test_bytes_read_are_what_the_decoders_read_and_build_info_names_python() -> None:
    import platform

    from logship import __version__

    containers: dict[str, Any] = {
        "a" * 64: Followed("a" * 64, bytes_read=100),
        "b" * 64: Followed("b" * 64, bytes_read=23),
    }
    text = collector_text(containers)
    assert "logship_bytes_read_total 123.0" in text
    assert (
        f'logship_build_info{{python="{platform.python_version()}",version="{__version__}"}} 1.0'
    ) in text
    assert "logship_info" not in text


def test_a_destination_a_reload_removes_leaves_no_send_time_series() -> None:
    from prometheus_client import generate_latest

    from logship.pipeline.destination import Destination
    from logship.pipeline.router import Router
    from logship.server.live import LiveHub
    from logship.server.metrics import build_registry

    class Named:
        bytes_sent = 0

        def __init__(self, name: str) -> None:
            self.name = name

    from logship.sources.base import EngineStatus, SourceStats

    source = SimpleNamespace(
        containers=dict,
        status=lambda: EngineStatus("/var/log/pods", connected=True),
        stats=lambda: SourceStats(0, 0, 0, 0, 0),
    )
    stays, goes, comes = (Destination(Named(n)) for n in ("stays", "goes", "comes"))
    live = Destinations([stays, goes])
    registry = build_registry(source, live, ReadCounter(source), LiveHub(Router([]), source))

    def timed() -> set[str]:
        text = generate_latest(registry).decode()
        return set(re.findall(r'logship_send_duration_seconds_count\{destination="([^"]+)"', text))

    assert timed() == {"stays", "goes"}
    live.replace([stays, comes])
    assert timed() == {"stays", "comes"}
