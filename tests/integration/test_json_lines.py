"""A container labelled ``logship.parse=json`` prints a JSON line and a plain one; through
`logship run` each receiver (Elasticsearch, GELF, a real rsyslogd) gets one record per line,
the JSON line's fields where that destination keeps them."""

from __future__ import annotations

from typing import Any

from tests.helpers.rsyslog import Rsyslog, parse_structured_data
from tests.helpers.waiting import wait_until

WAIT_SECS = 60  # the machine is shared with other test runs: generous, never asserted
LINE = '{"msg":"payment failed","level":"error","order":42,"ctx":{"retry":true}}'


def test_a_json_line_arrives_with_its_fields_in_elasticsearch_gelf_and_syslog(
    es: Any, start_gelf: Any, rsyslog: Rsyslog, start_agent: Any, containers: Any
) -> None:
    gelf = start_gelf()
    agent = start_agent(
        "run",
        f"elasticsearch+http://127.0.0.1:{es.port}",
        f"gelf+tcp://127.0.0.1:{gelf.tcp_port}",
        f"syslog+udp://127.0.0.1:{rsyslog.udp_port}?parsed_fields=true",
    )
    c = containers.run(
        'echo "$LINE"; echo plain; sleep 60',
        environment={"LINE": LINE},
        labels={"logship.parse": "json"},
    )

    def documents() -> list[dict[str, Any]]:
        return [d for d in es.documents() if d["container"]["name"] == c.name]

    def gelf_messages() -> list[dict[str, Any]]:
        return [r.message for r in gelf.received() if r.message.get("_container_name") == c.name]

    def syslog_messages() -> list[dict[str, Any]]:
        return [m for m in rsyslog.messages() if c.name in m.get("raw", "")]

    for got, what in (
        (documents, "documents"),
        (gelf_messages, "GELF"),
        (syslog_messages, "syslog"),
    ):
        wait_until(lambda got=got: len(got()) >= 2, timeout=WAIT_SECS, what=f"two {what}")
    assert agent.stop() == 0

    doc, plain_doc = sorted(documents(), key=lambda d: d["message"])
    assert (doc["message"], doc["log"]["level"], doc["order"], doc["ctx"]) == (
        "payment failed",
        "error",
        42,
        {"retry": True},
    )
    assert (plain_doc["message"], plain_doc["log"]) == ("plain", {"iostream": "stdout"})

    message, plain_message = sorted(gelf_messages(), key=lambda m: m["short_message"])
    assert (message["short_message"], message["level"], message["_order"]) == (
        "payment failed",
        3,
        42,
    )
    assert message["_ctx"] == '{"retry":true}'
    assert (plain_message["short_message"], plain_message["level"]) == ("plain", 6)

    by_text = {m["msg"].strip(): m for m in syslog_messages()}
    assert set(by_text) == {LINE, "plain"}  # the line as written
    assert (by_text[LINE]["severity"], by_text["plain"]["severity"]) == ("3", "6")
    sd = parse_structured_data(by_text[LINE]["sd"])
    assert sd["json@32473"] == {"order": "42", "ctx": '{"retry":true}'}  # asked for
    assert "json@32473" not in parse_structured_data(by_text["plain"]["sd"])
