"""A reload's plan: which destinations are kept, changed, removed and added, which settings
need a restart, and what is built (nothing running touched)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from logship.errors import ConfigError
from logship.reload import Reconfigurator, Spec, diff, needs_restart, specs
from logship.settings import Settings, load_settings
from logship.transform.multiline import stage_of
from logship.transform.parse import ParseStage

UDP = "syslog+udp://127.0.0.1:5514"


def settings(*uris: str, **more: Any) -> Settings:
    return load_settings(destinations=" ".join(uris), **more)


def specs_of(*uris: str, **more: Any) -> list[Spec]:
    return specs(settings(*uris, **more))


def test_the_same_destinations_are_all_kept() -> None:
    running = specs_of(UDP, "console://?format=json")
    found = diff(running, specs_of(UDP, "console://?format=json"))
    assert found.kept == [(0, 0), (1, 1)]
    assert (found.changed, found.removed, found.added) == ([], [], [])
    assert found.summary() == "unchanged"


def test_a_destination_moved_in_the_list_is_kept_where_it_now_is() -> None:
    found = diff(specs_of(UDP, "console://"), specs_of("console://", UDP))
    assert sorted(found.kept) == [(0, 1), (1, 0)]


def test_a_named_destination_with_other_options_is_changed() -> None:
    running = specs_of(f"{UDP}?name=central&format=rfc3164", "console://")
    found = diff(running, specs_of(f"{UDP}?name=central&format=rfc5424", "console://"))
    assert found.changed == [(0, 0)] and found.kept == [(1, 1)]
    assert found.summary() == "added 0, removed 0, changed 1"


def test_an_unnamed_destination_with_other_options_is_removed_and_added() -> None:
    found = diff(specs_of(f"{UDP}?format=rfc3164"), specs_of(f"{UDP}?format=rfc5424"))
    assert (found.removed, found.added, found.changed) == ([0], [0], [])
    assert found.summary() == "added 1, removed 1, changed 0"


def test_an_unnamed_destination_keeping_its_spool_is_changed(tmp_path: Path) -> None:
    """Its spool's key depends on how it delivers, not on its filter: the same spool."""
    spooled = f"{UDP}?spool.enabled=true"
    running = specs_of(spooled, state_dir=tmp_path)
    found = diff(running, specs_of(f"{spooled}&filter.name=web-*", state_dir=tmp_path))
    assert found.changed == [(0, 0)]


def test_a_destination_listed_twice_stays_two() -> None:
    found = diff(specs_of(UDP, UDP), specs_of(UDP))
    assert found.kept == [(0, 0)] and found.removed == [1]


def test_a_new_global_buffer_bound_changes_the_destinations_that_take_it() -> None:
    running = specs_of(UDP, f"{UDP}?buffer_max_records=10&name=own")
    new = specs(settings(UDP, f"{UDP}?buffer_max_records=10&name=own", buffer={"max_records": 7}))
    found = diff(running, new)
    # the first takes its bound from buffer.max_records: not the same destination any more
    assert found.kept == [] and (found.removed, found.added) == ([0], [0])
    assert found.changed == [(1, 1)]  # its own bound stays, the byte bound it takes does not


def test_settings_a_reload_cannot_apply_are_named(tmp_path: Path) -> None:
    running = settings(UDP)
    new = settings(
        "console://",
        state_dir=tmp_path,
        include={"names": ["web-*"]},
        multiline="java",
        log_level="debug",
    )
    assert needs_restart(running, new) == ["include", "state_dir"]
    assert needs_restart(running, settings("console://")) == []


def reconfigurator(running: Settings, load: Any) -> Reconfigurator:
    built = [spec.build() for spec in specs(running)]
    return Reconfigurator(
        load,
        running,
        built,
        stage=stage_of(running.multiline),
        parse=ParseStage(running.parse),
    )


def test_an_unchanged_configuration_keeps_every_running_object() -> None:
    running = settings(UDP, "console://")
    plan = reconfigurator(running, lambda: settings(UDP, "console://"))
    first = plan.prepare()
    assert first.summary == "unchanged"
    assert (first.added, first.removed, first.replacements) == ([], [], [])
    second = plan.prepare()
    assert [id(d) for d in second.destinations] == [id(d) for d in first.destinations]


