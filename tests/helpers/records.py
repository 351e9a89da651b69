"""Test data for the agent's parts: the host, containers and their records.

:func:`make_meta` is one container, the same in every test unless the test says otherwise
(``make_meta(name="db-1", labels={...})``). A test that checks a value passes it, so that the
value is in sight where it is checked. Each call makes a fresh container: encoders cache what
they precompute per container (in ``meta.cache``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from logship.record import ContainerMeta, HostMeta, Record

HOST = HostMeta("vm", "10.0.0.1")
CONTAINER_ID = "5f9a6638b642" + "c0ffee" * 8 + "0123"
IMAGE = "logship-test/busybox:1.35"
IMAGE_ID = "sha256:d4e5f6a7b8c9" + "1" * 52
TS = "2026-11-23T19:43:24.849838066Z"  # as Docker gives a line's time: UTC, nine digits
K8S_LABELS = {  # what the kubelet puts on the containers of a pod
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.name": "web-7d9f",
    "io.kubernetes.pod.uid": "0b1c-22",
    "io.kubernetes.container.name": "nginx",
}
_FIRST_SECOND = datetime(2026, 11, 27, tzinfo=UTC)


def make_meta(
    *,
    id: str = CONTAINER_ID,
    name: str = "web-2",
    image: str = IMAGE,
    image_id: str = IMAGE_ID,
    host: HostMeta = HOST,
    **more: Any,
) -> ContainerMeta:
    """A container: ``id``, ``name``, ``image``, ``image_id``, ``host``, and any other field of
    :class:`ContainerMeta` (``labels``, ``env``, ``command``, ``created``, ``tty``...)."""
    return ContainerMeta(id=id, name=name, image=image, image_id=image_id, host=host, **more)


def make_record(
    message: str = "hello",
    stream: str = "stdout",
    ts: str = TS,
    meta: ContainerMeta | None = None,
    seq: int = 0,
) -> Record:
    """One line (of a fresh :func:`make_meta` container unless ``meta`` is given)."""
    return Record(message, stream, ts, meta if meta is not None else make_meta(), seq)


def records_of(
    meta: ContainerMeta, *messages: str, stream: str = "stdout", ts: str = TS
) -> list[Record]:
    """One record per message, all of ``meta``, of one stream and one time."""
    return [Record(m, stream, ts, meta) for m in messages]


def second(n: int) -> str:
    """The time ``n`` seconds after 2026-11-27T00:00:00Z, as Docker writes it."""
    return (_FIRST_SECOND + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")


def numbered_lines(
    meta: ContainerMeta, n: int, *, stream: str = "stdout", first: int = 0
) -> list[Record]:
    """``line {first}`` ... ``line {first + n - 1}``, each written at :func:`second` ``i``."""
    return [Record(f"line {i}", stream, second(i), meta) for i in range(first, first + n)]
