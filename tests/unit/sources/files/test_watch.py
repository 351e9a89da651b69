"""The directory watcher on real inotify, and a reader that polls a busy file instead of
being woken by every write to it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from logship.protocol.cri import CriDecoder
from logship.record import Record
from logship.sources.files import tail as tail_module
from logship.sources.files.tail import FileTail, HotFiles, kubelet_rotated
from logship.sources.files.watch import Watcher
from tests.helpers.kubelet import Clock, cri_entries
from tests.helpers.records import make_meta
from tests.helpers.waiting import until


def count(items: list[Any], n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(items) >= n

    return check


def quiet_tail(
    path: Path,
    emit: Callable[[list[Record]], None],
    *,
    hush: Callable[[bool], None] = lambda hushed: None,
    hot_files: HotFiles | None = None,
) -> FileTail:
    """A tail of a CRI log that never looks on its own: only a wake, or the polling of a
    busy file, finds its lines (and a newer file)."""
    return FileTail(
        path,
        CriDecoder(make_meta()),
        emit,
        rotated=kubelet_rotated,
        look_again_secs=30,
        hush=hush,
        hot_files=hot_files,
    )


async def woken_by(watcher: Watcher, told: list[str | None], action: object) -> bool:
    """Whether the watcher woke anyone within 0.5 s of ``action()``."""
    told.clear()
    action()  # type: ignore[operator]
    for _ in range(10):
        await asyncio.sleep(0.05)
        if told:
            return True
    return False


async def test_a_hushed_directory_reports_new_files_but_not_each_write(tmp_path: Path) -> None:
    watcher = Watcher()
    told: list[str | None] = []
    runner = asyncio.create_task(watcher.run())
    try:
        assert watcher.watch(tmp_path, told.append)
        log = (tmp_path / "0.log").open("a")  # held open, as the runtime holds its log
        await asyncio.sleep(0.1)

        def write() -> None:
            log.write("a line\n")
            log.flush()

        assert await woken_by(watcher, told, write)
        watcher.hush(tmp_path, True)
        assert not await woken_by(watcher, told, write)  # its reader polls it
        assert await woken_by(watcher, told, lambda: (tmp_path / "1.log").write_text(""))
        watcher.hush(tmp_path, False)
        assert await woken_by(watcher, told, write)
        log.close()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        watcher.close()


async def test_a_directory_also_watched_for_new_files_is_hushed_while_its_reader_polls(
    tmp_path: Path,
) -> None:
    # the CRI source watches each container's directory for new files: counted as one more
    # reader wanting writes, it kept every write's event coming while the file was polled
    watcher = Watcher()
    told: list[str | None] = []
    scans: list[str | None] = []
    runner = asyncio.create_task(watcher.run())
    try:
        assert watcher.watch(tmp_path, scans.append, writes=False)
        assert watcher.watch(tmp_path, told.append)
        log = (tmp_path / "0.log").open("a")
        await asyncio.sleep(0.1)

        def write() -> None:
            log.write("a line\n")
            log.flush()

        assert await woken_by(watcher, told, write)  # the reader waits for writes
        watcher.hush(tmp_path, True)
        scans.clear()
        assert not await woken_by(watcher, told, write)
        assert scans == []  # nor the one looking for new files
        assert await woken_by(watcher, told, lambda: (tmp_path / "1.log").write_text(""))
        assert "1.log" in scans
        watcher.unwatch(tmp_path, told.append)  # the reader is gone: nobody wants writes
        scans.clear()
        write()
        await asyncio.sleep(0.3)
        assert scans == []
        log.close()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        watcher.close()


async def test_a_busy_file_is_polled_with_its_writes_hushed_then_woken_again_when_quiet(
    tmp_path: Path, monkeypatch: object
) -> None:
    monkeypatch.setattr(tail_module, "HOT_SECS", 0.3)  # type: ignore[attr-defined]
    path = tmp_path / "0.log"
    path.write_bytes(b"")
    hushed: list[bool] = []
    got: list[Record] = []
    clock = Clock()
    tail = quiet_tail(path, got.extend, hush=hushed.append)
    task = asyncio.create_task(tail.run())
    try:
        await asyncio.sleep(0.1)
        with path.open("ab") as f:
            f.write(b"".join(cri_entries(b"first", clock=clock)))
        tail.wake()  # the write's event
        await until(count(got, 1), what="the first line")
        assert hushed == [True]
        with path.open("ab") as f:
            f.write(b"".join(cri_entries(b"second", clock=clock)))
        # no wake: the poll finds it
        await until(count(got, 2), what="the second line, by polling")
        await until(count(hushed, 2), what="write events on again once quiet")
        assert hushed == [True, False]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [r.message for r in got] == ["first", "second"]
    assert hushed[-1] is False


async def test_busy_files_are_polled_together_by_one_ticker_and_lose_nothing(
    tmp_path: Path, monkeypatch: object
) -> None:
    # a sleep per busy file cost a timer and a task's wake-up per file every 50 ms: with 50
    # containers writing a few lines a second that was most of the file sources' steady cost
    monkeypatch.setattr(tail_module, "HOT_SECS", 10.0)  # type: ignore[attr-defined]
    hot = HotFiles()
    clock = Clock()
    got: dict[int, list[str]] = {n: [] for n in range(10)}
    paths = [tmp_path / f"{n}.log" for n in range(10)]
    tails = []
    for n, path in enumerate(paths):
        path.write_bytes(b"")
        tails.append(
            quiet_tail(
                path, lambda records, n=n: got[n].extend(r.message for r in records), hot_files=hot
            )
        )
    tasks = [asyncio.create_task(t.run()) for t in tails]
    polled_together = 0
    try:
        await asyncio.sleep(0.1)
        for round_ in range(5):
            for n, path in enumerate(paths):
                with path.open("ab") as f:
                    f.write(b"".join(cri_entries(f"{n}:{round_}".encode(), clock=clock)))
            if round_ == 0:
                for t in tails:
                    t.wake()  # the first write's event; the rest only the polling finds

            async def all_read(round_: int = round_) -> bool:
                return all(len(lines) > round_ for lines in got.values())

            await until(all_read, what=f"round {round_} of every file")
            polled_together = max(polled_together, hot.polled)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert got == {n: [f"{n}:{r}" for r in range(5)] for n in range(10)}
    assert polled_together == 10
    assert hot.polled == 0  # the tails that ended left it


async def rotated_while_polled(
    tmp_path: Path,
    rotate: Callable[[Path], object],
    *,
    settle_secs: float = 0.0,
    limit_secs: float = 30,
) -> list[str]:
    """The messages of a polled CRI log: "first", then "second" written just before
    ``rotate(path)``, then "third" in the new file, told by the directory's event only."""
    path = tmp_path / "0.log"
    path.write_bytes(b"")
    got: list[Record] = []
    clock = Clock()
    hot = HotFiles()
    tail = quiet_tail(path, got.extend, hot_files=hot)
    task = asyncio.create_task(tail.run())
    try:
        await asyncio.sleep(0.1)
        with path.open("ab") as f:
            f.write(b"".join(cri_entries(b"first", clock=clock)))
        tail.wake()
        await until(count(got, 1), what="the first line")

        async def polled() -> bool:
            return hot.polled == 1

        await until(polled, what="the file polled")
        await asyncio.sleep(settle_secs)
        with path.open("ab") as f:
            f.write(b"".join(cri_entries(b"second", clock=clock)))
        rotate(path)
        with path.open("ab") as f:
            f.write(b"".join(cri_entries(b"third", clock=clock)))
        tail.wake("0.log")  # the events of the rotation and the new file
        await until(count(got, 3), limit_secs=limit_secs, what="the lines of both files")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return [r.message for r in got]


