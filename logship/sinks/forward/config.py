"""``forward://HOST:PORT``, ``forward+tls://HOST:PORT``: Fluentd's forward protocol (v1), to
Fluentd's in_forward, Fluent Bit's forward input, or anything else that speaks it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from logship.config.destination import NetworkDestinationConfig
from logship.config.secrets import read_secret_env, read_secret_file
from logship.config.tls import TlsConfig
from logship.config.values import comma_list
from logship.sinks.common import DockerTag


class ForwardConfig(NetworkDestinationConfig):
    type: Literal["forward"] = "forward"
    transport: Literal["tcp", "tls"] = Field(
        default="tcp",
        description="tcp (forward://) or tls (forward+tls://, checked with the tls.* options).",
    )
    port: int = Field(default=24224, ge=1, le=65535, description="Receiver port.")
    tag: DockerTag = Field(
        default="{{.ID}}",
        description="Fluentd tag, Docker's tag template: {{.ID}} {{.FullID}} {{.Name}} "
        "{{.ImageID}} {{.ImageFullID}} {{.ImageName}} {{.DaemonName}} {{.Hostname}} "
        "{{.Command}}. The default is that of Docker's fluentd driver.",
        examples=["docker.{{.Name}}"],
    )
    labels: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        default_factory=list,
        description="Container labels to add to each record as top-level keys, by name, as "
        "Docker's fluentd driver does with --log-opt labels=.",
        examples=[["app", "com.example.team"]],
    )
    env: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        default_factory=list,
        description="Container environment variables to add to each record as top-level keys, "
        "by name (Docker's --log-opt env=); a variable wins over a label of the same name.",
        examples=[["APP_ENV"]],
    )
    ack: bool = Field(
        default=False,
        description="Ask the server to acknowledge each message (the chunk option) and send "
        "again what was not acknowledged: at-least-once delivery. Off by default, as in "
        "Fluentd's out_forward (require_ack_response) and Docker's fluentd driver.",
    )
    ack_timeout_secs: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="With ack: how long a batch may take from its first byte written to its "
        "last acknowledgement; after that the connection is dropped and the batch sent again.",
    )
    shared_key_file: Path | None = Field(
        default=None,
        description="File holding the shared key of the server's <security> section, for the "
        "HELO/PING/PONG handshake (whitespace around it, like a final newline, is ignored).",
        examples=["/etc/logship/fluentd.key"],
    )
    shared_key_env: str | None = Field(
        default=None,
        description="Name of an environment variable holding the shared key (instead of "
        "shared_key_file).",
        examples=["FLUENTD_SHARED_KEY"],
    )
    self_hostname: str | None = Field(
        default=None,
        description="Host name sent in the handshake's PING (default: this machine's host "
        "name, as Fluentd's out_forward).",
    )
    compress: Literal["none", "gzip"] = Field(
        default="none",
        description="gzip: send CompressedPackedForward messages (Fluentd's compress gzip).",
    )
    time_as_integer: bool = Field(
        default=False,
        description="Send whole seconds instead of EventTime with nanoseconds, for Fluentd "
        "v0.12 and other receivers that predate the v1 protocol.",
    )
    max_message_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="A batch is split into messages of at most this many bytes of events "
        "(one record larger than this is sent alone). Fluent Bit's forward input refuses "
        "messages above its buffer_max_size (6144000 by default).",
    )
    tls: TlsConfig = Field(
        default_factory=TlsConfig,
        description="TLS options of forward+tls:// (tls.ca_file=..., tls.verify=... in a URI).",
    )

    _shared_key: bytes | None = PrivateAttr(default=None)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: list[str]) -> list[str]:
        if value in (["all"], ["none"]):
            raise ValueError(
                f"labels={value[0]!r}: forward takes label names, as Docker's fluentd driver "
                "does (labels=app,com.example.team); each becomes a top-level key"
            )
        return value

    # the key is read when the configuration is, so that a key that cannot be read stops
    # logship at startup (exit 2), naming the option
    @field_validator("shared_key_file")
    @classmethod
    def _key_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            _read_key_file(value)
        return value

    @field_validator("shared_key_env")
    @classmethod
    def _key_env(cls, value: str | None) -> str | None:
        if value is not None:
            _read_key_env(value)
        return value

    @model_validator(mode="after")
    def _shared_key_and_tls(self) -> ForwardConfig:
        if self.shared_key_file is not None and self.shared_key_env is not None:
            raise ValueError("give shared_key_file or shared_key_env, not both")
        if self.shared_key_file is not None:
            self._shared_key = _read_key_file(self.shared_key_file)
        elif self.shared_key_env is not None:
            self._shared_key = _read_key_env(self.shared_key_env)
        elif self.self_hostname is not None:
            raise ValueError(
                "self_hostname is only sent in the shared-key handshake: "
                "give shared_key_file or shared_key_env too"
            )
        if self.transport == "tcp" and "tls" in self.model_fields_set:
            raise ValueError("tls.* options need transport tls (forward+tls://HOST:PORT)")
        return self

    @property
    def shared_key(self) -> bytes | None:
        """The key read from shared_key_file or shared_key_env, if one was given."""
        return self._shared_key

    def describe(self) -> str:
        scheme = "forward" if self.transport == "tcp" else "forward+tls"
        return self.name or f"{scheme}://{self.host}:{self.port}"


def _read_key_file(path: Path) -> bytes:
    return read_secret_file(path, "shared_key_file").get_secret_value().strip().encode()


def _read_key_env(name: str) -> bytes:
    return read_secret_env(name, "shared_key_env").get_secret_value().strip().encode()
