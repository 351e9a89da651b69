"""All of logship's settings, and the only place that reads the environment or config files.

Sources, highest priority first: command-line options, environment variables (``LOGSHIP_*``,
nested with ``__``, plus Docker's own ``DOCKER_HOST``), the YAML file given with ``--config`` or
``LOGSHIP_CONFIG``, defaults. Destinations can be written as URIs (``syslog+udp://host:514``)
anywhere a destination is expected; a URI becomes the same model as the YAML block.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Collection, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from logship.config.destination import DestinationConfig
from logship.config.engine import DockerTlsFiles, docker_context, docker_tls_files
from logship.config.filters import ContainerSelection
from logship.config.http import HttpSettings
from logship.config.multiline import MultilineConfig
from logship.config.parse import ParseConfig
from logship.config.secrets import SECRET_KEY, redact
from logship.config.uri import parse_destination_uri as uri_options
from logship.config.uri import shown
from logship.errors import ConfigError
from logship.sinks.registry import destination_types, schemes
from logship.sinks.syslog.config import SD_ELEMENT
from logship.sources.held import DEFAULT_MAX_PARTIAL_BYTES

if TYPE_CHECKING:
    Destination = DestinationConfig
else:  # every registered destination type's model, told apart by its ``type``
    Destination = Annotated[
        Union[tuple(kind.config for kind in destination_types())],  # noqa: UP007
        Field(discriminator="type"),
    ]

_config_file: ContextVar[Path | None] = ContextVar("logship_config_file", default=None)


def parse_destination_uri(uri: str) -> dict[str, Any]:
    """``syslog+udp://host:514?format=rfc3164`` -> ``{"type": "syslog", "transport": "udp", ...}``
    (:func:`logship.config.uri.parse_destination_uri`, with every registered scheme).

    Query keys are option names; a dotted key (``tls.verify``) becomes a nested option.
    """
    return uri_options(uri, schemes(), _option_names)


def _option_names(kind: str) -> Collection[str]:
    return next(t.config.model_fields.keys() for t in destination_types() if t.name == kind)


class BufferSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_records: int = Field(
        default=50_000,
        ge=1,
        description="Records each destination may hold; beyond it the oldest lines of the "
        "container holding the most are dropped (counted).",
    )
    max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Memory each destination's buffer may take: each message as Python holds "
        "it (1, 2 or 4 bytes a character: one emoji makes a line 4 bytes a character) plus "
        "~160 per record; beyond it the oldest lines of the container holding the most bytes "
        "are dropped.",
    )


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_container: bool = Field(
        default=False,
        description="Serve logship_container_records_read_total, lines read per container "
        "and stream, on /metrics (with http). Off by default: on a busy node every container "
        "started makes new series for Prometheus to keep (/containers shows the same counts "
        "either way).",
    )


# how each of the engine's settings arrives in the data the sources give (by its first alias
# from the environment, by its name from the file and the command line)
_DOCKER_HOST_KEYS = ("docker_host", "LOGSHIP_DOCKER_HOST", "DOCKER_HOST")
_DOCKER_TLS_VERIFY_KEYS = ("docker_tls_verify", "LOGSHIP_DOCKER_TLS_VERIFY", "DOCKER_TLS_VERIFY")
_DOCKER_CERT_PATH_KEYS = ("docker_cert_path", "LOGSHIP_DOCKER_CERT_PATH", "DOCKER_CERT_PATH")


def _tcp(docker_host: object) -> bool:
    return isinstance(docker_host, str) and docker_host.startswith("tcp://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOGSHIP_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    docker_host: str = Field(
        default="unix:///var/run/docker.sock",
        validation_alias=AliasChoices("LOGSHIP_DOCKER_HOST", "DOCKER_HOST", "docker_host"),
        description="Where the Docker engine listens: unix:///path, tcp://host:port or "
        "ssh://[user@]host[:port]. Not given, it is found as the docker CLI finds it: "
        "DOCKER_HOST, else the engine (and TLS files) of the docker context named by "
        "DOCKER_CONTEXT or by currentContext in ~/.docker/config.json (DOCKER_CONFIG "
        "honoured), else the local socket. An ssh:// engine is reached as the docker CLI "
        "reaches it: `ssh -o BatchMode=yes [-l user] [-p port] host -- docker system "
        "dial-stdio` for each connection, with ssh's own configuration (~/.ssh/config, "
        "agent, known_hosts; never a prompt); the remote user must be allowed to run docker.",
    )
    docker_tls_verify: bool = Field(
        default=False,
        validation_alias=AliasChoices(
            "LOGSHIP_DOCKER_TLS_VERIFY", "DOCKER_TLS_VERIFY", "docker_tls_verify"
        ),
        description="Talk TLS to a tcp:// engine, check its certificate against ca.pem in "
        "docker_cert_path and present cert.pem/key.pem (its default port becomes 2376). "
        "DOCKER_TLS_VERIFY means what it means to the docker CLI: any value but the empty one "
        "turns this on, 0 and false included.",
    )
    docker_cert_path: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "LOGSHIP_DOCKER_CERT_PATH", "DOCKER_CERT_PATH", "docker_cert_path"
        ),
        description="Directory holding ca.pem, cert.pem and key.pem for docker_tls_verify "
        "(default: ~/.docker; DOCKER_CERT_PATH is honoured). Missing files are not used, as "
        "with the docker CLI.",
        examples=["/etc/logship/docker-tls"],
        validate_default=True,
    )
    source: Literal["auto", "docker", "files", "cri"] = Field(
        default="auto",
        description="Where container logs are read: docker (the Engine API's log streams), "
        "files (a Docker host: each container's json-file log under docker_root, containers "
        "found through the Engine API; other log drivers through the API), cri (a Kubernetes "
        "node: the pod logs under pods_dir, no engine needed), or auto: cri when no engine "
        "answers and pods_dir exists; files when the engine answers and "
        "<docker_root>/containers can be read; otherwise docker.",
    )
    docker_root: Path = Field(
        default=Path("/var/lib/docker"),
        description="The Docker engine's data root as this process sees it (the host's "
        "/var/lib/docker, wherever it is mounted): source files reads "
        "<docker_root>/containers/<id>/<id>-json.log when the engine's own path cannot be "
        "read here.",
    )
    pods_dir: Path = Field(
        default=Path("/var/log/pods"),
        description="Where the kubelet has the runtime write pod logs "
        "(<namespace>_<pod>_<uid>/<container>/<restart>.log); read by source cri.",
    )
    pod_links_dir: Path = Field(
        default=Path("/var/log/containers"),
        description="The kubelet's links to the pod logs (<pod>_<namespace>_<container>-<id>"
        ".log), where source cri learns each container's ID.",
    )
    hostname: str | None = Field(
        default=None,
        description="Host name records carry (default: this machine's fully qualified name).",
    )
    host_ip: str | None = Field(
        default=None, description="Host address records carry (default: the primary address)."
    )
    destinations: Annotated[list[Destination], NoDecode] = Field(
        default_factory=list,
        description="Where records go: URIs or option blocks. None given: the console.",
        examples=[["syslog+udp://127.0.0.1:514", {"type": "console", "format": "json"}]],
    )
    include: ContainerSelection = Field(
        default_factory=ContainerSelection,
        description="Follow only containers that match every non-empty list here.",
    )
    exclude: ContainerSelection = Field(
        default_factory=ContainerSelection,
        description="Never follow containers that match any entry here.",
    )
    backlog: bool = Field(
        default=False,
        description="Ship the existing log of containers already running when logship starts "
        "(default: only what they write from then on).",
    )
    max_line_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Longest line kept whole; longer lines are cut, with a marker.",
    )
    max_partial_bytes: int = Field(
        default=DEFAULT_MAX_PARTIAL_BYTES,
        ge=64 * 1024,
        description="Memory that lines still being read (their end not written yet) may take, "
        "all containers together; beyond it the container holding the most ships what it has "
        "of its line as a record ending with ' [line continued in the next record]', and the "
        "rest follows as the next record. Nothing is dropped.",
    )
    buffer: BufferSettings = Field(default_factory=BufferSettings)
    multiline: Annotated[MultilineConfig, NoDecode] = Field(
        default_factory=MultilineConfig,
        description="Join the lines of one event (a stack trace) into one record, for every "
        "destination that sets no multiline of its own: a preset's name (java, python, go, "
        "nodejs, indented) or a block (preset, start_pattern or continuation_pattern, "
        "flush_timeout_secs, max_lines, max_bytes). Default: off.",
        examples=["java", {"start_pattern": "^\\d{4}-", "flush_timeout_secs": 1.0}],
    )
    parse: Annotated[ParseConfig, NoDecode] = Field(
        default_factory=ParseConfig,
        description="Read lines that are JSON objects as fields (their message, level and "
        "time among them): json, or a block (format, message_field, level_field, time_field, "
        "use_time). Default: off; a container turns it on or off for itself with the label "
        "logship.parse=json or off. Lines that are no JSON object are shipped as they are.",
        examples=["json", {"format": "json", "message_field": "msg", "use_time": True}],
    )
    shutdown_grace_secs: float = Field(
        default=5.0,
        ge=0,
        description="On SIGTERM, how long to keep sending what is buffered; on SIGHUP, how "
        "long a destination the reload removes or changes may take to send what it holds.",
    )
    state_dir: Path | None = Field(
        default=None,
        description="Directory where logship keeps how far each container's log was shipped "
        "(checkpoints.json), to resume there after a restart with no line lost (a hostPath "
        "in Kubernetes). None: no checkpoints; a restart starts from now (or --backlog).",
        examples=["/var/lib/logship"],
    )
    checkpoint_interval_secs: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="How often checkpoints are written (when they changed) with state_dir; "
        "after a crash, at most this long's lines are shipped a second time.",
    )
    quiet_stream_secs: float = Field(
        default=10.0,
        ge=0,
        description="A container's log stream silent this long is checked: if the log has "
        "newer lines (Docker 20.10 can stall after log rotation), it is read again from where "
        "it was. Quiet containers are checked at doubling intervals. 0: never.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="logship's own log verbosity (to stderr)."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="logship's own log lines (on stderr): text, or json (one object a line "
        "with ECS names: @timestamp, log.level, log.logger, message, error.*) for a log "
        "pipeline to read.",
    )
    honor_ignore: bool = Field(
        default=True,
        description="Let containers opt themselves out of shipping with the label "
        "logship.ignore=true or the environment variable LOGSHIP=ignore (LOGSPOUT=ignore), "
        "and out of destinations with the label logship.destinations=a,b (only those, by "
        "name); each container skipped so is logged. false: they are shipped like any other, "
        "to every destination (images inherit labels, so an image could otherwise evade audit "
        "logging).",
    )
    http: HttpSettings | None = Field(
        default=None,
        description="The operator's window (/healthz, /readyz, /metrics, /logs, /containers, "
        "/): off unless http.listen is given.",
    )
    metrics: MetricsSettings = Field(
        default_factory=MetricsSettings,
        description="What /metrics serves (see docs/operators-window.md#metrics).",
    )

    @model_validator(mode="before")
    @classmethod
    def _logspout_variables(cls, data: Any) -> Any:
        """logspout's ``ROUTE_URIS`` adds its routes to the destinations; its syslog adapter's
        ``SYSLOG_*`` variables fill what the settings leave unsaid (see :func:`logspout`)."""
        return logspout(data, os.environ) if isinstance(data, dict) else data

    @model_validator(mode="before")
    @classmethod
    def _docker_context(cls, data: Any) -> Any:
        """With no docker_host given anywhere (flag, LOGSHIP_DOCKER_HOST, DOCKER_HOST, the
        file), the engine of the docker CLI's context, as ``docker`` itself finds it."""
        if not isinstance(data, dict) or any(data.get(k) for k in _DOCKER_HOST_KEYS):
            return data
        context = docker_context(os.environ, Path.home())
        if context is None:
            return data
        data = {**data, "docker_host": context.host}
        if context.tls_dir is not None:
            # the context's own TLS files, unless TLS is set apart from it
            if not any(k in data for k in _DOCKER_CERT_PATH_KEYS):
                data["docker_cert_path"] = context.tls_dir
            if not any(k in data for k in _DOCKER_TLS_VERIFY_KEYS):
                data["docker_tls_verify"] = True
        return data

    @model_validator(mode="after")
    def _spool_needs_state_dir(self) -> Settings:
        if self.state_dir is None:
            for i, destination in enumerate(self.destinations):
                if destination.spool.enabled:
                    raise ValueError(
                        f"destinations.{i}.spool.enabled needs state_dir (--state-dir, "
                        f"LOGSHIP_STATE_DIR): the disk spool of {destination.describe()!r} "
                        "lives in <state_dir>/spool/"
                    )
        return self

    @field_validator("host_ip")
    @classmethod
    def _host_ip(cls, value: str | None) -> str | None:
        # an Elasticsearch index typing host.ip as ip (install_template) would refuse every
        # document carrying anything else
        if value is not None:
            try:
                return str(ipaddress.ip_address(value.strip()))
            except ValueError:
                raise ValueError(
                    "not an IP address: expected one such as 10.0.0.12 or fd00::12"
                ) from None
        return value

    @field_validator("docker_tls_verify", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return False if value == "" else value  # docker_tls_verify: "" in the file: off

    @field_validator("docker_cert_path")
    @classmethod
    def _docker_cert_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if info.data.get("docker_tls_verify") and _tcp(info.data.get("docker_host")):
            docker_tls_files(value)  # ValueError naming the directory or the file
        return value

    def security_warnings(self) -> list[str]:
        """What in these settings exposes logs or credentials on the network: a tcp://
        engine without TLS, and each destination's own (credentials over plain HTTP,
        tls.verify off). ``run`` logs each at start, ``check`` shows them."""
        warnings = []
        if urlsplit(self.docker_host).scheme in ("tcp", "http") and self.docker_tls() is None:
            warnings.append(
                f"the engine at {redact(self.docker_host)} is reached over plain TCP, without "
                "TLS (docker_tls_verify is off): whoever is on the way reads every log line, "
                "and can command the engine; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH "
                "(dockerd --tlsverify, port 2376)"
            )
        for i, destination in enumerate(self.destinations):
            warnings += [
                f"destination {i} {destination.describe()}: {warning}"
                for warning in destination.security_warnings()
            ]
        return warnings

    def docker_tls(self) -> DockerTlsFiles | None:
        """The PEM files for TLS to a tcp:// engine; None when docker_tls_verify is off."""
        if not self.docker_tls_verify or not _tcp(self.docker_host):
            return None
        return docker_tls_files(self.docker_cert_path)

    @field_validator("destinations", mode="before")
    @classmethod
    def _destinations(cls, value: object) -> object:
        if isinstance(value, str):
            value = _split_uris(value)
        if isinstance(value, list):
            return [parse_destination_uri(v) if isinstance(v, str) else v for v in value]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, _EnvSource(settings_cls)]
        path = _config_file.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        # `http: 9880` is made `http: {listen: "9880"}` in every source before they are merged,
        # so that LOGSHIP_HTTP__TOKEN_FILE or --http-token-file adds to it instead of
        # replacing it
        return tuple(_HttpShorthand(source) for source in sources)


