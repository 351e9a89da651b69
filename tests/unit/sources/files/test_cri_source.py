"""CriSource on a node's pod logs in temporary directories, written as the kubelet has the
runtime write them (tests/helpers/kubelet.py): which containers it finds and what it knows of
them, where it starts reading each, pods coming and going, filters, and a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from logship.record import Record, ResumePosition, format_timestamp_ns, resume_position
from logship.sources.base import ReadOptions, Resume
from logship.sources.files.cri import CriSource
from logship.sources.files.pods import PodLog, container_ids
from logship.sources.filters import ContainerFilter, Selector
from logship.state.checkpoints import CheckpointStore
from tests.helpers.kubelet import START_NS, Clock, JsonFileWriter, PodLogs, container_id
from tests.helpers.records import HOST
from tests.helpers.waiting import until

NOW = format_timestamp_ns(START_NS + 3600 * 10**9)  # the agent starts an hour after the pods
NAMESPACE = "io.kubernetes.pod.namespace"
UID = "0b1c6d2e-1f3a-4b5c-8d9e-0a1b2c3d4e5f"


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[PodLogs]:
    node = PodLogs(tmp_path / "pods", tmp_path / "containers")
    yield node
    node.close()


class Shipped:
    """What a source emitted, and a way to wait for more."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self._more = asyncio.Event()

    def emit(self, records: list[Record]) -> None:
        assert len({r.meta.id for r in records}) == 1  # one container per batch
        self.records.extend(records)
        self._more.set()

    def of(self, name: str) -> list[str]:
        return [r.message for r in self.records if r.meta.name == name]

    async def until(self, name: str, n: int, *, limit_secs: float = 10) -> list[str]:
        try:
            async with asyncio.timeout(limit_secs):
                while len(self.of(name)) < n:
                    self._more.clear()
                    await self._more.wait()
        except TimeoutError:
            raise AssertionError(f"{n} lines of {name} expected, got {self.of(name)}") from None
        return self.of(name)


@asynccontextmanager
async def running(
    logs: PodLogs,
    *,
    since: str | None = NOW,
    resume: Resume | None = None,
    filter: ContainerFilter | None = None,
    rescan_secs: float = 0.2,
) -> AsyncIterator[tuple[CriSource, Shipped]]:
    """A source following ``logs`` (``since``: as the agent starts it, without --backlog)."""
    shipped = Shipped()
    source = CriSource(
        shipped.emit,
        host=HOST,
        pods_dir=logs.pods_dir,
        links_dir=logs.links_dir,
        filter=filter,
        options=ReadOptions(since=since),
        resume=resume,
        rescan_secs=rescan_secs,
        look_again_secs=0.05,
    )
    task = asyncio.create_task(source.run())
    try:
        await asyncio.wait_for(asyncio.shield(source.ready.wait()), 5)
        yield source, shipped
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.stop()


async def holding(source: CriSource, cid: str) -> None:
    """Wait until the source's tail of container ``cid`` holds its file open."""

    async def check() -> bool:
        container = source.containers().get(cid)
        tail = getattr(container, "tail", None)
        return tail is not None and bool(tail.files)

    await until(check, limit_secs=10, what=f"{cid[:12]}'s file open")


def lines(n: int, prefix: str = "line", first: int = 0) -> list[str]:
    return [f"{prefix} {i}" for i in range(first, first + n)]


def write(log: Any, n: int, prefix: str = "line", first: int = 0) -> list[str]:
    written = lines(n, prefix, first)
    for line in written:
        log.write(line)
    return written


def checkpoint(source: CriSource, shipped: Shipped, state_dir: Path) -> dict[str, Any]:
    """What the next run reads back of the checkpoint file the checkpointer would write now,
    every record emitted being shipped: per container followed, where reading resumes after
    its last record, else where reading it began (logship.state.progress.checkpoint)."""
    last = {r.meta.id: r for r in shipped.records}
    positions: dict[str, ResumePosition | None] = {}
    for cid, container in source.containers().items():
        if container.skip_reason is None:
            positions[cid] = resume_position(last[cid]) if cid in last else container.start
    store = CheckpointStore(state_dir)
    store.open()
    try:
        assert store.write(positions, {})
        return dict(store.load().positions)
    finally:
        store.close()


# -- what the source finds -------------------------------------------------------------------------


