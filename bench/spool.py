"""The disk spool's cost per line: records written (add + flush, one write and one fsync per
flush) and read back (take + ack), in wall and CPU microseconds per record.

    .venv/bin/python bench/spool.py    # 200k 100-byte lines, flushes of 8192, takes of 2048
    .venv/bin/python bench/spool.py --flush 500 --take 200
    PYTHONPATH=/tmp/old .venv/bin/python bench/spool.py    # another version of logship/

The spool lives in a temporary directory under /var/tmp (a real disk, not tmpfs, where there is
one). Wall time on a shared machine is noisy; CPU time (getrusage) is the figure to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import resource
import tempfile
import time
from pathlib import Path

from logship.pipeline.spool import Spool
from logship.record import ContainerMeta, HostMeta, Record


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(n: int, flush: int, take: int, line_bytes: int) -> None:
    meta = ContainerMeta(
        id="a" * 64, name="web", image="img", image_id="sha256:x", host=HostMeta("h", "10.0.0.1")
    )
    message = "x" * line_bytes
    records = [Record(message, "stdout", f"2026-11-27T09:00:00.{i:09d}Z", meta) for i in range(n)]
    with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
        spool = Spool(Path(directory), max_bytes=1 << 30, segment_bytes=4 << 20)
        spool.open()
        t0, c0 = time.perf_counter(), cpu()
        for i in range(0, n, flush):
            spool.add(records[i : i + flush])
            await spool.flush()
        t1, c1 = time.perf_counter(), cpu()
        read = 0
        while spool.records:
            read += len(await spool.take(take))
            acked = spool.ack()
            if inspect.isawaitable(acked):  # (before the spool's I/O moved to its thread)
                await acked
        t2, c2 = time.perf_counter(), cpu()
        assert read == n, read
        spool.close()
    us = 1e6 / n
    print(
        f"write {(t1 - t0) * us:.2f} us/line wall, {(c1 - c0) * us:.2f} CPU; "
        f"read {(t2 - t1) * us:.2f} us/line wall, {(c2 - c1) * us:.2f} CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--flush", type=int, default=8192, help="records per flush")
    parser.add_argument("--take", type=int, default=2048, help="records per take (batch)")
    parser.add_argument("--line-bytes", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.lines, args.flush, args.take, args.line_bytes))


if __name__ == "__main__":
    main()