class _EnvSource(EnvSettingsSource):
    """``LOGSHIP_*`` and Docker's own variables, read as they are meant."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value, key, is_complex = super().get_field_value(field, field_name)
        if key.lower() == "docker_tls_verify" and value is not None:
            # the docker CLI's meaning: any value but the empty one turns verification on,
            # DOCKER_TLS_VERIFY=0 and =false included (LOGSHIP_DOCKER_TLS_VERIFY is a bool)
            value = "true" if value else "false"
        return value, key, is_complex

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        if field_name == "http" and isinstance(value, str) and not value.lstrip().startswith("{"):
            # LOGSHIP_HTTP=[ADDR:]PORT, with LOGSHIP_HTTP__TOKEN_FILE=... and the like beside it
            nested = self.explode_env_vars(field_name, field, self.env_vars)
            return {**nested, "listen": value}
        return super().prepare_field_value(field_name, field, value, value_is_complex)


class _HttpShorthand(PydanticBaseSettingsSource):
    """A source whose ``http: [ADDR:]PORT`` becomes ``http: {listen: ...}``."""

    def __init__(self, source: PydanticBaseSettingsSource) -> None:
        super().__init__(source.settings_cls)
        self.source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.source.get_field_value(field, field_name)

    def _set_current_state(self, state: dict[str, Any]) -> None:
        super()._set_current_state(state)
        self.source._set_current_state(state)

    def _set_settings_sources_data(self, states: dict[str, dict[str, Any]]) -> None:
        super()._set_settings_sources_data(states)
        self.source._set_settings_sources_data(states)

    def __call__(self) -> dict[str, Any]:
        data = self.source()
        http = data.get("http")
        if isinstance(http, str | int) and not isinstance(http, bool):
            data = {**data, "http": {"listen": str(http)}}
        return data


# -- logspout's variables --------------------------------------------------------------------

LOGSPOUT_SYSLOG = {  # SYSLOG_* -> the syslog destination option it fills
    "SYSLOG_TAG": "tag",
    "SYSLOG_FORMAT": "format",
    "SYSLOG_STRUCTURED_DATA": "structured_data",
}
# logspout's Go template fields that mean one of Docker's tag placeholders
LOGSPOUT_PLACEHOLDERS = {
    "ContainerName": "{{.Name}}",
    "Container.ID": "{{.FullID}}",
    "Container.Config.Image": "{{.ImageName}}",
    "Hostname": "{{.Hostname}}",
}
LOGSPOUT_FORMATS = ("rfc5424", "rfc3164", "rfc5424micro")
_GO_FIELD = re.compile(r"\{\{\s*\.([\w.]+)\s*\}\}")


def logspout(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """``data`` (the settings as given) with logspout's variables read as logspout reads them:

    - ``ROUTE_URIS``: routes separated by commas, added to the destinations given otherwise;
    - ``SYSLOG_TAG``, ``SYSLOG_FORMAT``, ``SYSLOG_STRUCTURED_DATA``: each syslog destination's
      ``tag``, ``format`` and ``structured_data`` where it does not set them itself;
    - ``SYSLOG_HOSTNAME``: the ``hostname`` setting, where it is not set.

    Our own settings win where both say something. ValueError naming the variable when one
    holds what logship cannot honour (a logspout template field it has no equivalent of).
    """
    routes = env.get("ROUTE_URIS", "").strip()
    defaults = {option: env[name] for name, option in LOGSPOUT_SYSLOG.items() if env.get(name)}
    hostname = env.get("SYSLOG_HOSTNAME", "").strip()
    if not (routes or defaults or hostname):
        return data
    data = dict(data)
    if hostname and data.get("hostname") is None:
        field = _GO_FIELD.fullmatch(hostname)
        if field is not None and field[1] == "Hostname":
            pass  # logspout's host name: logship's default already
        elif "{{" in hostname:
            raise ValueError(
                f"SYSLOG_HOSTNAME={hostname!r}: logship writes one host name for every "
                "container; it takes a fixed name or {{.Hostname}} here, not a template "
                "(logspout's default, the container's own host name, has no equivalent)"
            )
        else:
            data["hostname"] = hostname
    destinations = data.get("destinations") or []
    if isinstance(destinations, str):
        destinations = _split_uris(destinations)
    if routes:
        destinations = [*destinations, *_split_uris(routes)]
    if "tag" in defaults:
        defaults["tag"] = _logspout_tag(defaults["tag"])
    if defaults.get("format", "rfc5424") not in LOGSPOUT_FORMATS:
        raise ValueError(
            f"SYSLOG_FORMAT={defaults['format']!r}: expected rfc5424 or rfc3164, as logspout "
            "takes (or logship's rfc5424micro)"
        )
    if not SD_ELEMENT.fullmatch(defaults.get("structured_data", "-")):
        raise ValueError(  # its value not quoted: it often holds a receiver's token
            "SYSLOG_STRUCTURED_DATA: expected the inside of one structured data element, as "
            'logspout writes it between brackets: an SD-ID, then name="value" pairs '
            'separated by spaces (e.g. TOKEN@41058 tag="web")'
        )
    if defaults:
        destinations = [_syslog_defaults(d, defaults) for d in destinations]
    if destinations:
        data["destinations"] = destinations
    return data


def _logspout_tag(value: str) -> str:
    """SYSLOG_TAG's template in Docker's placeholders; ValueError for a field with none."""
    from logship.protocol.template import FIELDS

    def swap(match: re.Match[str]) -> str:
        field = match.group(1)
        if field in LOGSPOUT_PLACEHOLDERS:
            return LOGSPOUT_PLACEHOLDERS[field]
        if field in FIELDS:
            return match.group(0)  # one of Docker's own
        raise ValueError(
            f"SYSLOG_TAG={value!r}: logship cannot fill {match.group(0)}; it takes logspout's "
            + ", ".join(f"{{{{.{f}}}}}" for f in LOGSPOUT_PLACEHOLDERS)
            + " and Docker's tag placeholders ({{.ID}}, {{.Name}}, {{.ImageName}}, ...)"
        )

    return _GO_FIELD.sub(swap, value)


def _syslog_defaults(destination: object, defaults: Mapping[str, str]) -> object:
    """A syslog destination (URI or block) with ``defaults`` where it says nothing itself."""
    given = destination
    if isinstance(destination, str):
        try:
            given = parse_destination_uri(destination)
        except ValueError:
            return destination  # reported as any bad URI is, by the destinations' validator
    if not isinstance(given, Mapping) or given.get("type") != "syslog":
        return destination
    return {**defaults, **given}


def _split_uris(text: str) -> list[str]:
    """URIs written one after the other (``LOGSHIP_DESTINATIONS``): a space or a comma before
    a scheme separates them (options may hold commas: ``labels=a,b``); a space followed by no
    scheme belongs to the URI before it (a password holding one)."""
    parts = re.split(r"(\s+|,(?=\s*[A-Za-z][A-Za-z0-9+.-]*://))", text.strip())
    uris: list[str] = []
    for i in range(0, len(parts), 2):
        piece = parts[i]
        if uris and piece and not re.match(r",?[A-Za-z][A-Za-z0-9+.-]*://", piece):
            uris[-1] += parts[i - 1] + piece
        elif piece.strip(","):
            uris.append(piece)
    return [uri.strip(",") for uri in uris]


def config_file_from_env() -> Path | None:
    value = os.environ.get("LOGSHIP_CONFIG")
    return Path(value) if value else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from every source; a :class:`ConfigError` that names field and value if bad."""
    path = config_file or config_file_from_env()
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist or is not a file")
        _check_yaml(path)
    token = _config_file.set(path)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path)) from None
    finally:
        _config_file.reset(token)


