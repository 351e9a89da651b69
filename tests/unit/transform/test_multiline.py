"""The multiline joiner: patterns, streams apart, bounds, the flush timeout, and where reading
resumes after what it gives out (a line held open holds its container's checkpoint)."""

from __future__ import annotations

from logship.config.multiline import MultilineConfig
from logship.record import ContainerMeta, Record, format_timestamp_ns, resume_position
from logship.transform.multiline import MultilineStage
from logship.transform.rules import Rule, compile_rule
from tests.helpers.records import make_meta

T0 = 1_800_000_000_000_000_000


def rule(**options: object) -> Rule:
    compiled = compile_rule(MultilineConfig.model_validate(options))
    assert compiled is not None
    return compiled


def stage_for(flush_timeout_secs: float = 0.5, **options: object) -> MultilineStage:
    joining = rule(**options)
    return MultilineStage(lambda meta: joining, flush_timeout_secs=flush_timeout_secs)


class Lines:
    """One container's lines, each a nanosecond after the one before."""

    def __init__(self, meta: ContainerMeta | None = None) -> None:
        self.meta = meta or make_meta()
        self.n = 0

    def __call__(self, message: str, stream: str = "stdout") -> Record:
        self.n += 1
        return Record(message, stream, format_timestamp_ns(T0 + self.n), self.meta)


def messages(records: list[Record]) -> list[str]:
    return [r.message for r in records]


def test_a_start_pattern_begins_each_record_and_the_other_lines_continue_it() -> None:
    stage = stage_for(start_pattern=r"^\d{4}-")
    line = Lines()
    out = stage.push(
        [line("2026-01-01 first"), line("  detail"), line("more"), line("2026-01-01 second")], 0
    )
    assert messages(out) == ["2026-01-01 first\n  detail\nmore"]
    assert messages(stage.due(None)[0]) == ["2026-01-01 second"]


def test_a_continuation_pattern_marks_the_lines_that_continue() -> None:
    stage = stage_for(continuation_pattern=r"^\+")
    line = Lines()
    out = stage.push([line("a"), line("+b"), line("+c"), line("d"), line("e")], 0)
    assert messages(out) == ["a\n+b\n+c", "d"]


def test_stdout_and_stderr_are_joined_apart() -> None:
    stage = stage_for(preset="indented")
    line = Lines()
    out = stage.push(
        [
            line("out 1"),
            line("err 1", "stderr"),
            line("  out 1 continued"),
            line("  err 1 continued", "stderr"),
            line("out 2"),
            line("err 2", "stderr"),
        ],
        0,
    )
    assert [(r.stream, r.message) for r in out] == [
        ("stdout", "out 1\n  out 1 continued"),
        ("stderr", "err 1\n  err 1 continued"),
    ]


def test_a_joined_record_has_its_first_lines_time_and_its_last_lines_end() -> None:
    stage = stage_for(preset="indented")
    line = Lines()
    lines = [line("head"), line("  one"), line("  two"), line("next")]
    (joined,) = stage.push(lines, 0)
    assert (joined.timestamp, joined.seq) == (lines[0].timestamp, lines[0].seq)
    assert resume_position(joined) == resume_position(lines[2])


def test_max_lines_ends_a_record_and_the_rest_of_the_trace_begins_the_next() -> None:
    stage = stage_for(preset="indented", max_lines=3)
    line = Lines()
    out = stage.push([line("head"), *(line(f"  at {i}") for i in range(5)), line("next")], 0)
    assert messages(out) == ["head\n  at 0\n  at 1", "  at 2\n  at 3\n  at 4"]


def test_max_bytes_ends_a_record_before_the_line_that_would_pass_it() -> None:
    stage = stage_for(preset="indented", max_bytes=1024)
    line = Lines()
    big = " " + "é" * 300  # 601 bytes in UTF-8, 301 characters
    out = stage.push([line("head"), line(big), line(big), line("next")], 0)
    assert messages(out) == [f"head\n{big}", big]
    assert all(len(r.message.encode()) <= 1024 for r in out)


