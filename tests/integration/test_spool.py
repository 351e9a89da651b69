"""The disk spool against the real engine and a real rsyslogd over TCP (fault scenario 3 with
``spool.enabled=true``): the receiver killed for 10 s behind a small memory buffer, and the
agent stopped (SIGTERM) and started again while the receiver is down, a spool on a small file
system that fills up (a tmpfs), and one on a file system that stalls (an ext4 loop device,
frozen with fsfreeze); the tests mount them as root. Figures are printed as
``FAULT <scenario>: produced N, shipped N, lost N, duplicated N`` like the fault suite's."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.helpers.agent_process import AgentProcess
from tests.helpers.faults import dropped_counted, report
from tests.helpers.http import Scrape, base_url
from tests.helpers.rsyslog import Rsyslog, syslog_messages
from tests.helpers.waiting import wait_until

# numbered lines, `per` every 0.25 s: a steady stream the 2-core machine takes beside others
FLOOD = (
    "i=0; while [ $i -lt {batches} ]; do seq $((i*{per}+1)) $((i*{per}+{per})); "
    "i=$((i+1)); sleep 0.25; done"
)


def destination(rsyslog: Rsyslog, buffer_records: int) -> str:
    return (
        f"syslog+tcp://127.0.0.1:{rsyslog.tcp_port}?reconnect_max_secs=1"
        f"&buffer_max_records={buffer_records}&spool.enabled=true"
        "&spool.max_bytes=16777216&spool.segment_bytes=262144"
    )


def every_line(rsyslog: Rsyslog, container: Any, n: int, what: str) -> list[str]:
    """The lines the flood writes ("1" to ``n``), once rsyslogd has had each from ``container``."""
    wait_until(
        lambda: len(set(syslog_messages(rsyslog, container.name))) >= n, timeout=90, what=what
    )
    return [str(i) for i in range(1, n + 1)]


def spool_files(state: Path) -> list[Path]:
    return sorted(state.glob("spool/*/*.seg"))


def metrics(base: str) -> Scrape:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        return Scrape(resp.read().decode())


def checkpoint(state: Path, container_id: str) -> tuple[str, int]:
    """How far the container was shipped: the Engine API source's time, or the offset in the
    json-file log the file source read it from (either grows as lines are handled)."""
    saved = json.loads((state / "checkpoints.json").read_text())["containers"][container_id]
    if "file" in saved:
        return "", int(saved["file"]["offset"])
    return str(saved["timestamp"]), 0


def test_with_the_spool_a_receiver_killed_for_10_s_loses_nothing(
    rsyslog_tcp: Rsyslog, start_agent: Callable[..., AgentProcess], containers: Any, tmp_path: Path
) -> None:
    rsyslog = rsyslog_tcp
    state = tmp_path / "state"
    agent = start_agent("run", destination(rsyslog, 500), "--state-dir", str(state), "--http", "0")
    base = base_url(agent)
    flood = containers.run(FLOOD.format(batches=60, per=200))  # 12000 lines in ~15 s
    wait_until(lambda: len(syslog_messages(rsyslog)) >= 200, timeout=60, what="the first lines")
    rsyslog.kill()
    time.sleep(2)  # the agent finds it down; its checkpoint then stands at what went out
    before = checkpoint(state, flood.id)
    time.sleep(8)
    written = spool_files(state)
    during = checkpoint(state, flood.id)
    outage = metrics(base)
    with urllib.request.urlopen(f"{base}/containers", timeout=10) as resp:
        (entry,) = [c for c in json.load(resp) if c["id"] == flood.id]
    rsyslog.start()  # the same port
    flood.wait(timeout=120)
    produced = every_line(rsyslog, flood, 12000, "every line, the spooled ones too")
    time.sleep(1)  # anything sent twice would show by now
    after = metrics(base)
    assert agent.stop() == 0
    shipped = syslog_messages(rsyslog, flood.name)
    figures = report(
        "3 rsyslog TCP killed 10 s, disk spool on",
        produced,
        shipped,
        "buffer 500 records; what it would have dropped went to the spool",
    )
    assert figures["lost"] == figures["duplicated"] == 0
    assert shipped == produced  # and in the order written
    assert written  # the outage did overflow into the spool ...
    assert during > before  # ... and checkpoints moved on meanwhile
    assert dropped_counted(agent) == 0
    assert (outage.value("logship_spool_records") or 0) > 0  # the operator sees it on disk
    assert (outage.value("logship_spool_bytes") or 0) > 0
    (shed,) = entry["destinations"]
    assert shed["spooled"] > 0 and "dropped" not in shed  # per container: moved, not lost
    for reason in ("buffer_full", "spool_full", "spool_damaged", "disk_full", "disk_error"):
        assert after.value("logship_records_dropped_total", reason=reason) == 0, reason
    assert after.value("logship_spool_records") == 0
    assert "moving to the disk spool" in agent.stderr
    assert not spool_files(state)  # all sent, nothing left


def test_with_the_spool_an_agent_restart_while_the_receiver_is_down_loses_nothing(
    rsyslog_tcp: Rsyslog, start_agent: Callable[..., AgentProcess], containers: Any, tmp_path: Path
) -> None:
    rsyslog = rsyslog_tcp
    state = tmp_path / "state"
    args = ("run", destination(rsyslog, 300), "--state-dir", str(state))
    first = start_agent(*args)
    flood = containers.run(FLOOD.format(batches=40, per=200))  # 8000 lines in ~10 s
    wait_until(lambda: len(syslog_messages(rsyslog)) >= 200, timeout=60, what="the first lines")
    rsyslog.kill()
    time.sleep(3)
    assert first.stop() == 0  # SIGTERM while the destination is down
    assert "kept in the disk spool for the next start" in first.stderr
    assert "down; what it holds goes to the disk spool now" in first.stderr  # no grace wait
    kept = spool_files(state)
    second = start_agent(*args)
    time.sleep(2)  # still down: the new agent spools too
    rsyslog.start()
    flood.wait(timeout=120)
    produced = every_line(rsyslog, flood, 8000, "every line, the ones the first agent spooled too")
    time.sleep(1)
    assert second.stop() == 0
    shipped = syslog_messages(rsyslog, flood.name)
    figures = report(
        "3 agent restarted (SIGTERM) while rsyslog TCP is down, disk spool on",
        produced,
        shipped,
        "buffer 300 records; the first agent spooled what it could not send",
    )
    assert kept  # the first agent left records on disk ...
    assert "from the last run go first" in second.stderr  # ... and the second sent them
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert not spool_files(state)


def test_with_the_spool_on_a_disk_that_fills_up_what_it_refused_is_counted_and_read_again(
    rsyslog_tcp: Rsyslog, start_agent: Callable[..., AgentProcess], containers: Any, tmp_path: Path
) -> None:
    rsyslog = rsyslog_tcp
    state = tmp_path / "state"
    disk = state / "spool"  # a 256 KiB file system: the spool fills it long before max_bytes
    disk.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], check=True)
    try:
        rsyslog.kill()  # down from the start: everything the buffer sheds goes to the spool
        args = ("run", destination(rsyslog, 300), "--state-dir", str(state), "--http", "0")
        first = start_agent(*args)
        base = base_url(first)
        flood = containers.run(FLOOD.format(batches=40, per=200))  # 8000 lines in ~10 s
        flood.wait(timeout=120)
        full = wait_until(
            lambda: metrics(base).value("logship_records_dropped_total", reason="disk_full"),
            timeout=30,
            what="lines the full disk refused, counted",
        )
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
            assert resp.status == 200  # the agent itself is fine
        rsyslog.start()  # the same port: the spool is sent, then what memory holds
        wait_until(
            lambda: (
                metrics(base).value("logship_spool_records") == 0
                and metrics(base).value("logship_buffer_records") == 0
            ),
            timeout=90,
            what="the spool and the buffer sent",
        )
        time.sleep(1)
        counted = metrics(base)
        assert first.stop() == 0
        shipped_first = syslog_messages(rsyslog, flood.name)
        # every line the first agent did not ship, it counted as refused by the disk
        refused = counted.value("logship_records_dropped_total", reason="disk_full")
        assert refused == 8000 - len(set(shipped_first)) and full > 0
        for reason in ("buffer_full", "spool_full", "spool_damaged", "disk_error"):
            assert counted.value("logship_records_dropped_total", reason=reason) == 0, reason
        # said once per episode: each one ends with "works again"
        episodes = first.stderr.count("refused a write (No space left on device)")
        assert 0 < episodes <= first.stderr.count("works again") + 1
        # the checkpoint stayed before what the disk refused: a restart reads it again
        second = start_agent(*args)
        produced = every_line(
            rsyslog, flood, 8000, "every line, those the full disk refused read again"
        )
        assert second.stop() == 0
        figures = report(
            "3 rsyslog TCP down, disk spool on a 256 KiB file system that fills up",
            produced,
            syslog_messages(rsyslog, flood.name),
            f"buffer 300 records; the first agent shipped {len(shipped_first)}, the disk refused "
            f"{refused:.0f}, read again after a restart",
        )
        assert figures["lost"] == 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@contextlib.contextmanager
def ext4_disk(mountpoint: Path, size: str = "64M") -> Iterator[Path]:
    """A real ext4 file system of its own (a loop device) at ``mountpoint``, that a test can
    freeze (``fsfreeze -f``: every write to it hangs, as on a stalled disk) and thaw."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    image = mountpoint.with_name(mountpoint.name + ".img")
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    loop = subprocess.run(
        ["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        subprocess.run(["mkfs.ext4", "-q", loop], check=True)
        subprocess.run(["mount", loop, str(mountpoint)], check=True)
        try:
            yield mountpoint
        finally:
            subprocess.run(["fsfreeze", "-u", str(mountpoint)], check=False, capture_output=True)
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)
    finally:
        subprocess.run(["losetup", "-d", loop], check=False)
        image.unlink(missing_ok=True)


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=3) as resp:
            return resp.status == 200
    except OSError:  # a 503, or no answer in time
        return False


