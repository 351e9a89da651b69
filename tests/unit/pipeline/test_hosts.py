"""The host pool: round robin over the hosts that work, a failed host set aside for a backoff
of its own and tried again after it, all tried when all are set aside (a clock and draws of
our own: nothing waits)."""

from __future__ import annotations

import logging

import pytest

from logship.pipeline.hosts import HostPool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pool_of(*names: str, clock: Clock | None = None, maximum_secs: float = 30.0) -> HostPool[str]:
    return HostPool(
        [(name, name) for name in names],
        owner="es",
        initial_secs=1.0,
        maximum_secs=maximum_secs,
        clock=clock or Clock(),
        draw=lambda low, high: high,  # the longest wait each time
    )


def first(pool: HostPool[str]) -> str:
    return pool.attempt_order()[0].target


def test_requests_go_to_each_host_in_turn() -> None:
    pool = pool_of("a", "b", "c")
    assert [first(pool) for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_each_request_may_go_on_to_every_other_host_in_turn() -> None:
    pool = pool_of("a", "b", "c")
    first(pool)
    assert [h.target for h in pool.attempt_order()] == ["b", "c", "a"]


def test_a_failed_host_is_left_out_until_its_backoff_is_over_then_tried_again() -> None:
    clock = Clock()
    pool = pool_of("a", "b", clock=clock)
    a = pool.attempt_order()[0]
    pool.failed(a, "cannot connect")
    assert [first(pool) for _ in range(3)] == ["b", "b", "b"]
    clock.now += 1.0  # its first backoff: 1 s
    assert "a" in [first(pool) for _ in range(2)]


def test_the_backoff_of_a_host_grows_with_each_failure_in_a_row_and_resets_when_it_works() -> None:
    clock = Clock()
    pool = pool_of("a", "b", clock=clock, maximum_secs=4.0)
    a = pool.hosts[0]
    waits = []
    for _ in range(4):
        pool.failed(a, "refused")
        waits.append(a.retry_at - clock.now)
    assert waits == [1.0, 2.0, 4.0, 4.0]
    pool.worked(a)
    pool.failed(a, "refused")
    assert a.retry_at - clock.now == 1.0


def test_when_every_host_is_set_aside_all_are_tried_the_soonest_back_first() -> None:
    clock = Clock()
    pool = pool_of("a", "b", "c", clock=clock)
    a, b, c = pool.hosts
    pool.failed(a, "refused")
    pool.failed(a, "refused")  # a waits 2 s
    pool.failed(b, "refused")  # b 1 s
    pool.failed(c, "refused")
    pool.failed(c, "refused")
    pool.failed(c, "refused")  # c 4 s
    assert [h.target for h in pool.attempt_order()] == ["b", "a", "c"]


def test_a_single_host_is_always_tried() -> None:
    pool = pool_of("a")
    pool.failed(pool.hosts[0], "refused")
    assert [h.target for h in pool.attempt_order()] == ["a"]


def test_states_say_which_host_is_down_since_when_and_why() -> None:
    clock = Clock()
    pool = pool_of("http://es1:9200", "http://es2:9200", clock=clock)
    es2 = pool.hosts[1]
    pool.failed(es2, "cannot connect to http://es2:9200: connection refused")
    clock.now += 2.5
    up, down = pool.states()
    assert (up.name, up.up, up.down_secs, up.failures) == ("http://es1:9200", True, 0.0, 0)
    assert (down.name, down.up, down.down_secs) == ("http://es2:9200", False, 2.5)
    assert down.error.endswith("connection refused") and down.failures == 1
    pool.worked(es2)
    assert all(state.up for state in pool.states())


def test_going_down_and_coming_back_are_logged_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = pool_of("http://es1:9200", "http://es2:9200")
    es2 = pool.hosts[1]
    with caplog.at_level(logging.INFO, logger="logship.sink"):
        for _ in range(3):
            pool.failed(es2, "connection refused")
        for _ in range(3):
            pool.worked(es2)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("es: host http://es2:9200 is down")
    assert "its requests go to the 1 other host up" in lines[0] and "connection refused" in lines[0]
    assert lines[1].startswith("es: host http://es2:9200 is back")


def test_a_single_host_leaves_saying_it_to_the_runner(caplog: pytest.LogCaptureFixture) -> None:
    pool = pool_of("http://es1:9200")
    with caplog.at_level(logging.INFO, logger="logship.sink"):
        pool.failed(pool.hosts[0], "connection refused")
        pool.worked(pool.hosts[0])
    assert caplog.records == []


def test_a_pool_needs_a_host() -> None:
    with pytest.raises(ValueError, match="at least one host"):
        HostPool([], owner="es")
