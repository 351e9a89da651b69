"""Exponential backoff with full jitter, written once and used by every sink and the source."""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial * factor**n`` seconds, capped at ``maximum``, with full jitter.

    Full jitter (a uniform draw between zero and the capped delay) keeps 500 agents that lost
    the same receiver at the same moment from coming back in lockstep.
    """

    def __init__(
        self, *, initial_secs: float = 0.2, maximum_secs: float = 30.0, factor: float = 2.0
    ) -> None:
        self.initial_secs = initial_secs
        self.maximum_secs = maximum_secs
        self.factor = factor
        self.attempts = 0

    def next_delay(self) -> float:
        cap = min(self.maximum_secs, self.initial_secs * self.factor**self.attempts)
        self.attempts += 1
        return random.uniform(cap / 2, cap)

    def reset(self) -> None:
        self.attempts = 0