async def test_each_container_gets_its_id_from_the_kubelets_link_and_its_kubernetes_metadata(
    logs: PodLogs,
) -> None:
    cid = container_id(7)
    nginx = logs.container("shop", "web-7d9f", UID, "nginx", restart=2, id=cid)
    async with running(logs, since=None) as (source, shipped):
        nginx.write("hello")
        await shipped.until("web-7d9f/nginx", 1)
        (record,) = shipped.records
    meta = record.meta
    assert meta.id == cid and meta.short_id == cid[:12]
    assert meta.name == "web-7d9f/nginx"
    assert meta.kubernetes is not None
    assert (
        meta.kubernetes.namespace,
        meta.kubernetes.pod_name,
        meta.kubernetes.pod_uid,
        meta.kubernetes.container_name,
        meta.kubernetes.restart_count,
    ) == ("shop", "web-7d9f", UID, "nginx", 2)
    assert meta.labels == {
        "io.kubernetes.pod.namespace": "shop",
        "io.kubernetes.pod.name": "web-7d9f",
        "io.kubernetes.pod.uid": UID,
        "io.kubernetes.container.name": "nginx",
    }
    assert meta.host == HOST and meta.image == ""
    assert meta.runtime == ""  # containerd or CRI-O: their files do not say which
    assert set(source.containers()) == {cid}
    assert source.status().connected


async def test_a_container_without_a_link_gets_a_stable_id_of_its_own(logs: PodLogs) -> None:
    logs.container("shop", "web-7d9f", UID, "sidecar", link=False).write("x")
    async with running(logs, since=None) as (first, _):
        (one,) = first.containers()
    async with running(logs, since=None) as (second, _):
        (again,) = second.containers()
    assert one == again == PodLog("shop", "web-7d9f", UID, "sidecar", 0).fallback_id()
    assert one.startswith("cri-") and len(one) == 64


def test_container_ids_read_the_links_as_links(logs: PodLogs, tmp_path: Path) -> None:
    cid = container_id(1)
    logs.container("kube-system", "dns-1", UID, "coredns", id=cid)
    (logs.links_dir / "not-a-link-name.log").symlink_to(tmp_path)
    (logs.links_dir / f"dangling_ns_c-{container_id(2)}.log").symlink_to("/nowhere/x/y/0.log")
    ids = container_ids(logs.links_dir)
    assert ids[(f"kube-system_dns-1_{UID}", "coredns", "0.log")] == cid
    assert ids[("x", "y", "0.log")] == container_id(2)  # the target need not exist here
    assert container_ids(tmp_path / "no such dir") == {}


def test_paths_that_are_not_pod_logs_are_not_containers() -> None:
    assert PodLog.of(Path(f"/var/log/pods/ns_pod_{UID}/c/0.log")) is not None
    assert PodLog.of(Path(f"/var/log/pods/ns_pod_{UID}/c/0.log.20261205-120000")) is None
    assert PodLog.of(Path(f"/var/log/pods/ns_pod_{UID}/c/0.log.20261205-120000.gz")) is None
    assert PodLog.of(Path("/var/log/pods/not-a-pod-dir/c/0.log")) is None
    assert PodLog.of(Path("0.log")) is None


# -- where each file is read from ------------------------------------------------------------------


async def test_files_there_at_start_are_read_from_their_end(logs: PodLogs) -> None:
    log = logs.container("shop", "web", UID, "app")
    write(log, 5, "old")
    async with running(logs) as (_, shipped):
        new = write(log, 3, "new")
        assert await shipped.until("web/app", 3) == new


async def test_with_backlog_files_there_at_start_are_read_from_their_start(logs: PodLogs) -> None:
    log = logs.container("shop", "web", UID, "app")
    old = write(log, 5, "old")
    async with running(logs, since=None) as (_, shipped):
        assert await shipped.until("web/app", 5) == old


async def test_a_file_born_while_no_agent_ran_is_read_from_its_start(logs: PodLogs) -> None:
    log = logs.container("shop", "web", UID, "app", clock=Clock(start_ns=START_NS))
    written = write(log, 4)
    created_after = format_timestamp_ns(START_NS - 10**9)  # the last checkpoint, before it
    async with running(logs, resume=Resume({}, created_after)) as (_, shipped):
        assert await shipped.until("web/app", 4) == written


async def test_a_pod_created_after_the_start_is_read_from_its_start(logs: PodLogs) -> None:
    async with running(logs) as (_, shipped):
        log = logs.container("shop", "new-pod", UID, "app")
        written = write(log, 6)
        assert await shipped.until("new-pod/app", 6) == written


async def test_a_restarted_container_is_a_new_container_read_from_its_start(
    logs: PodLogs,
) -> None:
    first = logs.container("shop", "web", UID, "app", restart=0, id=container_id(1))
    write(first, 2, "before")
    async with running(logs) as (source, shipped):
        again = logs.container("shop", "web", UID, "app", restart=1, id=container_id(2))
        written = write(again, 3, "after restart")
        assert await shipped.until("web/app", 3) == written
        assert {r.meta.id for r in shipped.records} == {container_id(2)}
        assert shipped.records[0].meta.kubernetes.restart_count == 1  # type: ignore[union-attr]
        assert set(source.containers()) == {container_id(1), container_id(2)}


