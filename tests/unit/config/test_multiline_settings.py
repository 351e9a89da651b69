"""The multiline setting: a preset's name or a block, globally, per destination (a URI too),
and clear errors for what cannot work."""

from __future__ import annotations

import pytest

from logship.errors import ConfigError
from logship.settings import load_settings


def test_multiline_is_off_unless_asked() -> None:
    settings = load_settings()
    assert not settings.multiline.enabled
    assert settings.multiline.flush_timeout_secs == 0.5


def test_a_presets_name_alone_turns_it_on_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGSHIP_MULTILINE", "java")
    assert load_settings().multiline.preset == "java"


def test_a_block_sets_a_pattern_and_the_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSHIP_MULTILINE__START_PATTERN", r"^\d{4}-")
    monkeypatch.setenv("LOGSHIP_MULTILINE__FLUSH_TIMEOUT_SECS", "2")
    multiline = load_settings().multiline
    assert (multiline.start_pattern, multiline.flush_timeout_secs) == (r"^\d{4}-", 2.0)


def test_a_destination_sets_its_own_in_its_uri_and_off_is_off() -> None:
    settings = load_settings(
        destinations="syslog+udp://127.0.0.1:514?multiline=python,"
        "gelf+udp://127.0.0.1:12201?multiline.preset=go&multiline.max_lines=50,"
        "console://?multiline=off,"
        "console://"
    )
    python, go, off, default = (d.multiline for d in settings.destinations)
    assert python is not None and python.preset == "python"
    assert go is not None and (go.preset, go.max_lines) == ("go", 50)
    assert off is not None and not off.enabled
    assert default is None  # the global setting


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("multiline=ruby", "multiline.preset"),
        ("multiline.start_pattern=(unclosed", "not a regular expression"),
        ("multiline.preset=java&multiline.start_pattern=x", "give one of preset"),
        ("multiline=java&multiline.max_lines=9", "write the first as multiline.<option>="),
        ("multiline.max_lines=9&multiline=java", "write it as multiline.<option>= too"),
    ],
)
def test_what_cannot_work_is_refused_saying_why(query: str, says: str) -> None:
    with pytest.raises(ConfigError, match="destinations") as caught:
        load_settings(destinations=f"console://?{query}")
    assert says in str(caught.value)
