"""The Elasticsearch ``_bulk`` wire format: request bodies and per-item answers, no sockets."""

from __future__ import annotations

import json
import re
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import logship.protocol.bulk as bulk
from logship.errors import RemoteProtocolError
from logship.protocol.bulk import (
    BulkEncoder,
    BulkResult,
    IndexPattern,
    check_index_name,
    describe_error,
    describe_error_body,
    document_id,
    parse_bulk_response,
    record_source,
    request_verdict,
    split_requests,
)
from logship.record import AgentIdentity, ContainerMeta, Record
from tests.helpers.compiled import patches
from tests.helpers.records import K8S_LABELS, make_meta

CID = "5f9a6638b642" + "0" * 52
T1 = "2026-11-27T05:24:33.719017066Z"
T2 = "2026-11-27T23:59:59.999999999Z"
T3 = "2026-11-28T00:00:00.000000001Z"


def web(**changes: Any) -> ContainerMeta:
    fields: dict[str, Any] = {
        "id": CID,
        "name": "web-1",
        "image": "logship-test/busybox:1.35",
        "image_id": "sha256:" + "d" * 64,
        "labels": {},
    }
    return make_meta(**(fields | changes))


def db() -> ContainerMeta:
    return web(id="ea9c3d8e1c86" + "1" * 52, name="db-1", image="postgres")


AGENT = AgentIdentity(id="4f0c1e9a-6a2b-4c8e-9d3f-2b7f1a0c5e11", version="0.1.0")
WEB = (
    '"host":{"name":"vm","ip":"10.0.0.1"},"container":{"id":"' + CID + '","name":"web-1",'
    '"runtime":"docker","image":{"name":"logship-test/busybox","tag":"1.35"},"labels":{}},'
)
DOCKER_FIELDS = (
    '"data_stream":{"type":"logs","dataset":"docker.container_logs","namespace":"default"},'
    '"event":{"dataset":"docker.container_logs"},'
)
ECS_AGENT = (
    '"ecs":{"version":"8.0.0"},'
    '"agent":{"type":"logship","version":"0.1.0","id":"4f0c1e9a-6a2b-4c8e-9d3f-2b7f1a0c5e11"}}\n'
)


def tail(stream: str, fields: str = DOCKER_FIELDS, container: str = WEB) -> str:
    """A source line after its message: stream, container, data stream, ECS version, agent."""
    return (
        '"log":{"iostream":"' + stream + '"},"stream":"' + stream + '",' + container + fields
    ) + ECS_AGENT


def action(index: str, timestamp: str, seq: int = 0) -> str:
    return f'{{"create":{{"_index":"{index}","_id":"5f9a6638b6420000-{timestamp}-{seq}"}}}}\n'


DOCKER = "logs-docker.container_logs-default"


def pod_body(runtime: str, labels: str) -> str:
    """The request for one line "k" of web-1 in a pod (K8S_LABELS), with ``runtime`` and
    ``labels`` (besides the pod's) as they are written."""
    return (
        action("logs-kubernetes.container_logs-default", T1)
        + '{"@timestamp":"'
        + T1
        + '","message":"k",'
        + tail(
            "stdout",
            '"data_stream":{"type":"logs","dataset":"kubernetes.container_logs",'
            '"namespace":"default"},"event":{"dataset":"kubernetes.container_logs"},',
            '"host":{"name":"vm","ip":"10.0.0.1"},"container":{"id":"'
            + CID
            + '","name":"web-1",'
            + runtime
            + '"image":{"name":"logship-test/busybox","tag":"1.35"},"labels":{'
            + labels
            + '"io_kubernetes_pod_namespace":"shop",'
            '"io_kubernetes_pod_name":"web-7d9f","io_kubernetes_pod_uid":"0b1c-22",'
            '"io_kubernetes_container_name":"nginx"}},'
            '"kubernetes":{"namespace":"shop","pod":{"name":"web-7d9f","uid":"0b1c-22"},'
            '"container":{"name":"nginx"}},',
        )
    )


# -- golden table: records -> request body ---------------------------------------------------

