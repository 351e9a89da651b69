"""The checkpoint file: written whole and atomically, read back, never a reason to crash."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logship.errors import ConfigError
from logship.state.checkpoints import CheckpointStore

T = "2026-11-27T05:24:33.719017066Z"


@pytest.fixture
def store_in() -> Iterator[Callable[[Path], CheckpointStore]]:
    """Opens (locks) a state directory; every store is closed after the test."""
    stores: list[CheckpointStore] = []

    def open_store(path: Path) -> CheckpointStore:
        store = CheckpointStore(path)
        store.open()
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        store.close()


def test_positions_written_are_read_back(
    store_in: Callable[[Path], CheckpointStore], tmp_path: Path
) -> None:
    store = store_in(tmp_path / "state")  # created if missing
    assert store.load().written_at is None  # no file yet: nothing to resume
    assert store.write({"a" * 64: (T, 3), "b" * 64: None}, {"a" * 64: "web-1"})
    saved = store.load()
    assert saved.positions == {"a" * 64: (T, 3), "b" * 64: None}
    assert saved.names["a" * 64] == "web-1"
    assert saved.written_at is not None and saved.written_at > T
    data = json.loads((tmp_path / "state" / "checkpoints.json").read_text())
    assert data["version"] == 1
    assert data["containers"]["a" * 64] == {"name": "web-1", "timestamp": T, "skip": 3}
    assert [p.name for p in (tmp_path / "state").iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"version": 99, "written_at": "' + T.encode() + b'", "containers": {}}',
        b'{"version": 1, "written_at": "'
        + T.encode()
        + b'", "containers": {"a": {"timestamp": 5}}}',
        b'{"version": 1, "written_at": "yesterday", "containers": {}}',
    ],
)
def test_an_unreadable_file_is_logged_once_kept_aside_and_treated_as_empty(
    store_in: Callable[[Path], CheckpointStore],
    tmp_path: Path,
    content: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "checkpoints.json").write_bytes(content)
    store = store_in(tmp_path)
    with caplog.at_level(logging.WARNING):
        saved = store.load()
    assert saved.positions == {} and saved.written_at is None
    assert len(caplog.records) == 1
    assert "checkpoints.json" in caplog.records[0].getMessage()
    assert (tmp_path / "checkpoints.json.bad").read_bytes() == content
    assert store.write({"a" * 64: (T, 1)}, {})  # and the next write replaces it
    assert store.load().positions == {"a" * 64: (T, 1)}


def test_a_state_directory_is_used_by_one_agent_at_a_time(
    store_in: Callable[[Path], CheckpointStore], tmp_path: Path
) -> None:
    first = store_in(tmp_path)
    with pytest.raises(ConfigError, match="in use by another logship"):
        store_in(tmp_path)
    first.close()
    store_in(tmp_path).close()


def test_a_state_directory_that_cannot_be_made_is_a_configuration_error(
    store_in: Callable[[Path], CheckpointStore], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="state_dir: cannot use"):
        store_in(tmp_path / "file" / "state")


def test_a_failed_write_is_logged_once_and_keeps_the_old_file(
    store_in: Callable[[Path], CheckpointStore], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_in(tmp_path)
    assert store.write({"a" * 64: (T, 1)}, {})
    (tmp_path / ".checkpoints.json.tmp").mkdir()  # the temporary file cannot be created
    with caplog.at_level(logging.WARNING):
        assert not store.write({"a" * 64: (T, 2)}, {})
        assert not store.write({"a" * 64: (T, 3)}, {})
    assert sum("cannot write checkpoints" in r.getMessage() for r in caplog.records) == 1
    assert store.load().positions == {"a" * 64: (T, 1)}
    (tmp_path / ".checkpoints.json.tmp").rmdir()
    assert store.write({"a" * 64: (T, 4)}, {})
    assert store.load().positions == {"a" * 64: (T, 4)}
