"""The benchmark's C receivers (bench/udprecv.c --gelf, bench/streamrecv.c) count what they are
sent: every line once, duplicates apart, and they answer as the agent's destinations expect
(forward acks, Elasticsearch _bulk items). Wrong counts here would make every bench figure lie.
The CRI scenarios' writer (bench/criwriter.c) writes what logship's CRI decoder reads as
containerd's lines, each mark once, its split lines joined, its rotated files kept. The floor
shipper (bench/floorship.c) sends each json-file line once, in the layout it is given.

The messages are made with logship's own GELF compression and chunking, msgpack, and TLS from
the test CA, then sent from here over 127.0.0.1.
"""

from __future__ import annotations

import gzip
import http.client
import importlib.util
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest

from logship.protocol.bulk import parse_bulk_response
from logship.protocol.cri import CriDecoder
from logship.protocol.filelog import LogFile
from logship.protocol.gelf import compress, split_chunks
from tests.helpers.paths import ROOT
from tests.helpers.records import make_meta
from tests.helpers.tls import make_test_ca

BENCH = ROOT / "bench"
LINES = 100  # per producer: marks ~000:00000000: .. ~000:00000099:


def _load_receiver_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("logship_bench_receiver", BENCH / "receiver.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_receiver() -> ModuleType:
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no C compiler: the bench receivers are C")
    return _load_receiver_module()


def _mark(idx: int, seq: int) -> str:
    return f"~{idx:03d}:{seq:08d}:0000"


def _ts(seconds: float) -> str:
    whole = int(seconds)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int(seconds % 1 * 1e9):09d}Z"
    )


@pytest.fixture
def start(bench_receiver: ModuleType) -> Iterator[Any]:
    started: list[Any] = []

    def run(name: str, *options: str, producers: int = 2) -> Any:
        binary = bench_receiver.build(name)
        receiver = bench_receiver.Receiver(
            binary, producers, LINES, delays=True, options=tuple(options)
        )
        started.append(receiver)
        return receiver

    yield run
    for receiver in started:
        receiver.kill()


def _stop_when(receiver: Any, lines: int) -> dict[str, Any]:
    """Stop the receiver once it has seen ``lines`` lines (or after 10 s) and return its totals."""
    deadline = time.monotonic() + 10
    while receiver.progress.datagrams < lines and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.15)  # anything sent after the last expected line shows up too
    totals: dict[str, Any] = receiver.stop()
    return totals


