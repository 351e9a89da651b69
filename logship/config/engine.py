"""The Docker engine's TLS files, as the docker CLI finds them in ``DOCKER_CERT_PATH``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DockerTlsFiles:
    """TLS towards the engine, as the docker CLI finds it in DOCKER_CERT_PATH."""

    ca_file: Path | None  # None: the system's CAs
    cert_file: Path | None  # with key_file: the client certificate dockerd --tlsverify asks for
    key_file: Path | None


def docker_tls_files(cert_path: Path | None) -> DockerTlsFiles:
    """The docker CLI's TLS files: ca.pem, cert.pem, key.pem in DOCKER_CERT_PATH (default
    ~/.docker), each used when it exists; ValueError for a missing directory or half a pair."""
    directory = cert_path or Path.home() / ".docker"
    if cert_path is not None and not directory.is_dir():
        raise ValueError(f"docker_cert_path {str(directory)!r} is not a directory")
    ca, cert, key = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    if cert.is_file() != key.is_file():
        have, missing = (cert, key) if cert.is_file() else (key, cert)
        raise ValueError(
            f"{str(directory)!r} has {have.name} but no {missing.name}; "
            "a client certificate needs both"
        )
    return DockerTlsFiles(
        ca_file=ca if ca.is_file() else None,
        cert_file=cert if cert.is_file() else None,
        key_file=key if key.is_file() else None,
    )