def test_with_the_spool_on_a_stalled_disk_the_agent_stays_healthy_and_loses_nothing(
    rsyslog_tcp: Rsyslog, start_agent: Callable[..., AgentProcess], containers: Any, tmp_path: Path
) -> None:
    rsyslog = rsyslog_tcp
    state = tmp_path / "state"
    with ext4_disk(state / "spool") as disk:
        rsyslog.kill()  # down from the start: what the buffer sheds goes to the spool
        args = ("run", destination(rsyslog, 300), "--state-dir", str(state), "--http", "0")
        agent = start_agent(*args)
        base = base_url(agent)
        subprocess.run(["fsfreeze", "-f", str(disk)], check=True)  # every write to it hangs
        try:
            flood = containers.run(FLOOD.format(batches=40, per=200))  # 8000 lines in ~10 s
            wait_until(
                lambda: (metrics(base).value("logship_spool_records") or 0) > 0,
                timeout=30,
                what="lines shed into the spool, waiting for the frozen disk",
            )
            # longer than the 5 s of lag after which /healthz says the loop is stuck
            answers = []
            for _ in range(16):
                answers.append(healthy(base))
                time.sleep(0.5)
            stuck = metrics(base)
        finally:
            subprocess.run(["fsfreeze", "-u", str(disk)], check=True)
        assert all(answers), answers  # the agent answered its liveness probe throughout
        assert stuck.value("logship_spool_records") > 0
        assert stuck.value("logship_records_dropped_total", reason="spool_full") == 0
        rsyslog.start()
        flood.wait(timeout=120)
        produced = every_line(
            rsyslog, flood, 8000, "every line, those that waited for the disk too"
        )
        time.sleep(1)
        assert agent.stop() == 0
        figures = report(
            "3 rsyslog TCP down, disk spool on a file system frozen for 8 s (fsfreeze)",
            produced,
            syslog_messages(rsyslog, flood.name),
            "buffer 300 records; /healthz answered 200 throughout",
        )
        assert figures["lost"] == figures["duplicated"] == 0
