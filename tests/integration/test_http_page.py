"""The page at ``/``, in a real headless Chromium: it shows a container's lines as they come,
filtered as its URL and filter box say, and what it shows is really drawn."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.helpers.browser import Browser, png_pixels
from tests.helpers.http import base_url

LINES = "[...document.querySelectorAll('#lines .line')].map(e => e.textContent)"
WIDTH, HEIGHT = 1000, 600
BACKGROUND = bytes((0x10, 0x14, 0x18))  # the page's --bg


async def test_the_page_shows_live_lines_filtered_in_a_real_browser(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    agent = start_agent("run", "console://?format=json", "--http", "0")
    base = base_url(agent)
    name = f"page-{uuid.uuid4().hex[:6]}"
    containers.run(
        "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo page-out-$i; echo page-err-$i >&2;"
        " sleep 0.1; done",
        name=name,
    )
    browser = await Browser(tmp_path, width=WIDTH, height=HEIGHT).start()
    try:
        await browser.open(f"{base}/?filter.sources=stdout")
        lines = await browser.wait_for(
            f"(l => l.length >= 5 ? l : null)({LINES})", what="five lines on the page"
        )
        assert all(f"{name} stdout: page-out-" in line for line in lines), lines
        assert await browser.evaluate("document.getElementById('filter').value") == (
            "filter.sources=stdout"
        )
        status = await browser.evaluate("document.getElementById('status').textContent")
        assert status.startswith("live"), status

        # the filter box: stderr instead, applied with the button
        await browser.evaluate(
            "document.getElementById('clear').click();"
            "document.getElementById('filter').value = 'filter.sources=stderr';"
            "document.getElementById('apply').click()"
        )
        lines = await browser.wait_for(
            f"(l => l.length >= 3 ? l : null)({LINES})", what="stderr lines after the filter"
        )
        assert all(f"{name} stderr: page-err-" in line for line in lines), lines
        assert await browser.evaluate("location.search") == "?filter.sources=stderr"

        # a bad filter is shown, not swallowed
        await browser.evaluate(
            "document.getElementById('filter').value = 'filter.sources=stdin';"
            "document.getElementById('apply').click()"
        )
        error = await browser.wait_for(
            "(s => s.className === 'error' ? s.textContent : null)"
            "(document.getElementById('status'))",
            what="the error in the status line",
        )
        assert "filter.sources" in error

        # what a person sees: a screenshot of the whole window with the lines drawn on it
        await browser.evaluate(
            "document.getElementById('filter').value = '';document.getElementById('apply').click()"
        )
        await browser.wait_for(f"{LINES}.length >= 10", what="lines again")
        png = await browser.screenshot(tmp_path / "page.png")
    finally:
        await browser.close()
    width, height, rows = png_pixels(png)
    assert (width, height) == (WIDTH, HEIGHT)
    channels = len(rows[0]) // width
    # below the header, where the lines are: text in several colours on the page's background
    colours: set[bytes] = set()
    drawn = total = 0
    for row in rows[60:300]:
        for x in range(0, width * channels, channels):
            pixel = row[x : x + 3]
            colours.add(pixel)
            total += 1
            drawn += pixel != BACKGROUND
    assert drawn / total > 0.01, f"only {drawn} of {total} pixels differ from the background"
    assert len(colours) > 20, f"{len(colours)} colours: not text"


async def test_with_a_token_the_page_asks_for_it_and_sends_it_as_a_header(
    start_agent: Any, containers: Any, tmp_path: Path
) -> None:
    token = f"page-token-{uuid.uuid4().hex}"
    (tmp_path / "token").write_text(token + "\n")
    agent = start_agent(
        "run", "--http", "0", "--http-token-file", str(tmp_path / "token"), "--log-level", "debug"
    )
    base = base_url(agent)
    name = f"page-{uuid.uuid4().hex[:6]}"
    containers.run(
        "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo tok-out-$i; sleep 0.1; done", name=name
    )
    browser = await Browser(tmp_path, width=WIDTH, height=HEIGHT).start()
    try:
        await browser.open(f"{base}/")
        asked = await browser.wait_for(
            "(t => t && !t.hidden ? document.getElementById('status').textContent : null)"
            "(document.getElementById('token'))",
            what="the page to ask for the token",
        )
        assert "needs its token" in asked
        assert await browser.evaluate(f"{LINES}.length") == 0

        # a wrong one is told so, and shows nothing
        await browser.evaluate(
            "document.getElementById('token').value = 'wrong';"
            "document.getElementById('apply').click()"
        )
        await browser.wait_for(
            "document.getElementById('status').textContent.includes('token is wrong')",
            what="the wrong token to be refused",
        )
        await browser.evaluate(
            f"document.getElementById('token').value = '{token}';"
            "document.getElementById('apply').click()"
        )
        lines = await browser.wait_for(
            f"(l => l.length >= 3 ? l : null)({LINES})", what="lines with the token"
        )
        assert all(f"{name} stdout: tok-out-" in line for line in lines), lines
        # the token went as a header: neither the page's address nor the requests' hold it
        assert token not in await browser.evaluate("location.href")
        urls = await browser.evaluate(
            "performance.getEntriesByType('resource').map(e => e.name).join(' ')"
        )
        assert "logs?" in urls and token not in urls
        # and it is kept for this tab: a reload asks no more
        await browser.evaluate("window.beforeReload = true; location.reload()")
        await browser.wait_for(
            f"!window.beforeReload && document.readyState === 'complete' && {LINES}.length >= 1",
            what="lines after a reload",
        )
        assert await browser.evaluate("document.getElementById('token').hidden")
    finally:
        await browser.close()
    assert token not in agent.stderr