# (what, encoder options, records, the exact body)
REQUESTS: list[tuple[str, dict[str, Any], list[Record], str]] = [
    (
        "one line into Elastic Agent's Docker data stream, the default",
        {},
        [Record("hello", "stdout", T1, web())],
        action(DOCKER, T1) + '{"@timestamp":"' + T1 + '","message":"hello",' + tail("stdout"),
    ),
    (
        "a message that needs JSON escaping, from stderr, with a sequence number",
        {},
        [Record('say "hi"\tto\\ ☃\x01', "stderr", T1, web(), seq=2)],
        action(DOCKER, T1, 2)
        + '{"@timestamp":"'
        + T1
        + '","message":"say \\"hi\\"\\tto\\\\ ☃\\u0001",'
        + tail("stderr"),
    ),
    (
        "an index instead: each record's own day, in UTC, and no data stream fields",
        {"index": IndexPattern("logs-%Y.%m.%d")},
        [Record("a", "stdout", T2, web()), Record("b", "stdout", T3, web())],
        action("logs-2026.11.27", T2)
        + '{"@timestamp":"'
        + T2
        + '","message":"a",'
        + tail("stdout", "")
        + action("logs-2026.11.28", T3)
        + '{"@timestamp":"'
        + T3
        + '","message":"b",'
        + tail("stdout", ""),
    ),
    (
        "an hourly, ISO-week index",
        {"index": IndexPattern("logs-%G.%V-%H")},
        [Record("a", "stdout", T1, web())],
        action("logs-2026.48-05", T1)
        + '{"@timestamp":"'
        + T1
        + '","message":"a",'
        + tail("stdout", ""),
    ),
    (
        "a data stream of one's own: its type, dataset and namespace in every document",
        {"data_stream": "logs-myapp-production"},
        [Record("a", "stdout", T1, web())],
        action("logs-myapp-production", T1)
        + '{"@timestamp":"'
        + T1
        + '","message":"a",'
        + tail(
            "stdout",
            '"data_stream":{"type":"logs","dataset":"myapp","namespace":"production"},'
            '"event":{"dataset":"myapp"},',
        ),
    ),
    (
        "a data stream whose name is not type-dataset-namespace: no data stream fields",
        {"data_stream": "applogs"},
        [Record("a", "stdout", T1, web())],
        action("applogs", T1) + '{"@timestamp":"' + T1 + '","message":"a",' + tail("stdout", ""),
    ),
    (
        "a pod's container: Kubernetes fields, dots in label keys as underscores, and Elastic "
        "Agent's Kubernetes data stream",
        {},
        [Record("k", "stdout", T1, web(labels={"com.example.team": "pay", **K8S_LABELS}))],
        pod_body('"runtime":"docker",', '"com_example_team":"pay",'),
    ),
    (
        "a pod's log read from its file (containerd or CRI-O, which the file does not tell "
        "apart): no container.runtime rather than a wrong one",
        {},
        [Record("k", "stdout", T1, web(labels=K8S_LABELS, runtime=""))],
        pod_body("", ""),
    ),
]


@pytest.mark.parametrize(
    ("options", "records", "body"), [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS]
)
def test_records_encode_to_exactly_the_golden_body(
    options: dict[str, Any], records: list[Record], body: str
) -> None:
    assert b"".join(BulkEncoder(agent=AGENT, **options).encode(records)) == body.encode()


@pytest.mark.parametrize(
    ("options", "records", "body"), [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS]
)
def test_each_golden_body_reads_back_as_create_actions_with_the_records_documents(
    options: dict[str, Any], records: list[Record], body: str
) -> None:
    lines = body.encode().split(b"\n")
    assert lines.pop() == b""  # every line, the last one too, ends with a newline
    assert len(lines) == 2 * len(records)
    for record, action, source in zip(records, lines[::2], lines[1::2], strict=True):
        (op, meta), *_ = json.loads(action).items()
        assert op == "create"
        assert meta["_id"] == document_id(record)
        data_stream = None if "index" in options else meta["_index"]
        assert json.loads(source) == record_source(record, AGENT, data_stream)


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])), st.integers(0, 10**6))
def test_any_message_is_one_action_line_and_one_source_line(message: str, seq: int) -> None:
    record = Record(message, "stdout", T1, web(), seq=seq)
    (entry,) = BulkEncoder(agent=AGENT).encode([record])
    action_line, source, end = entry.split(b"\n")
    assert end == b""
    assert json.loads(action_line) == {"create": {"_index": DOCKER, "_id": document_id(record)}}
    assert json.loads(source) == record_source(record, AGENT, DOCKER)


def test_the_document_id_is_the_same_for_the_same_line_and_differs_for_any_other() -> None:
    line = Record("x", "stdout", T1, web(), seq=1)
    assert document_id(line) == document_id(Record("other text", "stderr", T1, web(), seq=1))
    others = [
        Record("x", "stdout", T1, web(), seq=2),
        Record("x", "stdout", T2, web(), seq=1),
        Record("x", "stdout", T1, db(), seq=1),
    ]
    assert len({document_id(line), *map(document_id, others)}) == 4
    assert len(document_id(line).encode()) <= 512  # Elasticsearch's limit


