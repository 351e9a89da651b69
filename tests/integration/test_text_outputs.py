"""A container that writes terminal escape sequences cannot drive the terminal of whoever reads
its lines as text: the console's text format, ``/logs`` text and ``logship tail`` show every
control character but tab written out (``\\x1b``, ``\\r``); the JSON outputs keep them, as JSON
escapes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.helpers.agent_process import run_cli
from tests.helpers.http import base_url
from tests.helpers.waiting import wait_until

# clear the screen, home the cursor, retitle the window (OSC ... BEL), overwrite from the
# line's start, a C1 CSI (U+009B), then a tab, which stays a tab
HOSTILE = "a\\033[2J\\033[Hb\\033]0;pwned\\007c\\rd\\302\\233e\\tf"
SHOWN = "a\\x1b[2J\\x1b[Hb\\x1b]0;pwned\\x07c\\rd\\x9be\tf"
RAW = "a\x1b[2J\x1b[Hb\x1b]0;pwned\x07c\rd\x9be\tf"
CONTROLS = [chr(c) for c in (*range(0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0))]


def shows_no_control(text: str) -> bool:
    return not any(c in text for c in CONTROLS)


async def test_text_outputs_show_control_characters_escaped_and_json_keeps_them(
    start_agent: Any, containers: Any
) -> None:
    text_agent = start_agent("run", "console://?format=text", "--http", "0")
    json_agent = start_agent("run", "console://?format=json")
    base = base_url(text_agent)
    async with aiohttp.ClientSession() as http:
        live = await http.get(f"{base}/logs")
        c = containers.run(f"printf '{HOSTILE}\\n'; sleep 60")

        # /logs, as text
        line = (await asyncio.wait_for(live.content.readline(), 30)).decode()
        live.close()
    assert line.endswith(f") stdout: {SHOWN}\n"), line
    assert shows_no_control(line.removesuffix("\n").replace("\t", ""))

    # the console's text format
    console = wait_until(
        lambda: [ln for ln in text_agent.stdout.splitlines() if c.name in ln],
        what="the line on the text console",
    )
    assert console[0].endswith(f"stdout: {SHOWN}"), console
    assert shows_no_control(text_agent.stdout.replace("\n", "").replace("\t", ""))

    # the JSON console keeps the message as it was, in JSON escapes
    documents = wait_until(
        lambda: [d for d in json_agent.stdout_json() if d["container"]["name"] == c.name],
        what="the line on the JSON console",
    )
    assert documents[0]["message"] == RAW
    assert "\\u001b[2J" in json_agent.stdout and "\x1b" not in json_agent.stdout

    # logship tail, as text and as JSON
    tail = run_cli(["tail", "--no-follow", c.name])
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout == f"{c.name} | {SHOWN}\n"
    tail_json = run_cli(["tail", "--no-follow", "--json", c.name])
    assert json.loads(tail_json.stdout)["message"] == RAW