async def test_a_removed_pods_file_is_read_to_its_end_then_forgotten(logs: PodLogs) -> None:
    log = logs.container("shop", "web", UID, "app", id=container_id(3))
    async with running(logs) as (source, shipped):
        await holding(source, container_id(3))
        written = write(log, 3)
        logs.remove_pod("shop", "web", UID)  # the runtime may still have had lines unread
        assert await shipped.until("web/app", 3) == written

        async def forgotten() -> bool:
            return not source.containers()

        await until(forgotten, limit_secs=10, what="the container forgotten")


async def test_a_rotation_of_a_followed_file_loses_nothing(logs: PodLogs) -> None:
    log = logs.container("shop", "web", UID, "app", max_files=3)
    async with running(logs) as (_, shipped):
        written: list[str] = []
        for round_ in range(5):
            written += write(log, 20, f"round {round_}")
            # the kubelet rotates a file once per 10 s at most: the reader is not that far behind
            await shipped.until("web/app", len(written) - 10)
            log.rotate()
        written += write(log, 1, "last")
        assert await shipped.until("web/app", len(written)) == written


# -- filters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("include", "exclude", "followed"),
    [
        (Selector(), Selector(), {"web/app", "web/sidecar", "db-0/postgres"}),
        (Selector(names=["web/*"]), Selector(), {"web/app", "web/sidecar"}),
        (Selector(names=["*/postgres"]), Selector(), {"db-0/postgres"}),
        (Selector(), Selector(names=["*/sidecar"]), {"web/app", "db-0/postgres"}),
        (Selector(labels=[f"{NAMESPACE}=shop"]), Selector(), {"web/app", "web/sidecar"}),
        (Selector(), Selector(labels=[f"{NAMESPACE}=data*"]), {"web/app", "web/sidecar"}),
        (Selector(labels=["io.kubernetes.container.name=app"]), Selector(), {"web/app"}),
    ],
)  # fmt: skip
async def test_containers_are_followed_as_the_filters_say(
    logs: PodLogs, include: Selector, exclude: Selector, followed: set[str]
) -> None:
    web = [logs.container("shop", "web", UID, c) for c in ("app", "sidecar")]
    db = logs.container("data", "db-0", UID[::-1], "postgres")
    async with running(
        logs, since=None, filter=ContainerFilter(include=include, exclude=exclude)
    ) as (source, shipped):
        for log in [*web, db]:
            log.write("hello")
        for name in followed:
            await shipped.until(name, 1)
        await asyncio.sleep(0.2)  # and nothing else comes
        assert {r.meta.name for r in shipped.records} == followed
        skipped = {c.meta.name for c in source.containers().values() if c.skip_reason}
        assert skipped == {"web/app", "web/sidecar", "db-0/postgres"} - followed


# -- after a restart -------------------------------------------------------------------------------


async def test_a_restart_resumes_each_file_where_the_checkpoint_says_each_line_once(
    logs: PodLogs, tmp_path: Path
) -> None:
    a = logs.container("shop", "web", UID, "app", id=container_id(1), max_files=3)
    b = logs.container("shop", "web", UID, "sidecar", id=container_id(2))
    write(a, 3, "before")
    async with running(logs) as (first, shipped_first):
        a_lines = write(a, 10, "a")
        b_lines = write(b, 4, "b")
        await shipped_first.until("web/app", 10)
        await shipped_first.until("web/sidecar", 4)
        saved = checkpoint(first, shipped_first, tmp_path)
    # while no agent runs: more lines, and a rotation
    a_lines += write(a, 5, "a", first=10)
    a.rotate()
    a_lines += write(a, 5, "a", first=15)
    b_lines += write(b, 2, "b", first=4)
    async with running(logs, resume=Resume(saved, NOW)) as (_, shipped_second):
        await shipped_second.until("web/app", 10)
        await shipped_second.until("web/sidecar", 2)
        await asyncio.sleep(0.2)  # and nothing else comes
    assert shipped_first.of("web/app") + shipped_second.of("web/app") == a_lines
    assert shipped_first.of("web/sidecar") + shipped_second.of("web/sidecar") == b_lines


async def test_a_container_read_from_its_end_resumes_there_when_nothing_was_shipped(
    logs: PodLogs, tmp_path: Path
) -> None:
    """The first run found the file and read it from its end, and shipped nothing of it (the
    container was quiet): the checkpoint must bring the next run back to that end, not to
    the file's start (lines never meant to be shipped) nor to its new end (lines lost)."""
    log = logs.container("shop", "web", UID, "app", id=container_id(1))
    write(log, 5, "old")
    async with running(logs) as (first, shipped_first):
        saved = checkpoint(first, shipped_first, tmp_path)
    written = write(log, 3, "while away")
    async with running(logs, resume=Resume(saved, NOW)) as (_, shipped):
        assert await shipped.until("web/app", 3) == written
        await asyncio.sleep(0.2)  # and nothing else comes
        assert shipped.of("web/app") == written


