"""``/metrics``: what the agent reads, sends, drops and retries, in Prometheus' text format.

Nothing here runs per line. The components already count (buffers, routes, runners, the
source's decoders, the transports); this collector reads those plain integers when Prometheus
scrapes. The one count they do not keep, records read per container and stream, is taken per
decoded batch by a tap on the router (:class:`~logship.server.reads.ReadCounter`). Series per
container (opt-in: ``metrics.per_container``) exist while the engine knows the container;
when it is removed its counts move into the totals, which therefore never go down.

Every metric is listed in docs/operators-window.md; a test keeps that page and this module in
step.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from logship import __version__
from logship.pipeline.destination import Destination
from logship.pipeline.observer import DeliveryObserver
from logship.pipeline.runner import ERROR_REASONS
from logship.pipeline.running import Destinations, Reloads
from logship.record import STDERR, STDOUT, Record
from logship.server.live import LiveHub
from logship.server.reads import ReadCounter
from logship.sources.base import ContainerView, Source
from logship.transform.multiline import MultilineStage

SEND_BUCKETS_SECS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class AgentCollector(Collector):
    """Reads the source's and the destinations' counters at scrape time; the series per
    container only with ``per_container``."""

    def __init__(
        self,
        source: Source,
        destinations: Destinations,
        reads: ReadCounter,
        hub: LiveHub,
        *,
        per_container: bool = False,
        ready: Callable[[], bool] | None = None,
        reloads: Reloads | None = None,
    ) -> None:
        self.source = source
        self.destinations = destinations
        self.reloads = reloads
        self.reads = reads
        self.hub = hub
        self.per_container = per_container
        self.ready = ready

    def collect(self) -> Iterator[Metric]:
        if self.ready is not None:
            yield GaugeMetricFamily(
                "logship_ready",
                "1 while /readyz answers 200: the engine (or the pod logs) can be read, no "
                "destination is down for longer than its retry window, not shutting down.",
                value=int(self.ready()),
            )
        yield from self._source()
        yield from self._destinations()
        yield from self._live()
        if self.reloads is not None:
            yield from self._reloads(self.reloads)

    def _source(self) -> Iterator[Metric]:
        source = self.source
        containers = source.containers()
        reads = self.reads
        reads.settle()
        info = GaugeMetricFamily(
            "logship_build_info",
            "Always 1: the version of logship and of the Python running it.",
            labels=["version", "python"],
        )
        info.add_metric([__version__, platform.python_version()], 1)
        yield info

        total = CounterMetricFamily(
            "logship_records_read",
            "Lines read from containers' logs, all containers ever followed.",
            labels=["stream"],
        )
        for stream, count in reads.totals().items():
            total.add_metric([stream], count)
        yield total

        if self.per_container:
            yield self._per_container(containers)

        decoded = reads.decoded()
        yield CounterMetricFamily(
            "logship_bytes_read",
            "Bytes of containers' logs read, as the engine's stream or the log file holds "
            "them (frame headers, the runtime's JSON or CRI wrapping included).",
            value=decoded.get("bytes_read", 0),
        )
        yield CounterMetricFamily(
            "logship_lines_truncated",
            "Lines longer than max_line_bytes, shipped cut to it with a marker (not dropped).",
            value=decoded.get("truncated", 0),
        )
        problems = CounterMetricFamily(
            "logship_log_stream_problems",
            "What in containers' log streams was not as Docker writes it, each counted and "
            "skipped or kept: bad_timestamp (an entry kept with the last time), "
            "malformed_frame (bytes skipped up to the next frame), engine_error (an error the "
            "engine wrote into the stream), truncated_frame (a frame cut off by the stream's end), "
            "malformed_line (a line of a log file not in the runtime's format, shipped as it is).",
            labels=["problem"],
        )
        for problem, name in (
            ("bad_timestamp", "bad_timestamps"),
            ("malformed_frame", "malformed_frames"),
            ("engine_error", "engine_errors"),
            ("truncated_frame", "truncated_frames"),
            ("malformed_line", "malformed_lines"),
        ):
            problems.add_metric([problem], decoded.get(name, 0))
        yield problems
        yield CounterMetricFamily(
            "logship_log_stream_skipped_bytes",
            "Bytes of containers' log streams that were no Docker log frame, skipped.",
            value=decoded.get("skipped_bytes", 0),
        )
        yield GaugeMetricFamily(
            "logship_containers_followed",
            "Containers whose log is being read now.",
            value=sum(1 for c in containers.values() if c.following),
        )
        yield GaugeMetricFamily(
            "logship_engine_up",
            "1 while the Docker engine answers and its events stream works.",
            value=int(source.status().connected),
        )
        stats = source.stats()
        errors = CounterMetricFamily(
            "logship_engine_errors",
            "Failures talking to the Docker engine: connecting at start, the events stream "
            "breaking (then reconnected), a container's log stream failing (then read again).",
            labels=["operation"],
        )
        errors.add_metric(["connect"], stats.connect_errors)
        errors.add_metric(["events"], stats.events_errors)
        errors.add_metric(["logs"], stats.stream_errors)
        yield errors
        yield CounterMetricFamily(
            "logship_engine_events_skipped",
            "Lines of the engine's events stream that were no container event, skipped.",
            value=stats.events_skipped,
        )
        yield CounterMetricFamily(
            "logship_lines_split",
            "Times lines still being read held more than max_partial_bytes, all containers "
            "together, and the longest was shipped in parts (nothing is dropped).",
            value=stats.partial_splits,
        )
        parse = self.hub.router.parse
        yield CounterMetricFamily(
            "logship_lines_not_json",
            "Lines of containers whose lines are parsed as JSON (the parse setting or the "
            "logship.parse label) that were no JSON object, shipped as they are.",
            value=parse.not_json if parse is not None else 0,
        )
        yield from self._multiline()
        yield CounterMetricFamily(
            "logship_engine_invalid_ids",
            "Containers the engine listed or inspected with an ID that is not 64 lowercase hex "
            "digits (or an inspect answered for another ID), skipped.",
            value=stats.invalid_ids,
        )

    def _multiline(self) -> Iterator[Metric]:
        """The multiline joiners' counts: the one for every destination that uses the global
        setting (``joiner="shared"``), and each destination's own (its name)."""
        label = ["joiner"]
        joined = CounterMetricFamily(
            "logship_multiline_records_joined",
            "Records made of more than one line by multiline joining.",
            labels=label,
        )
        flushed = CounterMetricFamily(
            "logship_multiline_records_flushed",
            "Records given out because no line came for them for flush_timeout_secs (the "
            "last trace of a container that went quiet).",
            labels=label,
        )
        cut = CounterMetricFamily(
            "logship_multiline_records_cut",
            "Records given out full, at max_lines or max_bytes: the rest of their trace "
            "begins the next record.",
            labels=label,
        )
        stages: list[tuple[str, MultilineStage]] = []
        shared = self.hub.router.stage
        if shared is not None:
            stages.append(("shared", shared))
        for name, destination in self.destinations.named():
            if destination.route.stage is not None:
                stages.append((name, destination.route.stage))
        for name, stage in stages:
            joined.add_metric([name], stage.joined)
            flushed.add_metric([name], stage.flushed)
            cut.add_metric([name], stage.cut)
        yield from (joined, flushed, cut)

    def _per_container(self, containers: Mapping[str, ContainerView]) -> Metric:
        per = CounterMetricFamily(
            "logship_container_records_read",
            "Lines read per container followed (its series go when it is removed).",
            labels=["container_id", "container_name", "image", "stream"],
        )
        for container_id, entry in self.reads.current.items():
            container = containers.get(container_id)
            if container is None or (container.skip_reason is not None and not entry.read):
                continue  # gone, or never followed
            meta = container.meta
            labels = [meta.short_id, meta.name, meta.image]
            per.add_metric([*labels, STDOUT], entry.stdout)
            per.add_metric([*labels, STDERR], entry.stderr)
        return per

    def _reloads(self, reloads: Reloads) -> Iterator[Metric]:
        """As Prometheus itself reports its own: a counter by result, whether the last one
        applied, and when the configuration last did (at start until the first reload)."""
        count = CounterMetricFamily(
            "logship_config_reloads",
            "Configuration reloads (SIGHUP), by result: success (the new configuration "
            "runs), failure (it was invalid or could not be built: the running one is kept).",
            labels=["result"],
        )
        count.add_metric(["success"], reloads.succeeded)
        count.add_metric(["failure"], reloads.failed)
        yield count
        yield GaugeMetricFamily(
            "logship_config_last_reload_successful",
            "1 if the last reload applied (or none was tried), 0 if it failed.",
            value=int(reloads.last_ok),
        )
        yield GaugeMetricFamily(
            "logship_config_last_reload_success_timestamp_seconds",
            "When the running configuration was applied: the last successful reload, or the "
            "start (Unix seconds).",
            value=reloads.last_success,
        )

    def _destinations(self) -> Iterator[Metric]:
        label = ["destination"]
        sent = CounterMetricFamily(
            "logship_records_sent", "Records the destination took.", labels=label
        )
        dropped = CounterMetricFamily(
            "logship_records_dropped",
            "Records not sent, by reason: buffer_full (shed to make room while the destination "
            "was slow or down: the oldest of the container holding the most), too_large "
            "(refused for good for its size: over GELF's 128 chunks, over the server's "
            "request limit), encode_error (a record the sink failed on: its encoder could not "
            "take it), rejected (refused for good for any other reason), filtered (not "
            "wanted by the destination's filter), spool_full (the disk spool's oldest "
            "segment, deleted to make room), spool_damaged (a torn or corrupt spool segment), "
            "disk_full and disk_error (the disk refused the spool a write or an fsync: out of "
            "space or quota, or any other error).",
            labels=[*label, "reason"],
        )
        sent_bytes = CounterMetricFamily(
            "logship_bytes_sent",
            "Bytes handed to the destination: datagrams sent, bytes written to its connection, "
            "HTTP request bodies answered; what is sent again after a failure counts again.",
            labels=label,
        )
        errors = CounterMetricFamily(
            "logship_destination_errors",
            "Failed attempts to deliver, by reason: connect (opening the destination), send "
            "(a batch it did not take, retried), partial (it took part of a batch and pushed "
            "back the rest, retried), rejected (it refused records for good), encode (the "
            "sink failed on a record).",
            labels=[*label, "reason"],
        )
        retries = CounterMetricFamily(
            "logship_destination_retries",
            "Attempts to send a batch again after a failure that a retry can fix.",
            labels=label,
        )
        reconnects = CounterMetricFamily(
            "logship_destination_reconnects",
            "Times the destination came back after being down.",
            labels=label,
        )
        up = GaugeMetricFamily(
            "logship_destination_up", "1 while the destination takes records.", labels=label
        )
        host_up = GaugeMetricFamily(
            "logship_destination_host_up",
            "1 while this host of the destination (an Elasticsearch node) answers; 0 while it "
            "is set aside after failing, its requests going to the other hosts.",
            labels=[*label, "host"],
        )
        host_errors = CounterMetricFamily(
            "logship_destination_host_errors",
            "Requests this host of the destination failed (no answer, or 502, 503, 504), "
            "each sent on to the next host.",
            labels=[*label, "host"],
        )
        fill = GaugeMetricFamily(
            "logship_buffer_records", "Records waiting in the destination's buffer.", labels=label
        )
        fill_bytes = GaugeMetricFamily(
            "logship_buffer_bytes",
            "Memory the records waiting in the destination's buffer take (each message as "
            "Python holds it, plus ~160 per record).",
            labels=label,
        )
        limit = GaugeMetricFamily(
            "logship_buffer_max_records", "The buffer's bound in records.", labels=label
        )
        limit_bytes = GaugeMetricFamily(
            "logship_buffer_max_bytes", "The buffer's bound in bytes.", labels=label
        )
        spool_records = GaugeMetricFamily(
            "logship_spool_records",
            "Records in the destination's disk spool (waiting to be written, or to be sent).",
            labels=label,
        )
        spool_bytes = GaugeMetricFamily(
            "logship_spool_bytes", "Bytes of the destination's disk spool files.", labels=label
        )
        spool_limit = GaugeMetricFamily(
            "logship_spool_max_bytes", "The disk spool's bound in bytes.", labels=label
        )
        for name, destination in self.destinations.named():
            d = destination.stats()
            sent.add_metric([name], d.sent)
            sent_bytes.add_metric([name], d.bytes_sent)
            for reason in ERROR_REASONS:
                errors.add_metric([name, reason], d.errors.get(reason, 0))
            spool = d.spool
            if spool is None:
                dropped.add_metric([name, "buffer_full"], d.shed)
            else:  # what the buffer shed went to the spool, not away
                dropped.add_metric([name, "buffer_full"], d.shed - spool.received)
                dropped.add_metric([name, "spool_full"], spool.dropped)
                dropped.add_metric([name, "spool_damaged"], spool.damaged)
                dropped.add_metric([name, "disk_full"], spool.disk_full)
                dropped.add_metric([name, "disk_error"], spool.disk_error)
                spool_records.add_metric([name], spool.records)
                spool_bytes.add_metric([name], spool.bytes)
                spool_limit.add_metric([name], spool.max_bytes)
            dropped.add_metric([name, "rejected"], d.rejected - d.too_large - d.encode_errors)
            dropped.add_metric([name, "encode_error"], d.encode_errors)
            dropped.add_metric([name, "too_large"], d.too_large)
            dropped.add_metric([name, "filtered"], d.filtered)
            retries.add_metric([name], d.retries)
            reconnects.add_metric([name], d.reconnects)
            up.add_metric([name], int(d.up))
            for host in d.hosts:
                host_up.add_metric([name, host.name], int(host.up))
                host_errors.add_metric([name, host.name], host.failures)
            fill.add_metric([name], d.buffered)
            fill_bytes.add_metric([name], d.buffered_bytes)
            limit.add_metric([name], d.max_records)
            limit_bytes.add_metric([name], d.max_bytes)
        yield from (sent, sent_bytes, dropped, errors, retries, reconnects, up)
        yield from (host_up, host_errors)
        yield from (fill, fill_bytes, limit, limit_bytes)
        yield from (spool_records, spool_bytes, spool_limit)

    def _live(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "logship_http_logs_clients", "Readers of /logs now.", value=len(self.hub.subscribers)
        )
        yield CounterMetricFamily(
            "logship_http_logs_records_skipped",
            "Records /logs readers missed because they read slower than the logs came.",
            value=self.hub.skipped_total(),
        )
        refused = CounterMetricFamily(
            "logship_http_logs_readers_refused",
            "Readers of /logs turned away: every place taken (busy), or the places one client "
            "may hold (client_busy).",
            labels=["reason"],
        )
        for reason in ("busy", "client_busy"):
            refused.add_metric([reason], self.hub.refused[reason])
        yield refused
        yield CounterMetricFamily(
            "logship_http_logs_readers_stalled",
            "Readers of /logs disconnected for taking nothing for http.log_reader_timeout_secs.",
            value=self.hub.stalled,
        )


