"""``elasticsearch+http(s)://HOST:PORT[/PATH]`` (or ``opensearch+…``): the ``_bulk`` API.

Several nodes of one cluster: ``hosts`` (``elasticsearch+https://es1:9200,es2:9200/`` in a
URI). They share everything else: scheme, path, credentials, TLS options and timeouts.

Credentials are read once, when the configuration is loaded, from a file or an environment
variable, and kept as :class:`SecretStr` (shown as ``**********`` in every repr and dump). A
password written into the URI is accepted but discouraged: URIs end up in shell history,
process lists and error messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from logship.config.address import HostEntry, format_address, parse_host_entry
from logship.config.destination import NetworkDestinationConfig
from logship.config.secrets import read_secret_env, read_secret_file
from logship.config.tls import TlsConfig
from logship.config.values import comma_list
from logship.protocol.bulk import (
    ADDED,
    DOCKER_DATA_STREAM,
    KUBERNETES_DATA_STREAM,
    IndexPattern,
    check_index_name,
)
from logship.protocol.json import RESERVED

_PASSWORDS = ("password", "password_file", "password_env")
_SCHEMES = ("http", "https")


class ElasticsearchConfig(NetworkDestinationConfig):
    type: Literal["elasticsearch"] = "elasticsearch"
    scheme: Literal["http", "https"] = Field(
        default="http",
        description="http, or https for TLS (see tls). Set by the URI: elasticsearch+https://.",
    )
    port: int = Field(default=9200, ge=1, le=65535, description="Receiver port.")
    path: str = Field(
        default="",
        description="Path in front of the API when Elasticsearch sits behind a proxy under a "
        "path (the URI's path: elasticsearch+https://proxy:443/es).",
        examples=["/elasticsearch"],
    )
    hosts: Annotated[list[str] | None, BeforeValidator(comma_list)] = Field(
        default=None,
        description="Several nodes of one cluster, instead of host: requests go to each in "
        "turn; one that does not answer (or answers 502, 503 or 504) is set aside for a "
        "backoff of its own (up to reconnect_max_secs) and the request goes to the next at "
        "once. Each is HOST[:PORT] or http(s)://HOST[:PORT][/PATH]; all share scheme, path, "
        "credentials and tls, and one without a port has port. In a URI: "
        "elasticsearch+https://es1:9200,es2:9200/.",
        examples=[["https://es1:9200", "https://es2:9200"]],
    )
    index: str | None = Field(
        default=None,
        description="Write to this index instead of a data stream. strftime placeholders "
        "%Y %y %m %d %j %G %V %H are filled from each record's own time, in UTC.",
        examples=["logship-%Y.%m.%d", "logs-docker-%Y.%m", "logship-%G.%V"],
    )
    data_stream: str | None = Field(
        default=None,
        description="The data stream to write to (op create; an index template with "
        "data_stream enabled must match it, as Elastic's logs-*-* does). Default: "
        f"{KUBERNETES_DATA_STREAM} for a Kubernetes pod's containers, {DOCKER_DATA_STREAM} "
        "for the others, where Elastic Agent's Kubernetes and Docker integrations write. "
        "Documents carry data_stream.type, .dataset, .namespace and event.dataset from a "
        "name of the form <type>-<dataset>-<namespace>.",
        examples=["logs-docker.container_logs-default", "logs-myapp-production"],
    )
    install_template: bool = Field(
        default=False,
        description="At start, install (or replace) an index template named template_name "
        "covering the data streams (or index) written to, so that host.ip is typed ip and "
        "message match_only_text, as Elastic's own logs templates do, at a priority above "
        "the built-in logs template's 100; logship check says whether it is there. Takes "
        "the manage_index_templates privilege. Applies to data streams created (or rolled "
        "over) after it is installed.",
    )
    template_name: str = Field(
        default="logship",
        pattern=r"^[a-z0-9][a-z0-9_.\-]{0,99}$",
        description="Name of the index template install_template installs.",
    )
    template_priority: int = Field(
        default=150,
        ge=101,
        description="Priority of that template: above the built-in logs template's 100, and "
        "different from any other template matching the same names (Elasticsearch refuses "
        "two at one priority).",
    )
    parsed_fields_key: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$",
        description="The fields of a line read as JSON (the parse setting) go under this key. "
        "None: at the top level, where a field named like one of logship's (@timestamp, "
        "message, log, host, container, kubernetes, data_stream, ecs, agent, event, stream) "
        "gets '_' appended.",
        examples=["app"],
    )
    compression: Literal["gzip", "none"] = Field(
        default="none",
        description="gzip: compress request bodies (several times fewer bytes on the wire, "
        "for a few microseconds of CPU per record).",
    )
    max_request_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest request body before compression; a batch is split into as many "
        "_bulk requests as needed (Elasticsearch refuses more than http.max_content_length, "
        "100 MiB by default; 5-15 MiB requests index best).",
    )
    request_timeout_secs: float = Field(
        default=60.0,
        gt=0,
        description="How long one _bulk request may take, answer included, before it is "
        "retried (a retried record that did arrive is recognised by its _id, not duplicated).",
    )
    password: SecretStr | None = Field(
        default=None,
        description="Basic auth password written into the configuration or the URI "
        "(user:password@host). Discouraged: use password_file or password_env.",
    )
    password_file: Path | None = Field(
        default=None,
        description="File holding the basic auth password (read at startup; one trailing "
        "newline is ignored).",
        examples=["/run/secrets/elasticsearch_password"],
    )
    password_env: str | None = Field(
        default=None,
        description="Environment variable holding the basic auth password (read at startup).",
        examples=["ES_PASSWORD"],
    )
    user: str | None = Field(
        default=None,
        validate_default=True,
        description="Basic auth user (the URI's user@host), with one of password_file, "
        "password_env or password.",
        examples=["logship_writer"],
    )
    api_key_file: Path | None = Field(
        default=None,
        description="File holding an Elasticsearch API key: the 'encoded' value the create "
        "API key call returns, or id:api_key. Instead of user and password.",
        examples=["/run/secrets/elasticsearch_api_key"],
    )
    api_key_env: str | None = Field(
        default=None,
        description="Environment variable holding an API key (encoded, or id:api_key).",
        examples=["ES_API_KEY"],
    )
    tls: TlsConfig = Field(
        default_factory=TlsConfig,
        description="TLS for https: tls.ca_file, tls.verify, tls.cert_file/key_file, "
        "tls.server_name.",
    )

    _password: SecretStr | None = PrivateAttr(default=None)
    _api_key: SecretStr | None = PrivateAttr(default=None)

    # Cross-field checks sit on the later field of each pair (fields are validated in the
    # order above) so that an error names a field and quotes a path or a name, never the whole
    # block, which could hold a password written inline.

    @model_validator(mode="before")
    @classmethod
    def _from_hosts(cls, data: Any) -> Any:
        """With ``hosts``: the first host's name is ``host``, and the scheme and path they
        are written with are ``scheme`` and ``path``, where those are not given (the
        ``hosts`` validator checks that they agree)."""
        if not isinstance(data, dict) or not data.get("hosts"):
            return data
        entries = []
        texts = comma_list(data["hosts"])
        for text in texts if isinstance(texts, list) else ():
            if not isinstance(text, str):
                continue  # said by the field's type check
            try:
                entries.append(parse_host_entry(text, _SCHEMES))
            except ValueError:
                continue  # said by the hosts validator, with where
        if not entries:  # the hosts validator says why; host stands for the first meanwhile
            first = texts[0] if isinstance(texts, list) and texts else None
            return {"host": first, **data} if isinstance(first, str) else data
        data = {"host": entries[0].host, **data}
        schemes = {e.scheme for e in entries if e.scheme is not None}
        paths = {_plain_path(e.path) for e in entries if e.path is not None}
        for option, written in (("scheme", schemes), ("path", paths)):
            if len(written) == 1:
                data.setdefault(option, written.pop())
        return data

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _plain_path(value)

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        """``HOST:PORT`` each, in the order given; what they share checked."""
        if value is None:
            return value
        if not value:
            raise ValueError("hosts is empty: name at least one host, or give host instead")
        given = info.data
        if not {"host", "scheme", "port", "path"} <= given.keys():
            return value  # one of them is wrong already, and said so
        entries: list[HostEntry] = []
        for i, text in enumerate(value):
            try:
                entries.append(parse_host_entry(text, _SCHEMES))
            except ValueError as exc:
                raise ValueError(f"hosts[{i}] {exc}") from None
        scheme, path = given["scheme"], given["path"]
        for i, entry in enumerate(entries):
            if entry.scheme is not None and entry.scheme != scheme:
                raise ValueError(
                    f"hosts[{i}] {value[i].strip()!r} says {entry.scheme}:// where the others "
                    f"(or scheme) say {scheme}://: all hosts share one scheme"
                )
            if entry.path is not None and _plain_path(entry.path) != path:
                raise ValueError(
                    f"hosts[{i}] {value[i].strip()!r} has path {_plain_path(entry.path)!r} "
                    f"where the others (or path) have {path!r}: all hosts share one path"
                )
        if given["host"] != entries[0].host:
            raise ValueError(
                f"give host ({given['host']!r}) or hosts, not both: hosts names every host"
            )
        addresses = [format_address(e.host, e.port or given["port"]) for e in entries]
        for i, address in enumerate(addresses):
            if address in addresses[:i]:
                raise ValueError(f"hosts[{i}] {address!r} is named twice")
        return addresses

    @field_validator("index")
    @classmethod
    def _index(cls, value: str | None) -> str | None:
        if value is not None:
            IndexPattern(value)
        return value

    @field_validator("parsed_fields_key")
    @classmethod
    def _own_key(cls, value: str | None) -> str | None:
        if value in RESERVED | ADDED:
            raise ValueError(f"{value!r} is a field logship sets itself; choose another key")
        return value

    @field_validator("data_stream")
    @classmethod
    def _data_stream(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("index") is not None:
            raise ValueError("give either index or data_stream, not both")
        if "%" in value:
            raise ValueError(
                f"data stream name {value!r} must not contain '%': a data stream rolls over "
                "by itself, dates in its name are not needed"
            )
        return check_index_name(value)

    @field_validator("password_file")
    @classmethod
    def _password_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None:
            if info.data.get("password") is not None:
                raise ValueError("give the password once: password, password_file or password_env")
            read_secret_file(value, "password_file")
        return value

    @field_validator("password_env")
    @classmethod
    def _password_env(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            if info.data.get("password") is not None or info.data.get("password_file"):
                raise ValueError("give the password once: password, password_file or password_env")
            read_secret_env(value, "password_env")
        return value

    @field_validator("user", mode="after")
    @classmethod
    def _user(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and ":" in value:  # what follows it may well be a password
            raise ValueError(
                f"user {value.partition(':')[0] + ':…'!r} must not contain ':' (basic auth "
                "cannot carry it)"
            )
        if value is None and any(info.data.get(k) is not None for k in _PASSWORDS):
            raise ValueError("a password needs a user: give user (or user@host in the URI)")
        return value

    @field_validator("api_key_file", "api_key_env")
    @classmethod
    def _api_key_given(cls, value: str | Path | None, info: ValidationInfo) -> str | Path | None:
        if value is None:
            return value
        if any(info.data.get(k) is not None for k in (*_PASSWORDS, "user")):
            raise ValueError(
                f"{info.field_name} and basic auth (user and password) exclude each other; "
                "give one of them"
            )
        if info.field_name == "api_key_env":
            if info.data.get("api_key_file") is not None:
                raise ValueError("give the API key once: api_key_file or api_key_env")
            read_secret_env(str(value), "api_key_env")
        else:
            read_secret_file(Path(value), "api_key_file")
        return value

    @field_validator("tls")
    @classmethod
    def _tls(cls, value: TlsConfig, info: ValidationInfo) -> TlsConfig:
        if info.data.get("scheme") == "http":
            raise ValueError(
                "tls options apply to https only; use elasticsearch+https:// (or scheme: https)"
            )
        return value

    @model_validator(mode="after")
    def _secrets(self) -> ElasticsearchConfig:
        if self.user is not None and not any(
            (self.password, self.password_file, self.password_env)
        ):
            raise ValueError(
                f"user {self.user!r} has no password: give password_file or password_env"
            )
        if self.password_file is not None:
            self._password = read_secret_file(self.password_file, "password_file")
        elif self.password_env is not None:
            self._password = read_secret_env(self.password_env, "password_env")
        else:
            self._password = self.password
        if self.api_key_file is not None:
            self._api_key = read_secret_file(self.api_key_file, "api_key_file")
        elif self.api_key_env is not None:
            self._api_key = read_secret_env(self.api_key_env, "api_key_env")
        return self

    def security_warnings(self) -> list[str]:
        warnings = super().security_warnings()
        if self.scheme == "http" and (self.user is not None or self._api_key is not None):
            what = "the API key" if self._api_key is not None else "the user and password"
            warnings.append(
                f"sends {what} over plain http://, where whoever is on the way can read "
                "them (and every record); use elasticsearch+https://"
            )
        return warnings

    @property
    def secret_password(self) -> SecretStr | None:
        """The basic auth password, from wherever it was given."""
        return self._password

    @property
    def secret_api_key(self) -> SecretStr | None:
        return self._api_key

    @property
    def index_pattern(self) -> IndexPattern | None:
        """The index to write to, when one is given instead of a data stream."""
        return None if self.index is None else IndexPattern(self.index)

    @property
    def origin(self) -> str:
        """``scheme://host:port``, where requests go (their paths start with :attr:`path`);
        the first of :attr:`origins`."""
        return self.origins[0]

    @property
    def origins(self) -> list[str]:
        """``scheme://host:port`` of each host, in the order given."""
        addresses = self.hosts or [format_address(self.host, self.port)]
        return [f"{self.scheme}://{address}" for address in addresses]

    @property
    def url(self) -> str:
        """Where the API is, without credentials: ``https://host:9200/prefix``."""
        return self.origin + self.path

    def describe(self) -> str:
        addresses = ",".join(self.hosts or [format_address(self.host, self.port)])
        return self.name or f"elasticsearch+{self.scheme}://{addresses}{self.path}"


def _plain_path(value: str) -> str:
    """``/prefix`` or ``""``; ValueError for a query or a fragment."""
    if "?" in value or "#" in value:
        raise ValueError(f"path {value!r} must be a plain path, without '?' or '#'")
    value = value.strip("/")
    return "/" + value if value else ""
