"""Several hosts of one destination (the nodes of an Elasticsearch cluster): which to send the
next request to, and which to leave alone for a while. No I/O; the clock is passed in.

Requests go round robin over the hosts that work. A host that fails (no answer, or an answer
that says it cannot serve) is set aside for a backoff of its own (:class:`Backoff`, growing
with each failure in a row up to ``maximum_secs``) and the request goes on to the next host at
once; once its backoff is over it is in the rotation again, and the first request it answers
makes it up. When every host is set aside, a request tries them all, the one whose backoff ends
first first: the destination's runner paces those attempts as it paces a single host's.

With more than one host, a host going down and coming back is logged once each; with one, the
runner's "destination is down" says it already.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from logship.pipeline.retry import Backoff

log = logging.getLogger("logship.sink")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HostState:
    """One host as metrics, ``/readyz`` and ``check`` show it."""

    name: str  # scheme://host:port, never credentials
    up: bool
    down_secs: float  # 0 while up
    error: str  # why it last failed ("" while it never did)
    failures: int  # failed attempts so far


@runtime_checkable
class ReportsHosts(Protocol):
    """A sink that sends to several hosts and can say how each is doing."""

    def host_states(self) -> Sequence[HostState]: ...


class Host(Generic[T]):
    """One host of a :class:`HostPool`: what sends to it (``target``) and how it is doing."""

    __slots__ = ("backoff", "down_since", "error", "failures", "name", "retry_at", "target")

    def __init__(self, name: str, target: T, backoff: Backoff) -> None:
        self.name = name
        self.target = target
        self.backoff = backoff
        self.down_since: float | None = None  # clock time it failed, while it is down
        self.retry_at = 0.0  # clock time before which it is left alone
        self.error = ""
        self.failures = 0

    @property
    def up(self) -> bool:
        return self.down_since is None


class HostPool(Generic[T]):
    """``hosts``: ``(name, target)`` pairs, in the order given; ``owner`` names the
    destination in log lines. Each host is set aside for ``initial_secs * 2**n`` seconds at
    most after its ``n+1``-th failure in a row, capped at ``maximum_secs``, with jitter
    (``draw``, as :class:`Backoff` takes it; by default from half the window to all of it,
    so that a host set aside stays aside for a while, never for no time at all)."""

    def __init__(
        self,
        hosts: Sequence[tuple[str, T]],
        *,
        owner: str,
        initial_secs: float = 1.0,
        maximum_secs: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[float, float], float] | None = None,
    ) -> None:
        if not hosts:
            raise ValueError("a host pool needs at least one host")
        draw = draw or _upper_half
        self.hosts = [
            Host(
                name,
                target,
                Backoff(initial_secs=initial_secs, maximum_secs=maximum_secs, draw=draw),
            )
            for name, target in hosts
        ]
        self.owner = owner
        self.clock = clock
        self._next = 0  # where the round robin goes on from
        self._says_changes = len(self.hosts) > 1

    def attempt_order(self) -> list[Host[T]]:
        """The hosts to try for one request, in order, until one answers: those in the
        rotation (up, or set aside for a backoff that is over), starting with the next in
        turn; when there is none, every host, the one whose backoff ends first first."""
        now = self.clock()
        count = len(self.hosts)
        start = self._next
        turn = [self.hosts[(start + i) % count] for i in range(count)]
        ready = [host for host in turn if host.up or host.retry_at <= now]
        if not ready:
            return sorted(self.hosts, key=lambda host: host.retry_at)
        self._next = (self.hosts.index(ready[0]) + 1) % count
        return ready

    def worked(self, host: Host[T]) -> None:
        """``host`` answered as a working host does."""
        host.backoff.reset()
        if host.down_since is None:
            return
        down_secs = self.clock() - host.down_since
        host.down_since = None
        host.retry_at = 0.0
        if self._says_changes:
            log.warning(
                "%s: host %s is back after %.1fs; requests go to it again",
                self.owner,
                host.name,
                down_secs,
            )

    def failed(self, host: Host[T], why: str) -> None:
        """``host`` did not answer, or said it cannot serve: set it aside for its backoff."""
        now = self.clock()
        host.failures += 1
        host.error = why
        delay = host.backoff.next_delay()
        host.retry_at = now + delay
        if host.down_since is not None:
            return
        host.down_since = now
        if self._says_changes:
            others = sum(1 for h in self.hosts if h.up)
            log.warning(
                "%s: host %s is down, tried again in %.1fs (the waits grow to %gs while it "
                "stays down)%s: %s",
                self.owner,
                host.name,
                delay,
                host.backoff.maximum_secs,
                f"; its requests go to the {others} other host{'s' * (others > 1)} up"
                if others
                else "",
                why,
            )

    def states(self, now: float | None = None) -> list[HostState]:
        now = self.clock() if now is None else now
        return [
            HostState(
                name=host.name,
                up=host.up,
                down_secs=0.0 if host.down_since is None else now - host.down_since,
                error=host.error,
                failures=host.failures,
            )
            for host in self.hosts
        ]


def _upper_half(low: float, high: float) -> float:
    return random.uniform((low + high) / 2, high)
