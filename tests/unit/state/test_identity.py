"""The agent's ID (``agent.id`` in Elasticsearch documents): kept in the state directory."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from logship import __version__
from logship.errors import ConfigError
from logship.state.identity import agent_identity


def test_the_id_is_made_once_and_the_same_after_a_restart(tmp_path: Path) -> None:
    first = agent_identity(tmp_path)
    assert uuid.UUID(first.id)
    assert (first.type, first.version) == ("logship", __version__)
    assert json.loads((tmp_path / "agent.json").read_text()) == {"id": first.id}
    assert agent_identity(tmp_path) == first


def test_without_a_state_directory_each_start_has_a_new_id() -> None:
    assert agent_identity(None).id != agent_identity(None).id


def test_an_unreadable_file_is_replaced_by_a_new_id_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "agent.json").write_text('{"id": "not a uuid"}')
    with caplog.at_level(logging.WARNING):
        identity = agent_identity(tmp_path)
    assert "agent.json is unreadable" in caplog.text
    assert json.loads((tmp_path / "agent.json").read_text()) == {"id": identity.id}


def test_a_state_directory_that_cannot_be_used_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"state_dir: cannot (read|write)"):
        agent_identity(tmp_path / "file" / "state")
