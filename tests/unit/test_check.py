"""``logship check`` with source cri: the pod logs are checked instead of the engine."""

from __future__ import annotations

from pathlib import Path

from logship.check import check_pod_logs


async def test_pod_logs_that_are_not_there_fail_saying_what_to_mount(tmp_path: Path) -> None:
    result = await check_pod_logs(tmp_path / "pods", 1.0)
    assert not result.ok
    assert result.line() == (
        f"FAIL pod logs {tmp_path / 'pods'}: {tmp_path / 'pods'} is not a directory "
        "(is /var/log/pods mounted?)"
    )


async def test_pod_logs_that_are_there_say_how_many_files(tmp_path: Path) -> None:
    for pod in ("shop_web-1_u1", "shop_db-0_u2"):
        log = tmp_path / pod / "app" / "0.log"
        log.parent.mkdir(parents=True)
        log.write_bytes(b"2026-12-05T12:00:00Z stdout F hello\n")
    result = await check_pod_logs(tmp_path, 1.0)
    assert result.ok and result.detail == "2 container log files"
