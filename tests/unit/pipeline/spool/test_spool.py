"""The disk spool without sockets: its segment format, its bounds, what it replays after a
restart, what it makes of a torn or corrupt segment, and a runner sending from it."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from logship.config.destination import SpoolConfig
from logship.errors import DeliveryError
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.retry import Backoff
from logship.pipeline.runner import SinkRunner
from logship.pipeline.spool import CURSOR_NAME, Spool
from logship.pipeline.spool.format import (
    HEADER,
    MAGIC,
    CorruptFrame,
    SegmentEncoder,
    chunks,
    decode_frame,
    walk,
)
from logship.record import ContainerMeta, HostMeta, Record
from logship.sinks.syslog.config import SyslogConfig
from logship.state.progress import Progress
from tests.helpers.records import make_meta

# every field set, and a host other than the default: all of it must come back from disk
WEB = make_meta(
    id="a" * 64,
    name="web-1",
    image="registry:5000/nginx:1.25",
    image_id="sha256:" + "b" * 64,
    host=HostMeta("node-1", "10.0.0.12"),
    labels={"app": "web", "io.kubernetes.pod.name": "web-7f", "io.kubernetes.pod.namespace": "x"},
    env=("APP_ENV=prod",),
    command="nginx -g daemon off;",
    created="2026-11-27T08:00:00.000000000Z",
    tty=True,
    runtime="",  # not the default: a pod's log read from its file
)
DB = make_meta(id="c" * 64, name="db", image="postgres", image_id="sha256:d", host=WEB.host)


def ts(i: int) -> str:
    return f"2026-11-27T09:{i // 60 % 60:02d}:{i % 60:02d}.{i:09d}Z"


def lines(n: int, meta: ContainerMeta = WEB, start: int = 0) -> list[Record]:
    return [
        Record(
            f"{meta.name} line {i} caf\u00e9", "stdout" if i % 3 else "stderr", ts(i), meta, i % 2
        )
        for i in range(start, start + n)
    ]


def fields(records: list[Record]) -> list[tuple[object, ...]]:
    return [(r.message, r.stream, r.timestamp, r.seq, r.meta.id) for r in records]


def segment_data(records: list[Record]) -> bytes:
    encoder = SegmentEncoder()
    return MAGIC + b"".join(encoder.frame(chunk) for chunk in chunks(records))


def read_segment(data: bytes) -> list[Record]:
    metas: dict[int, ContainerMeta] = {}
    hosts: dict[tuple[str, str], HostMeta] = {}
    return [r for f in walk(data).frames for r in decode_frame(data, f, metas, hosts)]


def spool_at(
    directory: Path,
    *,
    max_bytes: int = 1 << 20,
    segment_bytes: int = 64 << 10,
    on_stored: Callable[[list[Record]], None] | None = None,
    on_lost: Callable[[list[Record]], None] | None = None,
) -> Spool:
    spool = Spool(
        directory,
        max_bytes=max_bytes,
        segment_bytes=segment_bytes,
        name="dest",
        on_stored=on_stored,
        on_lost=on_lost,
    )
    spool.open()
    return spool


async def take_all(spool: Spool, batch: int = 500) -> list[Record]:
    out = []
    while spool.records:
        got = await spool.take(batch)
        if not got:
            break
        out += got
        await spool.ack()
    return out


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


# -- the format ---------------------------------------------------------------------------------


def test_records_come_back_from_a_segment_with_every_field_and_their_containers_metadata() -> None:
    records = [*lines(3), *lines(2, DB), *lines(2, start=3)]
    records.append(Record("lone surrogate \udcff kept", "stdout", ts(9), DB, 0))
    back = read_segment(segment_data(records))
    assert fields(back) == fields(records)
    web = back[0].meta
    assert back[5].meta is web  # one metadata object per container, shared by its records
    names = ("id", "name", "image", "image_id", "labels", "env", "command", "created", "tty")
    for name in (*names, "runtime"):
        assert getattr(web, name) == getattr(WEB, name), name
    assert back[3].meta.runtime == "docker"  # DB's, the default
    assert (web.image_name, web.image_tag) == ("registry:5000/nginx", "1.25")
    assert web.kubernetes == WEB.kubernetes and web.kubernetes is not None
    assert web.host == WEB.host


def test_each_container_is_described_once_per_segment_not_once_per_frame() -> None:
    encoder = SegmentEncoder()
    first = encoder.frame(lines(10))
    second = encoder.frame(lines(10, start=10))
    assert b"registry:5000/nginx" in first
    assert b"registry:5000/nginx" not in second  # referenced by its index
    assert len(second) < len(first)


def test_many_or_long_records_are_cut_into_several_frames() -> None:
    assert [len(c) for c in chunks(lines(5000))] == [2048, 2048, 904]
    long = [Record("x" * 200_000, "stdout", ts(i), WEB) for i in range(3)]
    assert [len(c) for c in chunks(long)] == [2, 1]


def test_a_torn_tail_leaves_the_good_frames_and_says_how_much_is_torn() -> None:
    data = segment_data(lines(3000))  # two frames: 2048 + 952
    frames = walk(data).frames
    cut = data[: frames[1].offset + 100]
    found = walk(cut)
    assert [f.records for f in found.frames] == [2048]
    assert found.end == frames[1].offset
    assert found.torn_bytes == 100 and found.torn_records == 952
    assert walk(data[: frames[1].offset + 5]).torn_records == 0  # the header itself was cut


def test_a_frame_whose_bytes_changed_is_refused() -> None:
    data = bytearray(segment_data(lines(10)))
    data[len(MAGIC) + HEADER.size + 20] ^= 0xFF
    frame = walk(bytes(data)).frames[0]
    with pytest.raises(CorruptFrame, match="CRC"):
        decode_frame(bytes(data), frame, {}, {})


# -- the spool on disk -----------------------------------------------------------------------------


async def test_what_the_buffer_sheds_is_written_in_batches_and_given_back_oldest_first(
    tmp_path: Path,
) -> None:
    stored: list[Record] = []
    spool = spool_at(tmp_path, on_stored=stored.extend)
    web, db = lines(1000), lines(500, DB)
    for i in range(0, 1000, 100):
        spool.add(web[i : i + 100])
        spool.add(db[i // 2 : i // 2 + 50])
    assert spool.records == 1500 and not segments(tmp_path)  # nothing written per record
    await spool.flush()
    assert len(stored) == 1500  # on disk and fsync'd: handled, for checkpoints
    assert len(segments(tmp_path)) == 1
    back = await take_all(spool, batch=300)
    assert [r.message for r in back if r.meta.id == WEB.id] == [r.message for r in web]
    assert [r.message for r in back if r.meta.id == DB.id] == [r.message for r in db]
    assert spool.records == 0 and spool.sent == 1500 and not segments(tmp_path)


async def test_the_spool_stays_within_max_bytes_by_deleting_its_oldest_segments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = spool_at(tmp_path, max_bytes=256 << 10, segment_bytes=32 << 10)
    with caplog.at_level(logging.WARNING):
        for i in range(0, 20_000, 500):
            spool.add(lines(500, start=i))
            await spool.flush()
            assert spool.bytes <= 256 << 10
            assert sum(p.stat().st_size for p in segments(tmp_path)) == spool.bytes
    sizes = [p.stat().st_size for p in segments(tmp_path)]
    assert max(sizes) < (32 << 10) + (40 << 10)  # a segment: its bound plus one frame
    assert spool.dropped > 0
    back = await take_all(spool)
    assert spool.dropped + len(back) == 20_000  # each record delivered or counted
    assert [r.message for r in back] == [r.message for r in lines(20_000)][-len(back) :]
    full = [r for r in caplog.records if "disk spool full" in r.getMessage()]
    assert len(full) == 1  # one episode, logged once


async def test_a_reopened_spool_sends_what_the_last_run_left_and_not_what_was_delivered(
    tmp_path: Path,
) -> None:
    spool = spool_at(tmp_path, segment_bytes=16 << 10)
    spool.add(lines(3000))
    await spool.flush()
    first = await spool.take(1100)
    await spool.ack()
    unacked = await spool.take(100)  # being sent when the agent stopped: not delivered
    assert unacked
    spool.close()

    again = spool_at(tmp_path, segment_bytes=16 << 10)
    assert again.records == again.replayed == 3000 - len(first)
    rest = await take_all(again)
    assert fields(first + rest) == fields(lines(3000))  # nothing twice, nothing missing
    assert rest[0].meta.name == "web-1" and rest[0].meta.labels == WEB.labels


async def test_after_a_crash_a_cursor_that_names_a_deleted_segment_is_ignored(
    tmp_path: Path,
) -> None:
    spool = spool_at(tmp_path, segment_bytes=16 << 10)
    spool.add(lines(2000))
    await spool.flush()
    await take_all(spool)
    spool.add(lines(10, start=5000))
    await spool.flush()
    spool.close()
    again = spool_at(tmp_path)
    assert [r.message for r in await take_all(again)] == [r.message for r in lines(10, start=5000)]
    assert len((tmp_path / CURSOR_NAME).read_bytes()) == 24


async def test_a_crash_while_a_delivered_segment_is_deleted_sends_at_most_a_batch_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Killed(BaseException):
        pass

    spool = spool_at(tmp_path, segment_bytes=16 << 10)
    spool.add(lines(400))
    await spool.flush()
    assert len(segments(tmp_path)) == 1
    sent = await spool.take(300)
    await spool.ack()
    sent += await spool.take(300)  # the rest of the segment: delivered, then it is deleted

    def kill(path: Path, missing_ok: bool = False) -> None:
        raise Killed  # kill -9 just before the file is gone

    monkeypatch.setattr(Path, "unlink", kill)
    with pytest.raises(Killed):
        await spool.ack()
    monkeypatch.undo()
    again = spool_at(tmp_path)
    n = again.records
    assert 0 < n <= 100  # the last batch, not the whole segment, is sent again
    assert fields(await take_all(again)) == fields(sent[-n:])


async def test_a_segment_torn_by_a_crash_keeps_its_good_part_and_counts_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = spool_at(tmp_path, segment_bytes=256 << 10)
    spool.add(lines(3000))
    await spool.flush()
    (path,) = segments(tmp_path)
    frames = walk(path.read_bytes()).frames
    os.truncate(path, frames[1].offset + 50)  # the second frame cut mid-write
    with caplog.at_level(logging.ERROR):
        again = spool_at(tmp_path)
    assert again.records == 2048 and again.damaged == 952
    assert sum("torn tail" in r.getMessage() for r in caplog.records) == 1
    assert path.stat().st_size == frames[1].offset  # the torn part is cut off
    assert fields(await take_all(again)) == fields(lines(2048))
    again.add(lines(5, start=9000))  # and the spool goes on working
    await again.flush()
    assert len(await take_all(again)) == 5


async def test_a_corrupt_frame_loses_only_the_rest_of_its_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = spool_at(tmp_path, segment_bytes=64 << 10)
    for i in range(0, 3000, 1000):
        spool.add(lines(1000, start=i))
        await spool.flush()
    spool.close()
    first, second, *_ = segments(tmp_path)
    data = bytearray(first.read_bytes())
    frames = walk(bytes(data)).frames
    data[frames[1].offset + HEADER.size + 10] ^= 0xFF
    first.write_bytes(bytes(data))
    again = spool_at(tmp_path, segment_bytes=64 << 10)
    with caplog.at_level(logging.ERROR):
        back = await take_all(again)
    lost = sum(f.records for f in frames[1:])
    assert lost == 1000 and second.name > first.name
    assert again.damaged == lost
    assert len(back) == 3000 - lost
    assert fields(back[: frames[0].records]) == fields(lines(frames[0].records))
    assert fields(back[frames[0].records :]) == fields(lines(3000))[frames[0].records + lost :]
    assert sum("is damaged" in r.getMessage() for r in caplog.records) == 1


async def test_a_batch_being_sent_at_shutdown_goes_before_everything_spooled(
    tmp_path: Path,
) -> None:
    spool = spool_at(tmp_path)
    spool.add(lines(100, start=100))  # shed while the batch of 0..99 was being sent
    await spool.flush()
    spool.park(lines(100), lines(50, start=200))
    spool.close()
    again = spool_at(tmp_path)
    assert fields(await take_all(again)) == fields(lines(250))


def test_the_spool_directory_is_found_again_after_option_changes_that_do_not_matter() -> None:
    a = SyslogConfig(type="syslog", host="127.0.0.1", port=514, transport="tcp")
    b = a.model_copy(update={"buffer_max_records": 10, "reconnect_max_secs": 3.0})
    c = a.model_copy(update={"port": 515})
    assert a.spool_key() == b.spool_key()
    assert a.spool_key().startswith("syslog-127.0.0.1-514-")
    assert a.spool_key() != c.spool_key()
    assert a.model_copy(update={"name": "central/1"}).spool_key() == "name-central_1"


def test_a_segment_larger_than_a_quarter_of_the_spool_is_refused() -> None:
    with pytest.raises(ValueError, match="at most a quarter of max_bytes"):
        SpoolConfig(enabled=True, max_bytes=1 << 20, segment_bytes=512 << 10)


# -- a runner sending from the spool ---------------------------------------------------------


class OutageSink:
    """Down (refusing every batch) until ``up`` is set; keeps what it gets."""

    name = "outage"

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.received: list[Record] = []

    async def open(self) -> None:
        return None

    async def send(self, batch: list[Record]) -> None:
        if not self.up.is_set():
            raise DeliveryError("connection refused")
        self.received += batch

    async def close(self) -> None:
        return None


async def test_a_runner_sends_the_spool_first_so_each_containers_lines_stay_in_order(
    tmp_path: Path,
) -> None:
    sink = OutageSink()
    progress = Progress()
    spool = Spool(
        tmp_path,
        max_bytes=1 << 20,
        segment_bytes=64 << 10,
        on_stored=progress.discarded,
        flush_interval_secs=0.01,
    )
    spool.open()
    buffer = DropOldestBuffer(max_records=100, max_bytes=1 << 20, on_discard=spool.add)
    runner = SinkRunner(
        sink,
        buffer,
        spool=spool,
        observer=progress,
        max_batch=64,
        backoff=Backoff(initial_secs=0.01, maximum_secs=0.01),
    )
    task = asyncio.create_task(runner.run())
    web, db = lines(2000), lines(300, DB)
    for i in range(0, 2000, 50):
        buffer.put(web[i : i + 50])
        if i % 200 == 0:
            buffer.put(db[i // 200 * 30 : i // 200 * 30 + 30])
        await asyncio.sleep(0)
    for _ in range(200):  # while the destination is down, the spool takes what overflows
        if spool.stored >= 2000:
            break
        await asyncio.sleep(0.01)
    assert spool.stored >= 2000 and not sink.received
    assert WEB.id in progress.handled  # checkpoints move on during the outage
    sink.up.set()
    buffer.close()
    await asyncio.wait_for(task, timeout=10)
    assert [r.message for r in sink.received if r.meta.id == WEB.id] == [r.message for r in web]
    assert [r.message for r in sink.received if r.meta.id == DB.id] == [r.message for r in db]
    assert spool.records == 0 and spool.dropped == spool.damaged == 0


async def test_a_restart_in_the_middle_of_a_segment_still_knows_its_containers(
    tmp_path: Path,
) -> None:
    spool = spool_at(tmp_path)
    records = [*lines(300), *lines(300, DB), *lines(300, start=300)]
    for i in range(0, 900, 300):  # three frames in one segment; each container described once
        spool.add(records[i : i + 300])
        await spool.flush()
    assert len(segments(tmp_path)) == 1
    first = await spool.take(700)  # into the third frame
    await spool.ack()
    spool.close()
    again = spool_at(tmp_path)
    rest = await take_all(again)
    assert fields(first + rest) == fields(records)
    assert rest[0].meta.labels == WEB.labels and rest[0].meta.image_tag == "1.25"


def test_spool_options_come_from_a_uri_and_a_spool_without_a_state_dir_is_refused(
    tmp_path: Path,
) -> None:
    from logship.errors import ConfigError
    from logship.settings import load_settings

    uri = "syslog+tcp://127.0.0.1:514?spool.enabled=true&spool.max_bytes=8388608"
    settings = load_settings(destinations=uri, state_dir=tmp_path)
    spool = settings.destinations[0].spool
    assert spool.enabled and spool.max_bytes == 8 << 20 and spool.segment_size() == 1 << 20
    with pytest.raises(ConfigError, match=r"destinations\.0\.spool\.enabled needs state_dir") as e:
        load_settings(destinations=uri)
    assert "(got" not in str(e.value)  # the whole configuration is no value to quote
    assert (
        not load_settings(destinations="syslog+tcp://127.0.0.1:514").destinations[0].spool.enabled
    )


async def test_while_the_disk_is_slower_than_the_overflow_what_waits_for_it_stays_bounded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logship.pipeline.spool.writer as spool_writer

    monkeypatch.setattr(spool_writer, "MAX_WAITING_RECORDS", 1000)
    handled: list[Record] = []
    spool = spool_at(tmp_path, max_bytes=1 << 30, segment_bytes=16 << 20, on_stored=handled.extend)
    disk = threading.Event()  # set: the disk has synced what it was given
    fsync = os.fsync

    def slow_disk(fd: int) -> None:
        disk.wait(10)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_disk)
    first, flood = lines(10), lines(5000, start=10)
    spool.add(first)
    flushing = asyncio.create_task(spool.flush())
    await asyncio.sleep(0)  # written, the fsync under way
    with caplog.at_level(logging.WARNING):
        for i in range(0, len(flood), 50):  # meanwhile the buffer sheds all this into it
            spool.add(flood[i : i + 50])
    waiting = spool.records - len(first)
    assert 0 < waiting <= 1000  # not the whole flood held in memory for the disk
    assert spool.dropped == len(flood) - waiting
    disk.set()
    await flushing
    await spool.flush()
    kept = [r.message for r in await take_all(spool)]
    assert kept == [r.message for r in first + flood[-waiting:]]  # the newest wait, in order
    # handled, for the checkpoints: what is on disk, and of what was dropped the newest of each
    # drop (told once what was written before it was fsync'd), which stands for the others
    assert handled[: len(first)] == first
    assert handled[-waiting:] == flood[-waiting:]
    dropped = handled[len(first) : -waiting]
    assert dropped[-1] is flood[-waiting - 1]
    assert len(dropped) < 50  # not all 4000-odd kept in memory to be told
    assert [flood.index(r) for r in dropped] == sorted(flood.index(r) for r in dropped)
    assert sum("slower" in r.getMessage() for r in caplog.records) == 1


def in_spool(fd: int, directory: Path) -> bool:
    """Whether ``fd`` is a file (or the directory) of the spool in ``directory``."""
    return os.readlink(f"/proc/self/fd/{fd}").startswith(str(directory))


def refusing(
    directory: Path, errno_: int, what: str, real: Callable[..., object]
) -> Callable[..., object]:
    """``real`` (os.write, os.fsync) failing with ``errno_`` on the files of the spool in
    ``directory``, as the disk under it would (and doing its job on any other file)."""

    def refuse(fd: int, *args: object) -> object:
        if in_spool(fd, directory):
            raise OSError(errno_, what)
        return real(fd, *args)

    return refuse


def followed_spool(directory: Path, **options: int) -> tuple[Spool, Progress, list[Record]]:
    """A spool whose stored and lost records a destination's checkpoints follow (its
    Progress), and the list of the records it stored."""
    progress = Progress()
    stored: list[Record] = []

    def on_stored(records: list[Record]) -> None:
        stored.extend(records)
        progress.discarded(records)

    return (
        spool_at(directory, on_stored=on_stored, on_lost=progress.lost, **options),
        progress,
        stored,
    )


async def test_a_full_disk_loses_what_it_refused_counted_and_said_once_and_the_checkpoint_holds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool, progress, handled = followed_spool(tmp_path)
    records = lines(400)
    progress.routed(records, records)
    spool.add(records[:100])
    await spool.flush()
    before = progress.position(WEB.id)
    assert before == (records[99].timestamp, records[99].seq + 1)
    with caplog.at_level(logging.WARNING):
        monkeypatch.setattr(
            os, "write", refusing(tmp_path, errno.ENOSPC, "No space left on device", os.write)
        )
        for start in (100, 200):
            spool.add(records[start : start + 100])
            await spool.flush()
        monkeypatch.undo()
        spool.add(records[300:])
        await spool.flush()
    # a refused flush gives its segment up, and leaves no empty file behind (however long the
    # disk stays full): the one it wrote to before, and the one written now
    assert len(segments(tmp_path)) == 2
    assert spool.disk_full == 200 and spool.disk_error == 0 and spool.damaged == 0
    assert handled == records[:100] + records[300:]  # the lost ones are not handled
    assert progress.position(WEB.id) == before  # and the checkpoint stays before them
    assert [r.message for r in await take_all(spool)] == [
        r.message for r in records[:100] + records[300:]
    ]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("No space left on device" in m for m in messages) == 1
    assert sum("disk_full" in m for m in messages) == 1
    assert sum("works again; 200 lines were lost" in m for m in messages) == 1


async def test_a_failed_fsync_counts_the_flush_as_lost_and_leaves_none_of_it_on_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool, progress, stored = followed_spool(tmp_path, segment_bytes=16 << 10)
    web, db = lines(600), lines(50, DB)
    progress.routed(web, web)
    spool.add(web[:300])
    await spool.flush()
    before = progress.position(WEB.id)
    with caplog.at_level(logging.WARNING):
        monkeypatch.setattr(
            os, "fsync", refusing(tmp_path, errno.EIO, "Input/output error", os.fsync)
        )
        spool.add([*web[300:500], *db])  # into the segment being written, and new ones
        await spool.flush()
        monkeypatch.undo()
    assert spool.disk_error == 250 and spool.disk_full == 0 and spool.stored == 300
    assert stored == web[:300] and progress.position(WEB.id) == before
    assert progress.position(DB.id) is None  # read again from where reading began
    spool.add(web[500:])
    await spool.flush()
    assert progress.position(WEB.id) == before  # held, though newer lines were stored
    spool.close()
    # what the refused flush wrote was cut off again: a restart finds none of it
    again = spool_at(tmp_path)
    assert fields(await take_all(again)) == fields(web[:300] + web[500:])
    assert again.damaged == 0
    assert sum("Input/output error" in r.getMessage() for r in caplog.records) == 1


async def test_a_stalled_disk_does_not_stall_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stalled = threading.Event()
    disk = threading.Event()  # set: the disk answers again
    write = os.write

    def stalled_write(fd: int, data: bytes) -> int:
        if in_spool(fd, tmp_path):
            stalled.set()
            disk.wait(5)
        return write(fd, data)

    monkeypatch.setattr(os, "write", stalled_write)
    spool = spool_at(tmp_path)
    spool.add(lines(100))
    flushing = asyncio.create_task(spool.flush())
    ticks = 0
    while not stalled.is_set() or ticks < 20:  # the loop goes on while the write hangs
        await asyncio.sleep(0.005)
        ticks += 1
        spool.add(lines(1, start=99 + ticks))  # and the buffer can still shed into the spool
        assert ticks < 2000, "the spool's write never started"
    assert not flushing.done() and spool.stored == 0
    disk.set()
    await flushing
    await spool.flush()
    assert spool.stored == 100 + ticks
    assert [r.message for r in await take_all(spool)][:101] == [r.message for r in lines(101)]


async def test_lines_longer_than_the_spool_itself_push_out_everything_else_but_nothing_breaks(
    tmp_path: Path,
) -> None:
    spool = spool_at(tmp_path, max_bytes=256 << 10, segment_bytes=64 << 10)
    spool.add(lines(1000))
    await spool.flush()
    huge = [Record("L" * 300_000, "stdout", ts(i), WEB, 0) for i in range(3)]
    for record in huge:
        spool.add([record])
        await spool.flush()
        assert spool.bytes < (256 << 10) + 310_000  # the bound, or one frame alone
    back = await take_all(spool)
    assert [r.timestamp for r in back] == [huge[-1].timestamp]
    assert spool.dropped == 1002 and spool.records == 0


async def test_the_agent_gives_each_destination_its_own_spool_and_names_a_forgotten_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from logship.assemble import build_agent
    from logship.settings import load_settings

    forgotten = tmp_path / "spool" / "syslog-old-host-514-0123456789ab"
    forgotten.mkdir(parents=True)
    (forgotten / "00000000004294967296.seg").write_bytes(segment_data(lines(3)))
    uri = "syslog+tcp://127.0.0.1:9?spool.enabled=true&buffer_max_records=10"
    settings = load_settings(destinations=f"{uri} {uri} console://", state_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        agent = await build_agent(settings)
    try:
        destinations = agent.destinations
        assert [d.has_spool for d in destinations] == [True, True, False]  # the console: none
        assert destinations[2].stats().spool is None
        key = settings.destinations[0].spool_key()
        # the same destination twice: a spool each
        spools = sorted(p.name for p in (tmp_path / "spool").iterdir() if p != forgotten)
        assert spools == [key, key + "-2"]
        destinations[0].route.put(lines(15))  # over its buffer: what it sheds goes to its spool
        first, second = (d.stats() for d in destinations[:2])
        assert first.spool is not None and first.spool.received == first.shed > 0
        assert second.spool is not None and second.spool.received == 0
        assert sum(str(forgotten) in r.getMessage() for r in caplog.records) == 1
    finally:
        for d in agent.destinations:
            d.close_input()
            d.park()  # closes its spool
        assert agent.checkpointer is not None
        agent.checkpointer.close()
        await agent.source.stop()


class UnreachableSink(OutageSink):
    """Cannot even connect until ``up`` is set."""

    async def open(self) -> None:
        if not self.up.is_set():
            raise DeliveryError("connection refused")


async def test_the_spool_takes_the_overflow_while_the_destination_was_never_reached(
    tmp_path: Path,
) -> None:
    sink = UnreachableSink()
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=64 << 10, flush_interval_secs=0.01)
    spool.open()
    buffer = DropOldestBuffer(max_records=50, max_bytes=1 << 20, on_discard=spool.add)
    runner = SinkRunner(
        sink, buffer, spool=spool, backoff=Backoff(initial_secs=0.01, maximum_secs=0.01)
    )
    task = asyncio.create_task(runner.run())
    buffer.put(lines(500))
    for _ in range(200):
        if spool.stored == 450:
            break
        await asyncio.sleep(0.01)
    assert spool.stored == 450 and segments(tmp_path)  # on disk, not piling up in memory
    sink.up.set()
    buffer.close()
    await asyncio.wait_for(task, timeout=10)
    assert fields(sink.received) == fields(lines(500))


async def test_the_spool_writes_only_the_environment_variables_its_destination_sends(
    tmp_path: Path,
) -> None:
    from logship.pipeline.destination import Destination
    from logship.settings import load_settings
    from logship.sinks.registry import build_sink

    uris = (
        "gelf+udp://127.0.0.1:9?env=APP_ENV&env_regex=^TEAM_&spool.enabled=true"
        "&buffer_max_records=10",
        "syslog+tcp://127.0.0.1:9?spool.enabled=true&buffer_max_records=10",
    )
    settings = load_settings(destinations=" ".join(uris), state_dir=tmp_path)
    secret = "DB_PASSWORD=hunter2-" + "s" * 20
    meta = make_meta(env=("APP_ENV=prod", secret, "TEAM_NAME=pay", "PATH=/bin"))
    gelf, syslog = (
        Destination.from_config(build_sink(config), config, spool_dir=tmp_path / "spool" / str(i))
        for i, config in enumerate(settings.destinations)
    )
    for destination in (gelf, syslog):
        destination.open_spool()
        destination.route.put(lines(30, meta))  # 20 shed into the spool
        destination.close_input()
        destination.park()  # what the buffer holds too, and everything fsync'd
    on_disk = {
        i: b"".join(p.read_bytes() for p in segments(tmp_path / "spool" / str(i))) for i in (0, 1)
    }
    assert b"line 29" in on_disk[0] and b"line 29" in on_disk[1]
    assert b"hunter2" not in on_disk[0] + on_disk[1] and b"PATH" not in on_disk[0] + on_disk[1]
    assert b"APP_ENV=prod" in on_disk[0] and b"TEAM_NAME=pay" in on_disk[0]
    assert b"APP_ENV" not in on_disk[1]  # syslog sends no environment variable
    again = spool_at(tmp_path / "spool" / "0")
    back = await take_all(again)
    assert len(back) == 30 and back[0].meta.env == ("APP_ENV=prod", "TEAM_NAME=pay")