def test_gelf_receiver_reassembles_chunks_inflates_and_counts_each_line_once(start: Any) -> None:
    receiver = start("udprecv", "--gelf")
    now = time.time()

    def doc(seq: int, **extra: str) -> bytes:
        fields = {"version": "1.1", "host": "h", **extra, "short_message": _mark(0, seq)}
        return json.dumps({**fields, "timestamp": round(now, 6)}).encode()

    # the producer's script, with its printf format, comes first as it does in Docker's _command
    noise = secrets.token_hex(200)  # so that gzip leaves it big enough to need chunks
    chunked = compress(doc(0, _command="awk printf ~%03d:%08d:%s", _pad=noise), "gzip")
    chunks = split_chunks(chunked, b"12345678", 100)
    assert len(chunks) >= 3
    missing = split_chunks(compress(doc(9, _pad=noise), "gzip"), b"87654321", 100)
    datagrams = [
        chunks[2],
        chunks[0],
        chunks[0],  # a chunk twice: still one message
        compress(doc(1), "zlib"),
        compress(doc(2), "none"),
        *chunks[1:2],
        *chunks[3:],
        *missing[1:],  # never complete: its first chunk is never sent
        compress(doc(1), "gzip"),  # line 1 again: a duplicate
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", receiver.port))
    totals = _stop_when(receiver, 4)
    assert (totals["distinct"], totals["duplicates"], totals["unparsed"]) == (3, 1, 0)
    gelf = totals["gelf"]
    assert gelf["chunked_messages"] == 1
    assert gelf["incomplete"] == 1
    assert gelf["inflate_errors"] == gelf["bad_chunks"] == 0
    delay = totals["delay_us"]
    assert delay["count"] == 4 and delay["bad_timestamps"] == 0
    assert 0 <= delay["min"] <= delay["max"] < 10_000_000


def _event_time(seconds: float) -> msgpack.ExtType:
    whole = int(seconds)
    nanos = int((seconds - whole) * 1e9)
    return msgpack.ExtType(0, whole.to_bytes(4, "big") + nanos.to_bytes(4, "big"))


def test_forward_receiver_acks_each_chunk_and_counts_every_mode(start: Any) -> None:
    receiver = start("streamrecv", "--proto", "forward")
    now = time.time()

    def record(idx: int, seq: int) -> dict[str, str]:
        return {"container_id": "c" * 64, "log": _mark(idx, seq), "source": "stdout"}

    def entries(*lines: tuple[int, int]) -> bytes:
        return b"".join(msgpack.packb([_event_time(now), record(i, s)]) for i, s in lines)

    packed = msgpack.packb(["tag", entries((0, 0), (0, 1)), {"size": 2, "chunk": "Y2h1bmsx"}])
    compressed = msgpack.packb(
        [
            "tag",
            gzip.compress(entries((1, 0), (1, 1))),
            {"size": 2, "compressed": "gzip", "chunk": "Y2h1bmsy"},
        ]
    )
    forward = msgpack.packb(["tag", [[_event_time(now), record(0, 2)]]])
    message = msgpack.packb(["tag", int(now), record(0, 3)])
    again = msgpack.packb(["tag", entries((0, 0)), {"chunk": "Y2h1bmsz"}])
    with socket.create_connection(("127.0.0.1", receiver.port)) as sock:
        stream = packed + compressed + forward + message + again
        for cut in range(0, len(stream), 37):  # messages cut at awkward places
            sock.sendall(stream[cut : cut + 37])
            time.sleep(0.001)
        unpacker = msgpack.Unpacker(raw=False)
        acks: list[Any] = []
        sock.settimeout(5)
        while len(acks) < 3:
            data = sock.recv(4096)
            assert data, f"the receiver closed the connection after acks {acks}"
            unpacker.feed(data)
            acks += list(unpacker)
    assert acks == [{"ack": "Y2h1bmsx"}, {"ack": "Y2h1bmsy"}, {"ack": "Y2h1bmsz"}]
    totals = _stop_when(receiver, 7)
    assert (totals["distinct"], totals["duplicates"], totals["unparsed"]) == (6, 1, 0)
    assert totals["protocol_errors"] == 0 and totals["units"] == 5
    assert totals["delay_us"]["count"] == 7 and totals["delay_us"]["bad_timestamps"] == 0


def _bulk_body(*lines: tuple[int, int], timestamp: str) -> bytes:
    out = []
    for idx, seq in lines:
        out.append(b'{"create":{"_index":"logship-x","_id":"c-%d-%d"}}' % (idx, seq))
        doc = {"@timestamp": timestamp, "message": _mark(idx, seq), "container": {"id": "c"}}
        out.append(json.dumps(doc).encode())
    return b"\n".join(out) + b"\n"


def test_bulk_stand_in_answers_every_action_as_elasticsearch_does(start: Any) -> None:
    receiver = start("streamrecv", "--proto", "bulk")
    stamp = _ts(time.time())
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        conn.request("GET", "/")
        info = conn.getresponse()
        assert info.status == 200
        assert json.loads(info.read())["version"]["number"].startswith("8.")
        body = _bulk_body((0, 0), (0, 1), (1, 5), timestamp=stamp)
        headers = {"Content-Type": "application/x-ndjson"}
        conn.request("POST", "/_bulk?filter_path=errors,items.*.status", body, headers)
        answer = conn.getresponse()
        assert answer.status == 200
        result = parse_bulk_response(answer.read(), 3)  # what the agent's sink does with it
        assert not (result.retry or result.rejected)
        zipped = gzip.compress(_bulk_body((1, 6), (0, 1), timestamp=stamp))
        conn.request("POST", "/_bulk", zipped, {**headers, "Content-Encoding": "gzip"})
        answer = conn.getresponse()
        items = json.loads(answer.read())["items"]
        assert [item["create"]["status"] for item in items] == [201, 201]
        conn.request("POST", "/other", b"{}")
        assert conn.getresponse().status == 404
    finally:
        conn.close()
    totals = _stop_when(receiver, 5)
    assert (totals["distinct"], totals["duplicates"], totals["unparsed"]) == (4, 1, 0)
    assert totals["delay_us"]["count"] == 5 and totals["delay_us"]["bad_timestamps"] == 0


def test_syslog_tls_receiver_counts_octet_counted_frames_over_tls(
    start: Any, tmp_path: Path
) -> None:
    files = make_test_ca(tmp_path / "ca")
    receiver = start(
        "streamrecv", "--proto", "syslog", "--tls", str(files.server_cert), str(files.server_key)
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".123456Z"

    def frame(idx: int, seq: int) -> bytes:
        msg = f"<30>1 {stamp} host web - web - {_mark(idx, seq)}".encode()
        return str(len(msg)).encode() + b" " + msg

    context = ssl.create_default_context(cafile=str(files.ca_file))
    with (
        socket.create_connection(("127.0.0.1", receiver.port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        stream = frame(0, 0) + frame(0, 1) + frame(1, 99) + frame(0, 1)
        tls.sendall(stream[:17])  # a frame cut inside its length and message
        time.sleep(0.05)
        tls.sendall(stream[17:])
        tls.sendall(f"<30>1 {stamp} host web - web - {_mark(1, 0)}\n".encode())  # LF framing
        # closing now could reset the connection before the receiver read it all (the TLS 1.3
        # session tickets it sent are still unread here), so wait for the lines first
        totals = _stop_when(receiver, 5)
    assert (totals["distinct"], totals["duplicates"], totals["unparsed"]) == (4, 1, 0)
    assert totals["protocol_errors"] == 0
    assert totals["delay_us"]["count"] == 5 and totals["delay_us"]["bad_timestamps"] == 0


def test_stream_receiver_reports_a_client_that_breaks_the_protocol(start: Any) -> None:
    receiver = start("streamrecv", "--proto", "syslog")
    with socket.create_connection(("127.0.0.1", receiver.port)) as sock:
        sock.sendall(b"12 <30>1 - h a - m -\nnot a frame\n")
    deadline = time.monotonic() + 5
    while receiver.progress.datagrams < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    totals = receiver.stop()
    assert totals["protocol_errors"] == 1
    assert "neither a length nor" in totals["first_error"]
    assert totals["unparsed"] == 1 and totals["distinct"] == 0
    assert os.path.basename(str(receiver.proc.args[0])).startswith("streamrecv-")


def test_cri_writer_writes_lines_the_cri_decoder_reads_each_mark_once(
    bench_receiver: ModuleType, tmp_path: Path
) -> None:
    writer = bench_receiver.build("criwriter")
    files = [tmp_path / f"{k}.log" for k in range(2)]
    lines = 5000
    argv = [str(writer), "--lines", str(lines), "--partial-every", "7", *map(str, files)]
    # rotation looked at every millisecond, at 50 kB: at most once a second per file
    argv[1:1] = ["--rotate-bytes", "50000", "--rotate-check-ms", "1", "--rate", "5000"]
    done = subprocess.run(argv, input="g", capture_output=True, text=True, check=True, timeout=30)
    ready, report = done.stdout.splitlines()
    assert ready == "READY"
    totals = json.loads(report)
    assert totals["lines"] == 2 * lines and totals["pieces"] == 2 * (lines // 7)
    assert totals["rotations"] >= 2  # one a file at least: 1 s of writing, ~0.7 MB a file
    for k, current in enumerate(files):
        rotated = sorted(tmp_path.glob(f"{k}.log.*"))
        assert rotated and all(p.name[len(current.name) + 1 :].count("-") == 1 for p in rotated)
        decoder = CriDecoder(make_meta(), max_line_bytes=1 << 20)
        messages = []
        for order, path in enumerate([*rotated, current]):
            messages += [
                r.message for r in decoder.next_file(LogFile(str(path), 1, order, "", order))
            ]
            messages += [r.message for r in decoder.feed(path.read_bytes())]
        messages += [r.message for r in decoder.flush()]
        assert decoder.malformed_lines == decoder.bad_timestamps == 0
        assert messages == [_mark(k, seq) + "0" * 81 for seq in range(lines)]


def test_floor_shipper_sends_every_json_file_line_once_in_the_agents_layout(
    bench_receiver: ModuleType, tmp_path: Path
) -> None:
    """bench/floorship.c, the measuring stick of the flood passes: each line of each json-file
    log is one datagram, the given header, Docker's time as written, the given middle, and the
    line's text without its newline; in one thread and in one thread a file."""
    binary = bench_receiver.build("floorship")
    before, between = b"<14>1 ", b' host app - - [x@1 a="b"] '
    logs = []
    for k in range(2):
        path = tmp_path / f"{k}-json.log"
        entries = [
            {"log": _mark(k, seq) + "\n", "stream": "stdout", "time": _ts(1.8e9 + seq / 1000)}
            for seq in range(LINES)
        ]
        path.write_bytes(b"".join(json.dumps(e).replace(" ", "").encode() + b"\n" for e in entries))
        logs.append((path, entries))
    for threads in ([], ["--threads"]):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(5)
            port = sock.getsockname()[1]
            argv = [str(binary), str(port), str(LINES), before.hex(), between.hex(), *threads]
            proc = subprocess.Popen(
                [*argv, *(str(p) for p, _ in logs)], stderr=subprocess.PIPE, text=True
            )
            try:
                got = sorted(sock.recv(4096) for _ in range(2 * LINES))
                assert proc.stderr is not None
                assert proc.stderr.readline().startswith(f"floorship: {2 * LINES} lines, ")
                sock.settimeout(0.3)
                with pytest.raises(TimeoutError):  # and nothing more
                    sock.recv(4096)
            finally:
                proc.kill()
                proc.wait()
                if proc.stderr is not None:
                    proc.stderr.close()
        want = sorted(
            before + e["time"].encode() + between + e["log"][:-1].encode()
            for _, entries in logs
            for e in entries
        )
        assert got == want, threads
