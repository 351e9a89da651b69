"""Checkpoints of containers read from their log files: a position in a file (which file:
device, inode, the start of its content; at what offset), written and read back, the format
version, and file entries that are not what the store writes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logship.protocol.filelog import LogFile, SavedFile
from logship.record import ResumePosition
from logship.state.checkpoints import CheckpointStore, position_json

T = "2026-12-05T12:00:00.000000000Z"
CRI = "c" * 64
DOCKER = "d" * 64
POD_LOG = "/var/log/pods/shop_web-7d9f_0b1c/nginx/0.log"
SAVED = SavedFile(POD_LOG, 2049, 131, "323032362d31322d3035", 52917)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CheckpointStore]:
    opened = CheckpointStore(tmp_path)
    opened.open()
    yield opened
    opened.close()


def written(store: CheckpointStore) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(store.path.read_text())
    return data


def test_a_file_position_is_written_as_version_2_and_read_back_as_it_was(
    store: CheckpointStore,
) -> None:
    positions: dict[str, ResumePosition | None] = {CRI: SAVED, DOCKER: (T, 2)}
    assert store.write(positions, {CRI: "web-7d9f/nginx", DOCKER: "db-1"})
    data = written(store)
    assert data["version"] == 2
    assert data["containers"][CRI] == {
        "name": "web-7d9f/nginx",
        "file": {
            "path": POD_LOG,
            "dev": 2049,
            "ino": 131,
            "fingerprint": "323032362d31322d3035",
            "offset": 52917,
        },
    }
    assert data["containers"][DOCKER] == {"name": "db-1", "timestamp": T, "skip": 2}
    saved = store.load()
    assert saved.positions == positions
    assert isinstance(saved.positions[CRI], SavedFile)
    assert saved.names == {CRI: "web-7d9f/nginx", DOCKER: "db-1"}


def test_a_decoders_position_is_written_as_the_file_and_offset_it_names(
    store: CheckpointStore,
) -> None:
    """What records carry: (order in this run, offset, the file as opened); the order is of
    this run only and is not kept."""
    file = LogFile(POD_LOG, 2049, 131, "3230", order=7)
    assert store.write({CRI: (7, 1200, file)}, {})
    assert store.load().positions == {CRI: SavedFile(POD_LOG, 2049, 131, "3230", 1200)}
    assert position_json((7, 1200, file)) == {
        "file": {"path": POD_LOG, "dev": 2049, "ino": 131, "fingerprint": "3230", "offset": 1200}
    }


def test_without_file_positions_the_file_stays_version_1(store: CheckpointStore) -> None:
    assert store.write({DOCKER: (T, 0), "e" * 64: None}, {})
    assert written(store)["version"] == 1
    assert store.write({DOCKER: (T, 0), CRI: SAVED}, {})
    assert written(store)["version"] == 2
    assert store.write({DOCKER: (T, 1)}, {})  # the file containers gone again
    assert written(store)["version"] == 1


def test_a_version_1_file_of_an_older_agent_still_loads(store: CheckpointStore) -> None:
    store.path.write_text(
        json.dumps(
            {
                "version": 1,
                "written_at": T,
                "containers": {DOCKER: {"name": "db-1", "timestamp": T, "skip": 3}},
            }
        )
    )
    saved = store.load()
    assert saved.positions == {DOCKER: (T, 3)} and saved.written_at == T


GOOD = {"path": POD_LOG, "dev": 2049, "ino": 131, "fingerprint": "3230", "offset": 10}


@pytest.mark.parametrize(
    "file",
    [
        "a string",
        None,
        [],
        {k: v for k, v in GOOD.items() if k != "offset"},
        {k: v for k, v in GOOD.items() if k != "fingerprint"},
        {**GOOD, "offset": -1},
        {**GOOD, "offset": "10"},
        {**GOOD, "offset": 10.5},
        {**GOOD, "offset": True},
        {**GOOD, "dev": "2049"},
        {**GOOD, "ino": None},
        {**GOOD, "path": 5},
        {**GOOD, "path": ""},
        {**GOOD, "fingerprint": None},
        {**GOOD, "fingerprint": "not hex"},
    ],
)
def test_a_file_entry_that_is_not_what_the_store_writes_is_refused_and_the_file_kept_aside(
    store: CheckpointStore, file: object, caplog: pytest.LogCaptureFixture
) -> None:
    content = json.dumps(
        {"version": 2, "written_at": T, "containers": {CRI: {"name": "x", "file": file}}}
    )
    store.path.write_text(content)
    with caplog.at_level(logging.WARNING):
        saved = store.load()
    assert saved.positions == {} and saved.written_at is None
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "checkpoints.json" in caplog.records[0].getMessage()
    assert (store.dir / "checkpoints.json.bad").read_text() == content
    assert not store.path.exists()


def test_a_good_file_entry_loads(store: CheckpointStore) -> None:
    store.path.write_text(
        json.dumps({"version": 2, "written_at": T, "containers": {CRI: {"file": GOOD}}})
    )
    assert store.load().positions == {CRI: SavedFile(POD_LOG, 2049, 131, "3230", 10)}


def test_an_empty_fingerprint_of_a_file_empty_when_saved_loads(store: CheckpointStore) -> None:
    store.path.write_text(
        json.dumps(
            {
                "version": 2,
                "written_at": T,
                "containers": {CRI: {"file": {**GOOD, "fingerprint": "", "offset": 0}}},
            }
        )
    )
    assert store.load().positions == {CRI: SavedFile(POD_LOG, 2049, 131, "", 0)}
