"""Each preset joins real stack traces (tests/data/multiline/) into the records expected.json
holds, whether the lines come in one batch or one at a time."""

from __future__ import annotations

import json

import pytest

from logship.config.multiline import MultilineConfig
from logship.record import Record, format_timestamp_ns
from logship.transform.multiline import MultilineStage
from logship.transform.rules import compile_rule
from tests.helpers.paths import ROOT
from tests.helpers.records import make_meta

DATA = ROOT / "tests" / "data" / "multiline"
EXPECTED: dict[str, dict[str, list[str]]] = json.loads((DATA / "expected.json").read_text())
CASES = [(preset, name) for preset, files in EXPECTED.items() for name in files]


def lines_of(name: str) -> list[Record]:
    meta = make_meta()
    text = (DATA / name).read_text()
    return [
        Record(line, "stderr", format_timestamp_ns(1_800_000_000_000_000_000 + i), meta)
        for i, line in enumerate(text.split("\n")[:-1])
    ]


def joined(preset: str, batches: list[list[Record]]) -> list[str]:
    rule = compile_rule(MultilineConfig(preset=preset))  # type: ignore[arg-type]
    stage = MultilineStage(lambda meta: rule)
    out: list[Record] = []
    for batch in batches:
        out += stage.push(batch, now=0.0)
    for batch in stage.due(None):
        out += batch
    return [r.message for r in out]


@pytest.mark.parametrize(("preset", "name"), CASES)
def test_a_preset_joins_each_trace_into_one_record(preset: str, name: str) -> None:
    assert joined(preset, [lines_of(name)]) == EXPECTED[preset][name]


@pytest.mark.parametrize(("preset", "name"), CASES)
def test_the_lines_may_come_one_batch_at_a_time(preset: str, name: str) -> None:
    assert joined(preset, [[line] for line in lines_of(name)]) == EXPECTED[preset][name]


@pytest.mark.parametrize(("preset", "name"), CASES)
def test_no_line_is_lost_or_reordered(preset: str, name: str) -> None:
    text = (DATA / name).read_text()
    assert "\n".join(joined(preset, [lines_of(name)])) + "\n" == text


def test_every_preset_has_a_golden_trace() -> None:
    assert set(EXPECTED) == {"java", "python", "go", "nodejs", "indented"}
