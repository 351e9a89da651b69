"""The README's first command keeps working: it sets up, starts demo containers, ships them."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.helpers.paths import ROOT


def test_the_demo_command_ships_both_demo_containers_to_the_console() -> None:
    demo = subprocess.Popen(
        ["bash", "scripts/demo.sh"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = demo.communicate(timeout=25)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C sends: to the whole foreground group
        try:
            out, err = demo.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    lines = out.splitlines()
    web = [
        line
        for line in lines
        if " logship-demo-web (logship-test/busybox:1.35) stdout: GET" in line
    ]
    worker = [line for line in lines if " logship-demo-worker " in line and "stderr: job" in line]
    assert web and worker, f"stdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    # cleaned up after itself
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "name=logship-demo-"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert left.stdout.strip() == ""
