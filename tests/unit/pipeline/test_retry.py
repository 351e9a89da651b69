"""The shared backoff: exponential, capped, full jitter (the words of the docs, checked on the
draws it makes, never on a clock)."""

from __future__ import annotations

import random

from logship.pipeline.retry import Backoff


def test_each_delay_is_drawn_between_zero_and_the_capped_exponential_delay() -> None:
    asked: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    backoff = Backoff(initial_secs=0.5, maximum_secs=5.0, draw=draw)
    delays = [backoff.next_delay() for _ in range(6)]
    assert asked == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 5.0), (0.0, 5.0)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_reset_starts_again_from_the_first_delay() -> None:
    asked: list[float] = []
    backoff = Backoff(initial_secs=0.2, draw=lambda low, high: asked.append(high) or high)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    backoff.next_delay()
    assert asked == [0.2, 0.4, 0.2]


def test_real_draws_spread_over_the_whole_window_and_never_pass_the_maximum() -> None:
    rng = random.Random(16)
    backoff = Backoff(initial_secs=30.0, maximum_secs=30.0, draw=rng.uniform)
    delays = [backoff.next_delay() for _ in range(1000)]
    assert all(0.0 <= d <= 30.0 for d in delays)
    # full jitter, not "equal jitter" (between half and all of the window): a good part of the
    # attempts come in the first half
    assert sum(d < 15.0 for d in delays) > 400