def test_a_batch_mixing_containers_and_days_gives_each_line_its_own_container_and_index() -> None:
    a, b = web(), db()
    records = [
        Record("a1", "stdout", T2, a),
        Record("b1", "stderr", T3, b),
        Record("a2", "stderr", T3, a),
        Record("b2", "stdout", T2, b),
    ]
    entries = BulkEncoder(index=IndexPattern("logship-%Y.%m.%d"), agent=AGENT).encode(records)
    for record, entry in zip(records, entries, strict=True):
        action_line, source, _ = entry.split(b"\n")
        day = record.timestamp[:10].replace("-", ".")
        assert json.loads(action_line)["create"]["_index"] == "logship-" + day
        assert json.loads(source) == record_source(record, AGENT)


@patches(bulk)
def test_the_container_part_is_serialised_once_per_container_not_per_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    original = bulk.container_source

    def counting(meta: ContainerMeta, *args: Any) -> dict[str, Any]:
        calls.append(meta.name)
        return original(meta, *args)

    monkeypatch.setattr(bulk, "container_source", counting)
    a, b = web(), db()
    encoder = BulkEncoder()
    batch = [Record(str(i), "stdout", T2 if i < 3 else T3, a if i % 2 else b) for i in range(6)]
    first = encoder.encode(batch)
    assert sorted(calls) == ["db-1", "web-1"]
    assert encoder.encode(batch) == first
    assert sorted(calls) == ["db-1", "web-1"]


@patches(bulk)
def test_the_index_name_is_rendered_once_per_container_and_day_not_per_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[str] = []
    original = IndexPattern.name_for

    def counting(self: IndexPattern, timestamp: str) -> str:
        rendered.append(timestamp[:10])
        return original(self, timestamp)

    encoder = BulkEncoder(index=IndexPattern("logship-%Y.%m.%d"))
    monkeypatch.setattr(IndexPattern, "name_for", counting)
    meta = web()
    encoder.encode([Record(str(i), "stdout", T2 if i < 50 else T3, meta) for i in range(100)])
    assert rendered == ["2026-11-27", "2026-11-28"]


def test_two_encoders_keep_their_own_cached_parts_on_a_shared_container() -> None:
    meta = web()
    record = Record("x", "stdout", T1, meta)
    (dated,) = BulkEncoder(index=IndexPattern("logship-%Y.%m.%d")).encode([record])
    (stream,) = BulkEncoder(data_stream="logs-a-b").encode([record])
    assert b'"_index":"logship-2026.11.27"' in dated
    assert b'"_index":"logs-a-b"' in stream


def test_an_empty_batch_encodes_to_nothing() -> None:
    assert BulkEncoder().encode([]) == []
    assert split_requests([], 100) == []


# -- index names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name"),
    [
        ("logship-%Y.%m.%d", "logship-2026.11.27"),
        ("logs-%y%m", "logs-2611"),
        ("logs-%G.%V", "logs-2026.48"),
        ("logs-%j-%H", "logs-331-05"),
        ("plain", "plain"),
        (".hidden-%Y", ".hidden-2026"),
    ],
)
def test_an_index_pattern_is_filled_from_the_records_utc_time(pattern: str, name: str) -> None:
    assert IndexPattern(pattern).name_for(T1) == name


@pytest.mark.parametrize(
    ("pattern", "complaint"),
    [
        ("Logs-%Y", "'Logs-2026' must be lowercase"),
        ("logs-%Q", "'logs-%Q' has %Q; expected only the date placeholders"),
        ("logs-%M", "'logs-%M' has %M"),
        ("logs-100%", "has a lone '%'"),
        ("logs %Y", "must not contain ' '"),
        ("logs:%Y", "must not contain ':'"),
        ("a/b", "must not contain '/'"),
        ("_logs", "must not start with '-', '_' or '+'"),
        ("..", "must not be '.' or '..'"),
        ("x" * 256, "at most 255 bytes"),
    ],
)
def test_an_invalid_index_pattern_is_refused_quoting_it(pattern: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="index pattern") as info:
        IndexPattern(pattern)
    assert complaint in str(info.value)


