"""Secrets as an operator writes them, through real ``logship check`` and ``logship run``
processes: passwords holding every character that means something in a URI, percent-encoded
(read as meant: the Elasticsearch stand-in accepts them) or raw (read as meant or refused), and
never any part of one in what the commands print or log. And the warnings for what exposes
credentials or logs on the network: credentials over plain HTTP, a tcp:// engine without TLS,
tls.verify=false."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.agent_process import AgentProcess, run_cli
from tests.helpers.engine_proxy import EngineProxy
from tests.helpers.ports import free_port
from tests.helpers.receivers.elasticsearch import ElasticsearchStandIn
from tests.helpers.secrets import SECRETS, es_uris, leaks, other_uris
from tests.helpers.waiting import wait_until

Start = Callable[..., ElasticsearchStandIn]


def _stand_in(start_elasticsearch: Start) -> ElasticsearchStandIn:
    return start_elasticsearch(users={s.user: s.value for s in SECRETS})


def test_percent_encoded_passwords_are_accepted_and_check_never_shows_them(
    start_elasticsearch: Start,
) -> None:
    es = _stand_in(start_elasticsearch)
    uris = [uri for s in SECRETS for uri in es_uris(s, "127.0.0.1", es.port, encoded=True)]
    result = run_cli(["check", *uris])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    accepted = re.findall(r"OK   destination \d+ .*credentials accepted", result.stdout)
    assert len(accepted) == len(uris)  # every password reached the server as it was meant
    assert leaks(output) == []
    # and each one's credentials go over plain http: said once per destination
    assert len(
        re.findall(
            r"WARN destination \d+ .*: sends the user and password over plain "
            r"http://",
            result.stdout,
        )
    ) == len(uris)


def test_raw_passwords_are_read_as_meant_or_refused_and_never_shown(
    start_elasticsearch: Start,
) -> None:
    es = _stand_in(start_elasticsearch)

    def check(uri: str) -> tuple[str, Any]:
        return uri, run_cli(["check", "--timeout-secs", "5", uri])

    uris = [
        uri
        for s in SECRETS
        for uri in es_uris(s, "127.0.0.1", es.port, encoded=False)
        + other_uris(s, "127.0.0.1", es.port, encoded=False)[:1]
    ]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(check, uris))
    refused = 0
    for uri, result in results:
        output = result.stdout + result.stderr
        assert leaks(output) == [], (uri, output)
        if result.returncode == 2:  # refused, naming the part and what to encode
            assert "logship: invalid configuration" in result.stderr, (uri, output)
            refused += 1
        elif "api_key=" not in uri:  # read as meant: the stand-in took the password
            assert result.returncode == 0, (uri, output)
            assert "credentials accepted" in result.stdout
    assert 0 < refused < len(uris)


def test_the_agents_log_never_shows_a_password_while_it_ships_and_is_refused(
    start_elasticsearch: Start,
    start_agent: Callable[..., AgentProcess],
    containers: Any,
    tmp_path: Path,
) -> None:
    es = _stand_in(start_elasticsearch)
    port = es.port
    # each to an index of its own: the same line sent twice to one index is stored once
    blocks: list[Any] = [
        es_uris(s, "127.0.0.1", port, encoded=True)[0] + f"?index=uri-{s.n}" for s in SECRETS
    ]
    blocks += [  # written inline in YAML, as they are
        {
            "type": "elasticsearch",
            "host": "127.0.0.1",
            "port": port,
            "user": s.user,
            "password": s.value,
            "index": f"inline-{s.n}",
        }
        for s in SECRETS
    ]
    wrong = SECRETS[0]  # another secret's password: refused, and said so in the log
    blocks.append(
        {
            "type": "elasticsearch",
            "host": "127.0.0.1",
            "port": port,
            "user": wrong.user,
            "password": SECRETS[1].value,
            "name": "refused",
        }
    )
    config = tmp_path / "logship.yaml"
    config.write_text(yaml.safe_dump({"destinations": blocks, "log_level": "debug"}))
    agent = start_agent("run", "--config", str(config))
    c = containers.run("echo shipped-everywhere; sleep 60")
    wait_until(
        lambda: len(es.index_names()) == 2 * len(SECRETS),
        timeout=60,
        what="the line in the index of every destination whose password is right",
    )
    wait_until(lambda: "credentials refused" in agent.stderr, what="the refusal in the log")
    agent.stop()
    assert c.name in agent.stderr  # the log did talk about the container
    assert leaks(agent.stderr + agent.stdout) == []


def test_plain_text_credentials_an_engine_without_tls_and_unverified_tls_are_warned_of_once(
    start_elasticsearch: Start, start_agent: Callable[..., AgentProcess]
) -> None:
    es = start_elasticsearch(users={"writer": "pw-in-the-clear"})
    proxy = EngineProxy()
    try:
        uris = [
            f"elasticsearch+http://writer:pw-in-the-clear@127.0.0.1:{es.port}",
            f"syslog+tls://127.0.0.1:{free_port(socket.SOCK_STREAM)}?tls.verify=false",
        ]
        env = {"DOCKER_HOST": proxy.url, "DOCKER_TLS_VERIFY": ""}
        agent = start_agent("run", *uris, env=env)
        wait_until(lambda: "following" in agent.stderr, what="the agent to start")
        log = agent.stderr
        assert log.count(f"the engine at {proxy.url} is reached over plain TCP, without TLS") == 1
        assert log.count("sends the user and password over plain http://") == 1
        assert log.count("tls.verify=false: the server's certificate is not checked") == 1
        assert "pw-in-the-clear" not in log
        agent.stop()

        check = run_cli(["check", "--timeout-secs", "3", *uris], env=env)
        warnings = [ln for ln in check.stdout.splitlines() if ln.startswith("  WARN ")]
        assert len(warnings) == 3, check.stdout
        assert "reached over plain TCP" in warnings[0]
        assert warnings[1].startswith("  WARN destination 0 elasticsearch+http://127.0.0.1:")
        assert "destination 1 " in warnings[2] and "tls.verify=false" in warnings[2]
        assert "pw-in-the-clear" not in check.stdout + check.stderr
    finally:
        proxy.close()