def test_blank_lines_nothing_continues_are_records_of_their_own() -> None:
    stage = stage_for(preset="python")
    line = Lines()
    out = stage.push(
        [
            line("Traceback (most recent call last):"),
            line('  File "a.py", line 1, in <module>'),
            line("ValueError: x"),
            line(""),
            line("next"),
        ],
        0,
    )
    assert messages(out) == [
        'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\nValueError: x',
        "",
    ]


def test_an_open_record_is_given_out_once_its_flush_timeout_passed() -> None:
    stage = stage_for(preset="java", flush_timeout_secs=0.5)
    line = Lines()
    assert stage.push([line("java.lang.Error: x"), line("\tat a.b(C.java:1)")], now=10.0) == []
    assert stage.next_deadline() == 10.5
    assert stage.due(10.4) == []
    stage.push([line("\tat a.c(C.java:2)")], now=10.3)  # a line came: the timeout restarts
    assert stage.due(10.7) == []
    (batch,) = stage.due(10.8)
    assert messages(batch) == ["java.lang.Error: x\n\tat a.b(C.java:1)\n\tat a.c(C.java:2)"]
    assert stage.holding == 0
    assert stage.next_deadline() is None
    assert stage.flushed == 1


def test_due_gives_one_batch_per_container() -> None:
    stage = stage_for(preset="indented")
    web, db = Lines(make_meta(name="web")), Lines(make_meta(name="db"))
    stage.push([web("w")], 0)
    stage.push([db("d", "stderr")], 0)
    batches = stage.due(1.0)
    assert sorted([r.meta.name for r in batch] for batch in batches) == [["db"], ["web"]]


def test_a_container_without_a_rule_passes_its_batches_as_they_are() -> None:
    joining = rule(preset="java")
    stage = MultilineStage(lambda meta: joining if meta.name == "java-app" else None)
    line = Lines(make_meta(name="nginx"))
    batch = [line("GET /"), line("\tat nothing")]
    assert stage.push(batch, 0) is batch


def test_a_record_given_out_while_an_older_line_is_open_resumes_before_that_line() -> None:
    stage = stage_for(preset="java")
    line = Lines()
    before = line("ready", "stderr")
    trace = line("java.lang.Error: boom", "stderr")  # held open: the frames may follow
    out_1 = line("GET / 200")
    out_2 = line("GET /a 200")  # gives out out_1 while the stderr trace is still open
    out = stage.push([before, trace, out_1, out_2], 0)
    assert messages(out) == ["ready", "GET / 200"]
    assert resume_position(out[1]) == resume_position(before)  # not past the open trace
    (rest,) = stage.due(None)
    assert messages(rest) == ["java.lang.Error: boom", "GET /a 200"]
    # the trace first: nothing older is open any more, so each resumes right after itself
    assert [resume_position(r) for r in rest] == [resume_position(trace), resume_position(out_2)]


def test_positions_given_out_never_go_back_while_streams_interleave() -> None:
    stage = stage_for(preset="indented")
    line = Lines()
    script = [("a", "stdout"), ("  a2", "stdout"), ("b", "stderr"), ("  a3", "stdout")]
    script += [("c", "stderr"), ("  c2", "stderr"), ("d", "stdout"), ("e", "stderr")]
    script += [("  d2", "stdout"), ("f", "stdout"), ("g", "stderr")]
    out: list[Record] = []
    for message, stream in script:
        out += stage.push([line(message, stream)], 0)
    for batch in stage.due(None):
        out += batch
    positions = [resume_position(r) for r in out]
    known = [p for p in positions if p is not None]
    assert known == sorted(known)
    assert sorted(m for r in out for m in r.message.split("\n")) == sorted(m for m, _ in script)


def test_the_first_lines_open_record_holds_all_of_its_container_from_the_start() -> None:
    stage = stage_for(preset="java")
    line = Lines()
    out = stage.push([line("java.lang.Error: x", "stderr"), line("GET /"), line("GET /b")], 0)
    # where reading resumes is not known before the open first line: nothing may be noted
    assert messages(out) == ["GET /"]
    assert resume_position(out[0]) is None