def test_index_names_must_follow_elasticsearchs_rules() -> None:
    assert check_index_name("logs-docker-default") == "logs-docker-default"
    for bad in ("", "UPPER", "a,b", "a#b", "a*b", "-a", "+a"):
        with pytest.raises(ValueError, match=re.escape(repr(bad))):
            check_index_name(bad)


# -- batching into requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "max_bytes", "ranges"),
    [
        ([10, 10, 10], 30, [(0, 3)]),
        ([10, 10, 10], 29, [(0, 2), (2, 3)]),
        ([10, 10, 10], 10, [(0, 1), (1, 2), (2, 3)]),
        ([50, 10, 10], 20, [(0, 1), (1, 3)]),  # one too large goes alone
        ([10, 50, 10], 20, [(0, 1), (1, 2), (2, 3)]),
        ([5] * 7, 12, [(0, 2), (2, 4), (4, 6), (6, 7)]),
    ],
)
def test_a_batch_is_split_into_requests_within_the_byte_limit(
    sizes: list[int], max_bytes: int, ranges: list[tuple[int, int]]
) -> None:
    assert split_requests([b"x" * n for n in sizes], max_bytes) == ranges


# -- golden table: answers -> what happened to each record ----------------------------------

OK_ITEM = (
    '{"create":{"_index":"logship-2026.11.27","_id":"a","_version":1,"result":"created",'
    '"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,'
    '"status":201}}'
)
CONFLICT = (
    '{"create":{"_index":"logship-2026.11.27","_id":"b","status":409,"error":{'
    '"type":"version_conflict_engine_exception","reason":"[b]: version conflict, document '
    'already exists (current version [1])","index_uuid":"aAsF","shard":"0",'
    '"index":"logship-2026.11.27"}}}'
)
REJECTED_429 = (
    '{"create":{"_index":"logship-2026.11.27","_id":"c","status":429,"error":{'
    '"type":"es_rejected_execution_exception","reason":"rejected execution of primary '
    'operation"}}}'
)
MAPPING = (
    '{"create":{"_index":"logship-2026.11.27","_id":"d","status":400,"error":{'
    '"type":"mapper_parsing_exception","reason":"failed to parse field [message] of type '
    '[long]","caused_by":{"type":"illegal_argument_exception","reason":"For input string: '
    '\\"abc\\""}}}}'
)
UNAVAILABLE = (
    '{"create":{"_index":"x","_id":"e","status":503,"error":{"type":'
    '"unavailable_shards_exception","reason":"primary shard is not active"}}}'
)

# (what, answer body, actions sent, result)
ANSWERS: list[tuple[str, str, int, BulkResult]] = [
    (
        "all created",
        '{"took":3,"errors":false,"items":[' + OK_ITEM + "," + OK_ITEM + "]}",
        2,
        BulkResult(),
    ),
    ("all created, items filtered out", '{"errors":false}', 5, BulkResult()),
    (
        "filter_path keeps only status and error",
        '{"errors":false,"items":[{"create":{"status":201}},{"index":{"status":200}}]}',
        2,
        BulkResult(),
    ),
    (
        "a create of an existing _id is already there: delivered",
        '{"took":1,"errors":true,"items":[' + OK_ITEM + "," + CONFLICT + "]}",
        2,
        BulkResult(existing=1),
    ),
    (
        "429 and 5xx items are retried, a mapping error is refused for good",
        '{"took":9,"errors":true,"items":['
        + ",".join([OK_ITEM, REJECTED_429, MAPPING, UNAVAILABLE, CONFLICT])
        + "]}",
        5,
        BulkResult(
            retry=[1, 3],
            rejected=[2],
            existing=1,
            retry_reason="429 es_rejected_execution_exception: rejected execution of primary "
            "operation",
            rejected_reason="400 mapper_parsing_exception: failed to parse field [message] of "
            'type [long] (caused by illegal_argument_exception: For input string: "abc")',
        ),
    ),
    (
        "a 409 to an index action is a real conflict, refused",
        '{"errors":true,"items":[{"index":{"status":409,"error":{"type":"version_conflict_'
        'engine_exception","reason":"[x]: version conflict"}}}]}',
        1,
        BulkResult(
            rejected=[0],
            rejected_reason="409 version_conflict_engine_exception: [x]: version conflict",
        ),
    ),
]