def _check_yaml(path: Path) -> None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        # where and what, never the line itself: it may hold a password
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {_where(exc)}") from None
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(
            f"config file {str(path)!r} must hold a mapping of settings, not {type(data).__name__}"
        )


def _where(exc: object) -> str:
    """A YAML error's problem and position (line, column), without the snippet of the line."""
    import yaml

    if not isinstance(exc, yaml.MarkedYAMLError):
        return type(exc).__name__
    parts = [p for p in (exc.context, exc.problem) if p]
    mark = exc.problem_mark or exc.context_mark
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{', '.join(parts) or 'cannot be parsed'}{at}"


def format_validation_error(exc: ValidationError, path: Path | None = None) -> str:
    where = f" (config file {str(path)!r}, environment LOGSHIP_*, or command line)" if path else ""
    lines = [f"invalid configuration{where}:"]
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"] if not _is_union_tag(p))
        message = error["msg"].removeprefix("Value error, ")
        value = _masked(error.get("input"))
        # a check over the whole configuration names its fields itself: its input is everything;
        # so does a destination URI that cannot be read (and quotes it only if that is safe)
        got = f" (got {value!r})"
        if error["type"] == "missing" or not loc or error["loc"] == ("destinations",):
            got = ""
        elif re.fullmatch(SECRET_KEY, str(error["loc"][-1])):
            got = " (got ***)"  # a secret given to an option that is not there (shared_key=)
        elif error["loc"][-1] == "user" and isinstance(value, str) and ":" in value:
            got = ""  # user:password given as the user
        elif error["loc"][-1] == "structured_data":
            got = ""  # it often carries a receiver's token (Loggly's)
        lines.append(redact(f"  {loc or 'settings'}: {message}{got}"))
    return "\n".join(lines)


def _masked(value: object) -> object:
    """What a validation error may show of its input: secrets' values replaced by ``***``,
    and a text that may hold credentials (a URI with user:password@) by its scheme alone."""
    if isinstance(value, Mapping):
        return {
            k: "***"
            if re.fullmatch(SECRET_KEY, str(k))
            else v.partition(":")[0] + ":***"  # user:password given as the user
            if k == "user" and isinstance(v, str) and ":" in v
            else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    if isinstance(value, str) and "://" in value and shown(value) != repr(value.strip()):
        return shown(value)
    if isinstance(value, str) and ":" in value.rpartition("@")[0]:
        return value.partition(":")[0] + ":***@" + value.rpartition("@")[2]  # user:password@host
    return value


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and any(part == kind.name for kind in destination_types())


def wants_colour(stream: object) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")