def test_what_changed_is_built_and_what_did_not_is_the_running_object() -> None:
    running = settings(f"{UDP}?name=a", f"{UDP}?name=b", f"{UDP}?name=c")
    new = settings(f"{UDP}?name=a", f"{UDP}?name=b&format=rfc3164", "console://")
    before = reconfigurator(running, lambda: new)
    kept = before._running
    change = before.prepare()
    assert change.summary == "added 1, removed 1, changed 1"
    assert change.destinations[0] is kept[0]
    assert [r.old for r in change.replacements] == [kept[1]]
    assert change.replacements[0].new is change.destinations[1]
    assert change.removed == [kept[2]] and change.added == [change.destinations[2]]
    assert change.stage is before._stage and change.parse is before._parse  # unchanged
    change.commit()
    again = before.prepare()  # the new configuration is the running one now
    assert again.summary == "unchanged" and again.destinations == change.destinations


def test_new_global_stages_are_built_for_the_lines_read_after() -> None:
    running = settings(UDP)
    plan = reconfigurator(running, lambda: settings(UDP, multiline="java", parse="json"))
    change = plan.prepare()
    assert change.stage is not plan._stage and change.parse is not plan._parse
    assert change.parse is not None and change.parse.config.format == "json"


def test_an_invalid_configuration_raises_naming_the_field_and_changes_nothing() -> None:
    running = settings(f"{UDP}?name=a")
    given = [{"type": "syslog", "name": "a", "host": "127.0.0.1", "port": 70000}]
    plan = reconfigurator(running, lambda: load_settings(destinations=given))
    with pytest.raises(ConfigError, match=r"destinations\.0\.port: .*65535"):
        plan.prepare()
    given[0]["port"] = 5514  # fixed: compared with what runs, not with the invalid one
    assert plan.prepare().summary == "unchanged"


def test_a_setting_needing_a_restart_is_logged_and_kept(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    running = settings(UDP)
    plan = reconfigurator(running, lambda: settings(UDP, state_dir=tmp_path))
    with caplog.at_level(logging.WARNING):
        change = plan.prepare()
    assert change.summary == "unchanged"
    assert "reload: state_dir changed; it needs a restart" in caplog.text
    assert str(tmp_path) not in caplog.text  # field names only: values may hold secrets


def test_a_new_spool_that_cannot_be_used_fails_the_reload(tmp_path: Path) -> None:
    (tmp_path / "spool").write_text("a file where the spools' directory should be")
    running = settings(UDP, state_dir=tmp_path)
    plan = reconfigurator(
        running, lambda: settings(UDP, f"{UDP}?name=b&spool.enabled=true", state_dir=tmp_path)
    )
    with pytest.raises(ConfigError, match="cannot use the disk spool"):
        plan.prepare()


def test_spools_opened_before_one_that_cannot_be_used_are_closed_again(tmp_path: Path) -> None:
    running = settings(UDP, state_dir=tmp_path)
    (tmp_path / "spool").mkdir()
    good = f"{UDP}?name=a&spool.enabled=true"
    (tmp_path / "spool" / "name-b").write_text("a file where b's spool directory should be")
    bad = f"{UDP}?name=b&spool.enabled=true"
    plan = reconfigurator(running, lambda: settings(UDP, good, bad, state_dir=tmp_path))
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ConfigError, match="'b'"):
        plan.prepare()
    assert len(os.listdir("/proc/self/fd")) == fds  # a's spool let go of again
    assert plan._settings is running


def test_a_new_log_level_applies_once_the_reload_runs() -> None:
    root = logging.getLogger()
    was = root.level
    try:
        root.setLevel(logging.INFO)
        plan = reconfigurator(settings(UDP), lambda: settings(UDP, log_level="debug"))
        change = plan.prepare()
        assert change.summary == "unchanged" and root.level == logging.INFO  # not yet
        change.commit()
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(was)
