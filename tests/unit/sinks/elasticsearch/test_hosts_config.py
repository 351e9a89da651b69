"""Several Elasticsearch hosts: written in YAML or in a URI's host part, what they share, and
the errors a bad list gets (naming the field, never quoting a credential)."""

from __future__ import annotations

from pathlib import Path

import pytest

from logship.errors import ConfigError
from logship.settings import load_settings
from logship.sinks.elasticsearch.config import ElasticsearchConfig

SECRET = "s3cr3t-Pa55"


def from_uri(uri: str) -> ElasticsearchConfig:
    (config,) = load_settings(destinations=[uri]).destinations
    assert isinstance(config, ElasticsearchConfig)
    return config


def from_yaml(tmp_path: Path, block: str) -> ElasticsearchConfig:
    path = tmp_path / "logship.yaml"
    path.write_text("destinations:\n  - type: elasticsearch\n" + block)
    (config,) = load_settings(path).destinations
    assert isinstance(config, ElasticsearchConfig)
    return config


def error_of(uri_or_block: str, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        if "://" in uri_or_block.partition("\n")[0] and "hosts:" not in uri_or_block:
            load_settings(destinations=[uri_or_block])
        else:
            from_yaml(tmp_path, uri_or_block)
    return str(info.value)


def test_the_yaml_list_and_the_uri_host_part_are_the_same_destination(tmp_path: Path) -> None:
    uri = from_uri("elasticsearch+https://writer@es1:9200,es2:9201/proxy?password_env=HOME")
    yaml = from_yaml(
        tmp_path,
        "    hosts: [https://es1:9200/proxy, 'https://es2:9201/proxy/']\n"
        "    user: writer\n"
        "    password_env: HOME\n",
    )
    assert yaml == uri
    assert uri.hosts == ["es1:9200", "es2:9201"]
    assert (uri.scheme, uri.path, uri.host) == ("https", "/proxy", "es1")
    assert uri.origins == ["https://es1:9200", "https://es2:9201"]
    assert uri.describe() == "elasticsearch+https://es1:9200,es2:9201/proxy"


def test_hosts_without_a_port_take_port_and_a_comma_list_is_read_too(tmp_path: Path) -> None:
    config = from_yaml(tmp_path, "    hosts: 'es1, [fd00::2], es3:9300'\n    port: 9243\n")
    assert config.origins == ["http://es1:9243", "http://[fd00::2]:9243", "http://es3:9300"]


def test_a_single_host_is_written_as_before() -> None:
    config = from_uri("elasticsearch+http://es1:9200/")
    assert config.hosts is None
    assert config.origins == ["http://es1:9200"]
    assert config.describe() == "elasticsearch+http://es1:9200"


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        (
            "    hosts: [https://es1:9200, http://es2:9200]\n",
            "hosts[0] 'https://es1:9200' says https:// where the others (or scheme) say "
            "http://: all hosts share one scheme",
        ),
        (
            "    scheme: https\n    hosts: [es1, http://es2]\n",
            "hosts[1] 'http://es2' says http:// where the others (or scheme) say https://",
        ),
        (
            "    hosts: [https://es1/a, https://es2/b]\n",
            "has path '/a' where the others (or path) have ''",
        ),
        ("    host: es0\n    hosts: [es1, es2]\n", "give host ('es0') or hosts, not both"),
        ("    hosts: [es1, 'es1:9200']\n", "hosts[1] 'es1:9200' is named twice"),
        ("    hosts: [es1, 'es2:x']\n", "hosts[1] 'es2:x': expected HOST[:PORT]"),
        ("    hosts: [es1, ftp://es2]\n", "scheme 'ftp' is not one of http, https"),
        ("    hosts: ['es1?timeout=1']\n", "no '?' or '#' in a host"),
        ("    hosts: []\n", "hosts is empty"),
        (
            "elasticsearch+http://es1,https://es2",
            "write several hosts without their scheme, which the URI's gives them all",
        ),
        ("elasticsearch+http://es1,,es2", "hosts[1] is empty"),
    ],
)
def test_a_bad_host_list_is_refused_naming_the_field(
    given: str, complaint: str, tmp_path: Path
) -> None:
    message = error_of(given, tmp_path)
    assert complaint in message
    assert "destinations" in message
    if "hosts:" in given and "hosts: []" not in given:
        assert "destinations.0.hosts:" in message


def test_credentials_written_into_a_host_are_refused_and_not_shown(tmp_path: Path) -> None:
    for entry in (f"https://writer:{SECRET}@es1:9200", f"writer:{SECRET}@es1:9200"):
        message = error_of(f"    hosts: ['{entry}', es2]\n", tmp_path)
        assert "destinations.0.hosts:" in message
        assert "credentials go in user and password_file" in message
        assert SECRET not in message


def test_only_destinations_with_hosts_take_several_in_a_uri() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(destinations=["syslog+tcp://a:514,b:514"])
    assert "a syslog destination cannot send to" in str(info.value)
    assert "'syslog+tcp://a:514,b:514'" in str(info.value)  # no credentials: quoted whole


def test_a_single_host_keeps_the_spool_directory_it_had_before_hosts_existed() -> None:
    # the keys logship 2026-12-05 (bccdcd0, before hosts) gave these destinations: after an
    # upgrade their spools are found again, and what they held is sent
    assert (
        ElasticsearchConfig(host="es.example.com").spool_key()
        == "elasticsearch-es.example.com-9200-f3aeb85efafc"
    )
    tuned = ElasticsearchConfig(
        host="es.example.com", scheme="https", port=9243, path="/es", index="logs-%Y"
    )
    assert tuned.spool_key() == "elasticsearch-es.example.com-9243-64d5b2214bdb"


def test_each_host_list_has_a_spool_directory_of_its_own() -> None:
    one = ElasticsearchConfig(hosts=["es1", "es2"]).spool_key()
    assert one.startswith("elasticsearch-es1-9200-")
    assert one != ElasticsearchConfig(hosts=["es1", "es3"]).spool_key()
    assert one != ElasticsearchConfig(host="es1").spool_key()