class SendTimer(DeliveryObserver):
    """Times each successful send of a destination into its histogram."""

    __slots__ = ("_observe",)

    def __init__(self, observe: Callable[[float], None]) -> None:
        self._observe = observe

    def sent(self, batch: list[Record], seconds: float) -> None:
        self._observe(seconds)


def build_registry(
    source: Source,
    destinations: Destinations,
    reads: ReadCounter,
    hub: LiveHub,
    *,
    per_container: bool = False,
    ready: Callable[[], bool] | None = None,
    reloads: Reloads | None = None,
) -> CollectorRegistry:
    """The agent's metrics (per container too with ``per_container``; ``ready`` says what
    /readyz would), its send-latency
    histograms (each destination's sends are timed from now on) and the process's CPU and
    memory. A registry of its own, never the library's global one."""
    registry = CollectorRegistry(auto_describe=False)
    collector = AgentCollector(
        source,
        destinations,
        reads,
        hub,
        per_container=per_container,
        ready=ready,
        reloads=reloads,
    )
    registry.register(collector)
    ProcessCollector(registry=registry)
    histogram = Histogram(
        "logship_send_duration_seconds",
        "Time one successful send of a batch to the destination took.",
        ["destination"],
        buckets=SEND_BUCKETS_SECS,
        registry=registry,
    )
    labels: dict[int, str] = {}  # id of each destination timed -> its label

    def timed(destination: Destination) -> None:
        name = labels[id(destination)] = next(
            n for n, d in destinations.named() if d is destination
        )
        destination.observe(SendTimer(histogram.labels(destination=name).observe))

    def gone(destination: Destination) -> None:
        """A reload took it away: its series go with it (a changed one's start again)."""
        name = labels.pop(id(destination), None)
        if name is not None and name not in labels.values():
            histogram.remove(name)

    destinations.watch(timed, gone)  # those a reload adds and removes too
    return registry