async def test_a_container_whose_checkpoint_is_its_whole_log_is_read_from_its_start(
    logs: PodLogs,
) -> None:
    """A checkpoint of None: the last run read this file from its start and shipped none of it
    (its destination was down, say)."""
    log = logs.container("shop", "web", UID, "app", id=container_id(1))
    written = write(log, 4)
    async with running(logs, resume=Resume({container_id(1): None}, NOW)) as (_, shipped):
        assert await shipped.until("web/app", 4) == written


async def test_a_source_cancelled_just_as_a_change_wakes_it_ends(logs: PodLogs) -> None:
    """The agent's shutdown cancels the source in whatever moment, also when its watcher has
    just told it to look again (Python 3.11's wait_for would return and lose the cancel)."""
    logs.container("shop", "web", UID, "app").write("x")
    source = CriSource(
        lambda records: None,
        host=HOST,
        pods_dir=logs.pods_dir,
        links_dir=logs.links_dir,
        rescan_secs=30,
    )
    task = asyncio.create_task(source.run())
    await asyncio.wait_for(asyncio.shield(source.ready.wait()), 5)
    await asyncio.sleep(0.01)
    source._changed(logs.pods_dir, None)  # what the watcher calls on a change
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    await source.stop()
    assert task in done and task.cancelled()


async def test_a_new_containers_id_comes_from_its_link_made_just_after_its_file(
    logs: PodLogs,
) -> None:
    """The runtime creates the log file when it starts the container; the kubelet links it
    once the start returned, a moment later."""
    async with running(logs) as (source, shipped):
        log = logs.container("shop", "new-pod", UID, "app", link=False)
        log.write("first")
        await asyncio.sleep(0.05)  # the kubelet links it once the start returned
        logs.link(log, container_id(9))
        log.write("second")
        assert await shipped.until("new-pod/app", 2) == ["first", "second"]
        assert {r.meta.id for r in shipped.records} == {container_id(9)}
        assert set(source.containers()) == {container_id(9)}


async def test_a_new_file_whose_link_never_comes_is_followed_after_a_wait_from_its_start(
    logs: PodLogs,
) -> None:
    async with running(logs) as (source, shipped):
        log = logs.container("shop", "static-pod", UID, "app", link=False)
        written = write(log, 3)
        assert await shipped.until("static-pod/app", 3) == written
        (cid,) = source.containers()
        assert cid == PodLog("shop", "static-pod", UID, "app", 0).fallback_id()


async def test_writes_to_followed_files_do_not_make_the_source_look_through_every_pod(
    logs: PodLogs,
) -> None:
    """A look through the pods directory costs a scandir per pod and container (about 9 ms
    for 200 containers): a node's writes, thousands a second, must not each cause one."""
    writers = [logs.container("shop", f"web-{i}", UID, "app") for i in range(5)]
    async with running(logs, rescan_secs=30) as (source, shipped):
        for i in range(5):
            await holding(source, container_id(i + 1))
        scans = source._scans  # how many looks so far (not part of any interface)
        for i in range(200):
            writers[i % 5].write(f"line {i}")
            if i % 10 == 9:
                await asyncio.sleep(0.01)
        await shipped.until("web-4/app", 40)
        assert source._scans == scans


async def test_on_a_docker_node_the_pod_log_links_to_the_json_file_log_and_is_read_as_one(
    logs: PodLogs, tmp_path: Path
) -> None:
    """cri-dockerd: the kubelet's ``0.log`` is a link to the container's ``<id>-json.log``,
    in json-file's format, rotated as json-file rotates (next to its target)."""
    cid = container_id(7)
    json_log = tmp_path / "docker" / "containers" / cid / f"{cid}-json.log"
    writer = JsonFileWriter(json_log, max_size=400, max_file=20)  # nothing rotated away
    pod_log = logs.pod_dir("shop", "web", UID) / "app" / "0.log"
    pod_log.parent.mkdir(parents=True)
    pod_log.symlink_to(json_log)
    (logs.links_dir / f"web_shop_app-{cid}.log").symlink_to(pod_log)
    async with running(logs) as (_, shipped):
        written = [f"line {n}" for n in range(30)]  # several rotations of 400 bytes
        for line in written:
            writer.write(line)
        assert await shipped.until("web/app", 30) == written
        assert {r.meta.id for r in shipped.records} == {cid}
        assert {r.meta.runtime for r in shipped.records} == {"docker"}
    writer.close()