async def test_a_polled_file_rotated_is_followed_into_its_new_file_on_the_directory_event(
    tmp_path: Path, monkeypatch: object
) -> None:
    # a polled file no longer stat()s its name at every poll: the rename's event says when
    monkeypatch.setattr(tail_module, "HOT_SECS", 10.0)  # type: ignore[attr-defined]

    def kubelet_rotation(path: Path) -> None:
        path.rename(tmp_path / "0.log.20261205-180000")

    got = await rotated_while_polled(tmp_path, kubelet_rotation)
    assert got == ["first", "second", "third"]


async def test_a_rotation_is_seen_at_the_next_tick_even_when_the_polled_file_is_not_due(
    tmp_path: Path, monkeypatch: object
) -> None:
    """A file read at a slow rate waits for its next read, but a rotation's event is seen at
    once: with Docker's max-file=1 a small file is made and deleted again within tenths of a
    second, and all it held would be lost if the reader looked only when its read was due."""
    monkeypatch.setattr(tail_module, "HOT_SECS", 60.0)  # type: ignore[attr-defined]
    monkeypatch.setattr(tail_module, "MAX_POLL_SECS", 60.0)  # type: ignore[attr-defined]
    # settle: a poll finds nothing new, so the next read is a minute away; then the old file
    # goes and a new one comes under its name
    got = await rotated_while_polled(tmp_path, Path.unlink, settle_secs=0.2, limit_secs=5)
    assert got == ["first", "second", "third"]
