"""Passwords and keys holding any character that means something in a URI: written
percent-encoded they are read as meant; written raw they are read as meant or refused with an
error naming the part, and no error ever shows any part of them (the command line, the
environment's list, a YAML file, a YAML file that does not parse)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from logship.check import effective_settings
from logship.errors import ConfigError
from logship.settings import load_settings
from tests.helpers.secrets import SECRETS, Secret, es_uris, other_uris

ES = ("127.0.0.1", 9200)


@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: repr(s.char))
def test_a_percent_encoded_password_is_read_as_meant_and_never_shown(secret: Secret) -> None:
    for uri in es_uris(secret, *ES, encoded=True):
        settings = load_settings(destinations=[uri])
        (config,) = settings.destinations
        assert config.secret_password.get_secret_value() == secret.value, uri
        assert (config.user, config.host, config.port) == (secret.user, *ES)
        shown = effective_settings(settings) + repr(settings) + config.describe()
        assert not secret.leaked_in(shown), shown


@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: repr(s.char))
@pytest.mark.parametrize("encoded", [False, True])
def test_a_password_is_read_as_meant_or_refused_without_showing_it(
    secret: Secret, encoded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    uris = es_uris(secret, *ES, encoded=encoded) + other_uris(secret, *ES, encoded=encoded)
    for uri in uris:
        for how in ("command line", "environment"):
            try:
                if how == "environment":
                    monkeypatch.setenv("LOGSHIP_DESTINATIONS", f"console:// {uri}")
                    settings = load_settings()
                else:
                    settings = load_settings(destinations=[uri])
            except ConfigError as exc:
                assert not secret.leaked_in(str(exc)), (uri, str(exc))
                continue
            finally:
                monkeypatch.delenv("LOGSHIP_DESTINATIONS", raising=False)
            # what was read is what was meant: the whole secret, the host, the port
            config = settings.destinations[-1]
            assert config.secret_password.get_secret_value() == secret.value, (uri, how)
            assert (config.host, config.port) == ES
            assert not secret.leaked_in(effective_settings(settings))


@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: repr(s.char))
def test_a_password_in_a_yaml_file_is_never_shown_by_its_errors(
    secret: Secret, tmp_path: Path
) -> None:
    config = tmp_path / "logship.yaml"
    block = {"type": "elasticsearch", "host": "h", "port": 0, "user": "w"}
    # another error in the same block: its input, the whole block, is shown masked
    config.write_text(yaml.safe_dump({"destinations": [{**block, "password": secret.value}]}))
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "destinations.0.port" in str(info.value)
    assert not secret.leaked_in(str(info.value)), str(info.value)
    # a user who wrote user:password into user
    config.write_text(
        yaml.safe_dump({"destinations": [{**block, "port": 1, "user": f"w:{secret.value}"}]})
    )
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "user" in str(info.value)
    assert not secret.leaked_in(str(info.value)), str(info.value)
    # written without quotes, which YAML may not parse: the error says where, not the line
    config.write_text(
        f"destinations:\n  - type: elasticsearch\n    host: h\n    user: w\n"
        f"    password: {secret.value}: x\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "line 5" in str(info.value)
    assert not secret.leaked_in(str(info.value)), str(info.value)


@pytest.mark.parametrize(
    ("uri", "part"),
    [
        ("elasticsearch+http://w:ab/cd@h:9200", "invalid port"),
        ("elasticsearch+http://w:12/cd@h:9200", "an '@' after the host, in the path"),
        ("elasticsearch+http://w:ab?cd@h:9200", "invalid port"),
        ("elasticsearch+http://w:ab#cd@h:9200", "'#' starts a URI's fragment"),
        ("elasticsearch+http://w:a[b@h:9200", "brackets go only around an IPv6 address"),
        ("elasticsearch+http://h:9200?user=w&password=ab&cd", "value of password= seems to go on"),
        ("elasticsearch+http://h:9200?user=w&password=ab#cd", "'#' starts a URI's fragment"),
    ],
)
def test_a_raw_special_character_is_refused_naming_the_part_and_what_to_encode(
    uri: str, part: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(destinations=[uri])
    message = str(info.value)
    assert part in message
    assert "percent-encode" in message and "%2F" in message
    assert "'elasticsearch+http://…'" in message  # the scheme, never the rest
    assert "cd" not in message.split("(the rest not shown")[1].split("percent-encode")[0]


def test_a_plus_in_a_query_value_is_a_plus_and_percent_escapes_decode() -> None:
    from logship.settings import parse_destination_uri

    options = parse_destination_uri("syslog://h?labels_regex=^a+b%2Fc&tag=%7B%7B.ID%7D%7D")
    assert options["labels_regex"] == "^a+b/c"
    assert options["tag"] == "{{.ID}}"