@pytest.mark.parametrize(
    ("body", "sent", "result"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_a_bulk_answer_sorts_every_item_into_delivered_retry_or_refused(
    body: str, sent: int, result: BulkResult
) -> None:
    assert parse_bulk_response(body.encode(), sent) == result


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("<html>502 Bad Gateway</html>", "not JSON"),
        ('{"took":1,"items":[]}', "no 'errors' flag"),
        ("[]", "no 'errors' flag"),
        ('{"errors":true}', "answered None items to a request of 2 actions"),
        ('{"errors":true,"items":[' + OK_ITEM + "]}", "answered 1 items to a request of 2"),
        ('{"errors":false,"items":[' + OK_ITEM + "]}", "answered 1 items to a request of 2"),
        ('{"errors":true,"items":[{"create":{"status":201}},{}]}', "item 1 is not"),
        ('{"errors":true,"items":[{"create":{"status":201}},{"create":{}}]}', "no status"),
    ],
)
def test_an_answer_that_is_not_a_bulk_answer_is_the_remote_ends_fault(
    body: str, complaint: str
) -> None:
    with pytest.raises(RemoteProtocolError, match="_bulk") as info:
        parse_bulk_response(body.encode(), 2)
    assert complaint in str(info.value)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, "answered"),
        (413, "split"),
        (401, "credentials"),
        (403, "credentials"),
        (429, "retry"),
        (408, "retry"),
        (404, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (504, "retry"),
        (400, "reject"),
        (406, "reject"),
        (405, "reject"),
    ],
)
def test_a_whole_request_status_decides_the_fate_of_its_records(status: int, verdict: str) -> None:
    assert request_verdict(status) == verdict


@pytest.mark.parametrize(
    ("status", "body", "line"),
    [
        (
            429,
            '{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"r"}],'
            '"type":"es_rejected_execution_exception","reason":"rejected\\n  execution"},'
            '"status":429}',
            "HTTP 429: es_rejected_execution_exception: rejected execution",
        ),
        (
            406,
            '{"error":"Content-Type header [text/plain] is not supported","status":406}',
            "HTTP 406: Content-Type header [text/plain] is not supported",
        ),
        (
            502,
            "<html>\n<h1>502 Bad Gateway</h1></html>",
            "HTTP 502: <html> <h1>502 Bad Gateway</h1></html>",
        ),
        (413, "", "HTTP 413"),
    ],
)
def test_a_whole_request_error_is_described_in_one_line(status: int, body: str, line: str) -> None:
    assert describe_error_body(status, body.encode()) == line


def test_a_long_error_reason_is_cut_to_one_short_line() -> None:
    text = describe_error({"type": "t", "reason": "x" * 5000})
    assert len(text) <= 300 and text.endswith("…") and "\n" not in text


# -- what the engine sends cannot write into the body -------------------------------------------


def _hostile(second: str, fraction: str) -> str:
    """A 30-character "timestamp" with a '.' and a 'Z' where Docker's have them."""
    text = second[:19].ljust(19, "x") + "." + fraction[:9].ljust(9, "x") + "Z"
    assert len(text) == 30
    return text


HOSTILE_TIMESTAMPS = [
    _hostile('2026-","_index":"ev', '","a":"x'),  # names another index for the line
    _hostile("2026-11-27T05:24:33", '","a":"x'),  # a valid second, then a field of its own
    _hostile("2026-13-45T25:61:61", "000000000"),  # digits where digits go, out of range
    _hostile("2026-02-30T05:24:33", "000000000"),  # no such day
]
OTHER_DIGITS = _hostile("2026-11-27T05:24:33", "٣" * 9)  # digits, of another script
GOOD = "2026-11-27T05:24:33.000000001Z"


def _body_lines(records: list[Record]) -> list[dict[str, Any]]:
    body = b"".join(BulkEncoder().encode(records))
    lines = body.decode().split("\n")
    assert lines.pop() == ""  # the body ends with a newline
    assert len(lines) == 2 * len(records)  # one action and one source each, nothing injected
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("hostile", HOSTILE_TIMESTAMPS)
@pytest.mark.parametrize("tty", [False, True])
def test_a_hostile_engine_timestamp_never_reaches_the_bulk_body(hostile: str, tty: bool) -> None:
    from logship.protocol.docker import LogDecoder

    decoder = LogDecoder(make_meta(), tty=tty)
    if tty:  # a TTY container writing a line that starts like an entry of its own
        chunks = [f"{GOOD} first\r\n{hostile} second\r\n".encode()]
    else:  # an engine (or what poses as one) sending it as the entry's time
        chunks = [
            b"".join(
                struct.pack(">BxxxL", 1, len(p)) + p
                for p in (f"{GOOD} first\n".encode(), f"{hostile} second\n".encode())
            )
        ]
    records = decoder.feed(chunks)
    assert [r.timestamp for r in records] == [GOOD, GOOD]  # the last good time, kept
    assert decoder.bad_timestamps == 1  # and counted
    documents = _body_lines(records)
    assert [d["@timestamp"] for d in documents[1::2]] == [GOOD, GOOD]
    assert [set(d["create"]) for d in documents[0::2]] == [{"_index", "_id"}] * 2
    assert {d["create"]["_index"] for d in documents[0::2]} == {DOCKER}


