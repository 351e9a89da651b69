"""Exponential backoff with full jitter, written once and used by every sink and the source."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays of ``initial * factor**n`` seconds, capped at ``maximum``, with full jitter.

    Full jitter: each delay is a uniform draw between zero and the capped delay, so 500 agents
    that lost the same receiver at the same moment spread their attempts over the whole window
    instead of coming back in lockstep. No delay is ever longer than ``maximum_secs`` (what
    ``/readyz`` takes as the longest wait between two attempts); the average is half of it.

    ``draw(low, high)`` makes each delay (``random.uniform``; tests pass their own).
    """

    def __init__(
        self,
        *,
        initial_secs: float = 0.2,
        maximum_secs: float = 30.0,
        factor: float = 2.0,
        draw: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.initial_secs = initial_secs
        self.maximum_secs = maximum_secs
        self.factor = factor
        self.draw = draw
        self.attempts = 0

    def next_delay(self) -> float:
        cap = min(self.maximum_secs, self.initial_secs * self.factor**self.attempts)
        self.attempts += 1
        return self.draw(0.0, cap)

    def reset(self) -> None:
        self.attempts = 0
