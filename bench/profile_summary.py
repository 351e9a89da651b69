"""Where the agent's time goes, from py-spy's collapsed stacks (bench/profile-agent.sh).

    .venv/bin/python bench/profile_summary.py /tmp/gelf.txt [more.txt ...]

Only samples inside the running event loop count (start-up, imports included, is left out).
Each sample goes to the innermost frame that belongs to a known part of the agent; samples with
none (the loop's own C code: socket reads and writes, scheduling) are "event loop itself".
"""

from __future__ import annotations

import re
import sys
from collections import Counter

PARTS = [
    ("gzip/zlib (compress, _deflate)", r"^(compress|_deflate) \(logship/protocol/gelf"),
    ("UDP send", r"\(logship/transport/udp"),
    ("stream/TLS write", r"\((logship/transport/tcp|asyncio/streams|ssl\.py|asyncio/sslproto)"),
    ("HTTP client (aiohttp)", r"\((aiohttp/|logship/transport/http)"),
    (
        "encode (logship/protocol/<destination>)",
        r"\(logship/protocol/(gelf|syslog|forward|bulk|json)",
    ),
    ("sink (acks, answers)", r"\(logship/sinks/"),
    ("read + decode the Docker stream", r"\(logship/(protocol/docker|sources/)"),
    ("buffer, routing, runner", r"\(logship/pipeline/"),
    ("OpenSSL (native)", r"\(lib(crypto|ssl)\.so"),
    ("zlib (native)", r"\(libz\.so"),
]
COMPILED = [(label, re.compile(pattern)) for label, pattern in PARTS]


def frame_name(frame: str) -> str:
    """``func (/path/site-packages/aiohttp/x.py:12)`` -> ``func (aiohttp/x.py)``."""
    head, _, where = frame.strip().partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for cut in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        where = where.split(cut)[-1]
    return f"{head} ({where})"


def summarize(lines: list[str]) -> tuple[int, Counter[str]]:
    parts: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        names = [frame_name(f) for f in stack.split(";")]
        loop = next((i for i, n in enumerate(names) if n.startswith("Runner.run (asyncio/")), None)
        if loop is None or any(n.startswith("<module>") for n in names[loop:]):
            continue  # before the loop runs, or importing modules once it does: start-up
        n = int(count)
        total += n
        for name in reversed(names):
            label = next((label for label, rx in COMPILED if rx.search(name)), None)
            if label:
                parts[label] += n
                break
        else:
            parts["event loop itself"] += n
    return total, parts


def main(paths: list[str]) -> int:
    for path in paths:
        with open(path) as f:
            total, parts = summarize(f.readlines())
        print(f"{path}: {total} samples in the running loop")
        for label, n in parts.most_common():
            print(f"  {100 * n / total:5.1f}%  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
