"""Where the Docker engine is, as the docker CLI finds it: its TLS files in
``DOCKER_CERT_PATH``, the engine of a docker CLI context (``DOCKER_CONTEXT``, or the
current context of ``~/.docker/config.json``), and an ``ssh://`` engine's user, host and port."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from logship.config.secrets import redact


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


# -- docker CLI contexts ---------------------------------------------------------------------

SSH_FORM = "expected ssh://[USER@]HOST[:PORT]"


@dataclass(frozen=True)
class SshTarget:
    """An engine reached over ssh (``DOCKER_HOST=ssh://[USER@]HOST[:PORT]``): as the docker
    CLI does, ``ssh [-l USER] [-p PORT] HOST -- docker system dial-stdio`` is run for each
    connection, with ssh's own configuration (``~/.ssh/config``, agent, known_hosts)."""

    host: str
    user: str | None = None
    port: int | None = None  # None: ssh's own choice (its config, else 22)

    @classmethod
    def parse(cls, docker_host: str) -> SshTarget:
        """ValueError, quoting the URL without any password, for what ssh cannot be given."""
        said = f"docker_host {redact(docker_host)!r}"
        try:
            url = urlsplit(docker_host)
            port = url.port  # ValueError for a port that is no number or out of range
        except ValueError as exc:
            raise ValueError(f"{said}: {exc}; {SSH_FORM}") from None
        if url.scheme != "ssh":
            raise ValueError(f"{said}: {SSH_FORM}")
        if url.password is not None:
            raise ValueError(
                f"{said}: a password in the URL is not supported (as with the docker CLI): "
                "use a key, through ssh-agent or ~/.ssh/config"
            )
        if not url.hostname:
            raise ValueError(f"{said}: no host; {SSH_FORM}")
        if url.path not in ("", "/") or url.query or url.fragment:
            raise ValueError(f"{said}: nothing may follow the host; {SSH_FORM}")
        if url.hostname.startswith("-") or (url.username or "").startswith("-"):
            raise ValueError(f"{said}: a host or user cannot begin with '-'")
        return cls(host=url.hostname, user=url.username or None, port=port)

    def argv(self, ssh: str = "ssh") -> list[str]:
        """The command that joins one connection to the engine, as the docker CLI runs it
        (no prompt: an agent has no one to answer it)."""
        args = [ssh, "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-T"]
        if self.user is not None:
            args += ["-l", self.user]
        if self.port is not None:
            args += ["-p", str(self.port)]
        return [*args, "--", self.host, "docker", "system", "dial-stdio"]

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"ssh://{user}{host}{port}"


@dataclass(frozen=True)
class DockerContext:
    """The engine a docker CLI context names (``docker context use NAME``)."""

    name: str
    origin: str  # where the name came from: DOCKER_CONTEXT, or the config file's currentContext
    host: str  # Endpoints.docker.Host: unix:///path, tcp://host:port or ssh://user@host:port
    tls_dir: Path | None  # ca.pem, cert.pem, key.pem given to the context; None: no TLS


def docker_context(env: Mapping[str, str], home: Path) -> DockerContext | None:
    """The context the docker CLI would use when no DOCKER_HOST is given: ``DOCKER_CONTEXT``,
    else ``currentContext`` in ``config.json`` (in ``DOCKER_CONFIG``, default ``~/.docker``).
    None for the ``default`` context (the local socket) or none chosen. ValueError, naming the
    context and the file, for a context that cannot be used."""
    config_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    name, origin = env.get("DOCKER_CONTEXT", ""), "DOCKER_CONTEXT"
    if not name:
        config = config_dir / "config.json"
        name, origin = _current_context(config), f"currentContext in {str(config)!r}"
    if not name or name == "default":
        return None
    digest = hashlib.sha256(name.encode()).hexdigest()  # the docker CLI's directory names
    meta = config_dir / "contexts" / "meta" / digest / "meta.json"
    said = f"docker context {name!r} ({origin})"
    try:
        endpoint = json.loads(meta.read_text())["Endpoints"]["docker"]
        host = endpoint["Host"]
    except FileNotFoundError:
        raise ValueError(
            f"{said} does not exist: no {str(meta)!r}; `docker context ls` lists them"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{said}: cannot read Endpoints.docker.Host from {str(meta)!r}: {type(exc).__name__}"
        ) from None
    if not isinstance(host, str) or not host:
        raise ValueError(f"{said}: {str(meta)!r} names no engine (Endpoints.docker.Host)")
    scheme = host.partition("://")[0]
    if scheme == "ssh":
        try:
            SshTarget.parse(host)
        except ValueError as exc:
            raise ValueError(f"{said}: {exc}") from None
    elif scheme not in ("unix", "tcp"):
        raise ValueError(f"{said}: engine {redact(host)!r}: expected unix://, tcp:// or ssh://")
    tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
    has_tls = any((tls_dir / n).is_file() for n in ("ca.pem", "cert.pem", "key.pem"))
    if endpoint.get("SkipTLSVerify") and scheme == "tcp":
        raise ValueError(
            f"{said} skips checking the engine's certificate (SkipTLSVerify), which logship "
            "never does: give the context the engine's CA (docker context update "
            f"{name} --docker 'host={redact(host)},ca=CA.pem,cert=CERT.pem,key=KEY.pem') or set "
            "DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH"
        )
    return DockerContext(name, origin, host, tls_dir if has_tls and scheme == "tcp" else None)


def _current_context(config: Path) -> str:
    try:
        data = json.loads(config.read_text())
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as exc:  # never the file's text: it may hold credentials
        raise ValueError(f"{str(config)!r} cannot be read as JSON: {exc}") from None
    name = data.get("currentContext", "") if isinstance(data, dict) else ""
    if isinstance(name, str):
        return name
    raise ValueError(f"{str(config)!r}: currentContext must be a context's name")
