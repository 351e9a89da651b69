"""Multiline joining on the way to the destinations: once for all of them or a destination's
own way, the flush timer, and checkpoints that never pass a line still held open."""

from __future__ import annotations

import asyncio

from logship.config.filters import DestinationFilter
from logship.config.multiline import MultilineConfig
from logship.pipeline.buffer import DropOldestBuffer
from logship.pipeline.router import Route, Router
from logship.record import ContainerMeta, Record
from logship.state.progress import Progress, checkpoint
from logship.transform.multiline import MultilineStage, stage_of
from tests.helpers.records import make_meta, second

APP = make_meta(id="a" * 64, name="app")
START = (second(0), 0)
TRACE = [
    'Exception in thread "main" java.lang.IllegalStateException: boom',
    "\tat a.B.c(B.java:1)",
    "\tat a.B.d(B.java:2)",
]


def stage(preset: str | None = "java", flush_timeout_secs: float = 0.5) -> MultilineStage:
    return stage_of(MultilineConfig(preset=preset, flush_timeout_secs=flush_timeout_secs))  # type: ignore[arg-type]


def route(
    own: MultilineStage | None = None, filter: DestinationFilter | None = None
) -> tuple[Route, Progress]:
    progress = Progress()
    buffer = DropOldestBuffer(max_records=100, max_bytes=1 << 20, on_discard=progress.discarded)
    return Route(buffer, filter, progress, stage=own), progress


def lines(meta: ContainerMeta, *messages: str, at: int = 1, stream: str = "stdout") -> list[Record]:
    """One line a second from second ``at``."""
    return [Record(m, stream, second(at + i), meta) for i, m in enumerate(messages)]


def taken(r: Route) -> list[str]:
    return [record.message for record in r.buffer.take(100)]


def test_the_routers_stage_joins_once_for_every_destination_without_its_own() -> None:
    (a, _), (b, _) = route(), route()
    router = Router([a, b], stage=stage())
    router.emit(lines(APP, "starting", *TRACE, "ready"))
    joined = "\n".join(TRACE)
    assert taken(a) == taken(b) == ["starting", joined]
    router.flush()
    assert taken(a) == taken(b) == ["ready"]


def test_a_destination_with_its_own_multiline_gets_the_lines_as_read() -> None:
    (shared, _), (plain, _) = route(), route(own=stage(preset=None))
    router = Router([shared, plain], stage=stage())
    router.emit(lines(APP, *TRACE))
    router.flush()
    assert taken(shared) == ["\n".join(TRACE)]
    assert taken(plain) == TRACE


def test_taps_see_the_lines_as_they_were_read() -> None:
    seen: list[str] = []
    router = Router([route()[0]], stage=stage())
    router.add_tap(lambda records: seen.extend(r.message for r in records))
    router.emit(lines(APP, *TRACE))
    assert seen == TRACE


def test_a_line_held_open_holds_its_containers_checkpoint() -> None:
    r, progress = route()
    router = Router([r], stage=stage())
    router.emit(lines(APP, "starting", at=1))
    router.emit(lines(APP, TRACE[0], at=2, stream="stderr"))  # open: its frames may follow
    router.emit(lines(APP, "GET / 200", "GET /a 200", at=3))  # stdout goes on meanwhile
    progress.sending()
    progress.done(r.buffer.take(100))  # everything given out so far is sent
    assert checkpoint(APP.id, START, [progress]) == (second(1), 1)  # not past the open line
    router.flush()
    progress.sending()
    progress.done(r.buffer.take(100))
    assert checkpoint(APP.id, START, [progress]) == (second(4), 1)


def test_a_container_whose_first_line_is_held_keeps_the_checkpoint_where_reading_began() -> None:
    r, progress = route()
    router = Router([r], stage=stage())
    router.emit(lines(APP, TRACE[0], at=1, stream="stderr"))
    router.emit(lines(APP, "GET / 200", "GET /a 200", at=2))
    progress.sending()
    progress.done(r.buffer.take(100))
    assert checkpoint(APP.id, START, [progress]) == START


async def test_the_flush_timer_delivers_an_open_record_once_no_line_came_for_it() -> None:
    r, _ = route()
    router = Router([r], stage=stage(flush_timeout_secs=0.05))
    timer = asyncio.create_task(router.run())
    try:
        router.emit(lines(APP, *TRACE))
        assert taken(r) == []
        for _ in range(200):  # no assertion on how long: only that it comes
            await asyncio.sleep(0.01)
            if len(r.buffer):
                break
        assert taken(r) == ["\n".join(TRACE)]
        router.emit(lines(APP, "later"))  # the timer, idle meanwhile, wakes again
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(r.buffer):
                break
        assert taken(r) == ["later"]
    finally:
        timer.cancel()
        await asyncio.gather(timer, return_exceptions=True)


async def test_without_multiline_the_timer_has_nothing_to_do() -> None:
    router = Router([route()[0]])
    await asyncio.wait_for(router.run(), timeout=5)


def test_a_reload_hands_what_a_replaced_stage_holds_to_the_routes_it_fed() -> None:
    (kept, _), (going, _) = route(), route(own=stage())
    router = Router([kept, going], stage=stage())
    router.emit(lines(APP, *TRACE))  # both stages hold the trace open
    assert taken(kept) == taken(going) == []
    (added, _) = route()
    router.reroute([kept, added], stage=stage(preset=None))
    joined = "\n".join(TRACE)
    assert taken(kept) == [joined]  # finished by the stage it was read by
    assert taken(going) == [joined]  # the route that goes delivers what its own stage held
    router.emit(lines(APP, "after", at=10))
    assert taken(kept) == taken(added) == ["after"]  # the new stage: no joining
    assert taken(going) == []