@pytest.mark.parametrize("hostile", [*HOSTILE_TIMESTAMPS, OTHER_DIGITS])
def test_a_hostile_timestamp_in_a_json_file_log_is_counted_not_written(hostile: str) -> None:
    from logship.protocol.jsonfile import JsonFileDecoder

    decoder = JsonFileDecoder(make_meta())
    lines = [
        {"log": "first\n", "stream": "stdout", "time": GOOD},
        {"log": "second\n", "stream": "stdout", "time": hostile},
    ]
    records = decoder.feed(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    assert [r.timestamp for r in records] == [GOOD, GOOD]
    assert decoder.bad_timestamps == 1
    _body_lines(records)


def test_a_container_id_is_written_escaped_whatever_it_holds() -> None:
    meta = make_meta(id='evil"}}\n{"index":{}}\n' + "0" * 40)
    (action, _) = _body_lines([Record("hi", "stdout", GOOD, meta)])
    assert action["create"]["_id"].startswith(meta.id[:16])


# -- data streams and what Filebeat's documents carry ----------------------------------------


def test_by_default_a_pods_container_and_a_plain_container_go_to_elastic_agents_streams() -> None:
    pod, plain = web(labels=K8S_LABELS), db()
    records = [Record("p", "stdout", T1, pod), Record("d", "stderr", T1, plain)]
    sent = [entry.split(b"\n") for entry in BulkEncoder(agent=AGENT).encode(records)]
    got = [(json.loads(a)["create"]["_index"], json.loads(s)) for a, s, _ in sent]
    assert [index for index, _ in got] == [
        "logs-kubernetes.container_logs-default",
        "logs-docker.container_logs-default",
    ]
    for index, doc in got:
        dataset = index.split("-")[1]
        assert doc["data_stream"] == {"type": "logs", "dataset": dataset, "namespace": "default"}
        assert doc["event"] == {"dataset": dataset}
        assert doc["ecs"] == {"version": "8.0.0"}
        assert doc["agent"] == {"type": "logship", "version": "0.1.0", "id": AGENT.id}
    assert [doc["stream"] for _, doc in got] == ["stdout", "stderr"]
    assert [doc["log"]["iostream"] for _, doc in got] == ["stdout", "stderr"]


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("logs-docker.container_logs-default", ("logs", "docker.container_logs", "default")),
        ("logs-nginx.access-prod", ("logs", "nginx.access", "prod")),
        ("logs-my-app-prod", ("logs", "my-app", "prod")),  # the namespace is after the last '-'
        ("logs-app", None),
        ("applogs", None),
    ],
)
def test_the_data_stream_fields_come_from_its_name(
    name: str, fields: tuple[str, str, str] | None
) -> None:
    (entry,) = BulkEncoder(data_stream=name).encode([Record("x", "stdout", T1, web())])
    doc = json.loads(entry.split(b"\n")[1])
    if fields is None:
        assert "data_stream" not in doc and "event" not in doc
    else:
        kind, dataset, namespace = fields
        assert doc["data_stream"] == {"type": kind, "dataset": dataset, "namespace": namespace}
        assert doc["event"] == {"dataset": dataset}


def test_a_containers_own_field_never_takes_a_name_filebeats_documents_use() -> None:
    meta = web(labels={"logship.field.event": "deploy", "logship.field.team": "pay"})
    (entry,) = BulkEncoder(agent=AGENT).encode([Record("x", "stdout", T1, meta)])
    doc = json.loads(entry.split(b"\n")[1])
    assert doc["event"] == {"dataset": "docker.container_logs"}
    assert doc["team"] == "pay"


def test_each_encoder_has_its_agent_id_and_a_given_one_is_kept() -> None:
    record = Record("x", "stdout", T1, web())
    ids = {
        json.loads(BulkEncoder(**given).encode([record])[0].split(b"\n")[1])["agent"]["id"]
        for given in ({}, {}, {"agent": AGENT})
    }
    assert len(ids) == 3 and AGENT.id in ids
