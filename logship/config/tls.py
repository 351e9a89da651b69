"""TLS options towards a destination (the contexts are built in :mod:`logship.transport.tls`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from logship.config.values import readable_file


class TlsConfig(BaseModel):
    """TLS towards a destination. Verification is on unless turned off explicitly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verify: bool = Field(
        default=True,
        description="Check the server's certificate and name. Turn off only for tests.",
    )
    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CAs to trust (default: the system's).",
        examples=["/etc/logship/ca.pem"],
    )
    cert_file: Path | None = Field(
        default=None, description="Client certificate (PEM), for receivers that ask for one."
    )
    key_file: Path | None = Field(default=None, description="Private key of cert_file (PEM).")
    server_name: str | None = Field(
        default=None,
        description="Name to verify in the server's certificate and send as SNI "
        "(default: the destination's host).",
    )

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, value: Path | None) -> Path | None:
        return readable_file(value, "CA file")

    @field_validator("cert_file")
    @classmethod
    def _cert(cls, value: Path | None) -> Path | None:
        return readable_file(value, "certificate file")

    @field_validator("key_file")
    @classmethod
    def _key(cls, value: Path | None) -> Path | None:
        return readable_file(value, "key file")

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")
        return self
