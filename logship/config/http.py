"""The operator's window's options: where it listens, who may read the logs through it, and how
many readers it takes. ``http: 9880`` is short for ``http: {listen: "9880"}``."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from logship.config.address import parse_listen_address
from logship.config.secrets import read_secret_file


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, any of 127/8, ``::1`` and ``localhost``: only this machine reaches it."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpSettings(BaseModel):
    """The operator's window (/healthz, /readyz, /metrics, /logs, /containers, /)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field(
        description="Serve the operator's window on [ADDR:]PORT; PORT alone binds 127.0.0.1. "
        "The server is off unless this is given; `http: PORT` (LOGSHIP_HTTP, --http) is short "
        "for it.",
        examples=["9880", "0.0.0.0:9880", "[::1]:9880"],
    )
    token_file: Path | None = Field(
        default=None,
        description="A file holding the token (its first line) that /logs, /containers and "
        "the page's data require as `Authorization: Bearer TOKEN`. Without it they are served "
        "only on a loopback address; elsewhere they answer 403. /healthz, /readyz and "
        "/metrics never need it.",
        examples=["/etc/logship/http-token"],
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="On a loopback address, the Host names requests may carry besides "
        "localhost and loopback addresses (any other Host is refused with 421, against DNS "
        "rebinding); a port is allowed with each.",
        examples=[["logship.internal"]],
    )
    max_log_readers: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="Readers of /logs at once; one more is answered 503.",
    )
    max_log_readers_per_client: int = Field(
        default=4,
        ge=1,
        description="Readers of /logs at once from one client address; one more is answered "
        "429 (clients behind one proxy or port-forward share it).",
    )
    log_reader_timeout_secs: float = Field(
        default=30.0,
        gt=0,
        description="A reader of /logs that takes none of what is written to it for this long "
        "is disconnected, and its place freed; so is a connection that sends no complete "
        "request for this long (or none after its last).",
    )
    _token: SecretStr | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return {"listen": str(value)}
        if isinstance(value, dict) and "listen" not in value:
            raise ValueError(
                "the operator's window needs its address: --http [ADDR:]PORT "
                "(LOGSHIP_HTTP, or http.listen in the file)"
            )
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen_address(value)  # ValueError naming what was given and what is expected
        return value

    @field_validator("token_file")
    @classmethod
    def _token_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            _read_token(value)  # the error names the file, never what it holds
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, value: list[str]) -> list[str]:
        hosts = []
        for given in value:
            host = given.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
            if not host or any(c in host for c in "/@?#") or any(c.isspace() for c in host):
                raise ValueError(f"{given!r}: expected a host name, e.g. logship.internal")
            if ":" in host and not _is_ip(host):
                raise ValueError(f"{given!r}: expected a host name without a port")
            hosts.append(host)
        return hosts

    @model_validator(mode="after")
    def _read(self) -> HttpSettings:
        if self.token_file is not None:
            self._token = _read_token(self.token_file)
        return self

    @property
    def token(self) -> SecretStr | None:
        """The token /logs, /containers and the page's data require; None without token_file."""
        return self._token

    @property
    def host(self) -> str:
        return parse_listen_address(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen_address(self.listen)[1]

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the server (what serving logs without a token
        needs)."""
        return is_loopback(self.host)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _read_token(path: Path) -> SecretStr:
    token = read_secret_file(path, "token_file")
    if not all(c.isascii() and c.isprintable() and c != " " for c in token.get_secret_value()):
        raise ValueError(
            f"token_file {str(path)!r} holds spaces, control or non-ASCII characters; expected "
            "one line a header can carry (e.g. from `openssl rand -hex 32`)"
        )
    return token
