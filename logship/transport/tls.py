"""TLS contexts for destinations, built once from a :class:`TlsConfig`."""

from __future__ import annotations

import ssl

from logship.config.tls import TlsConfig
from logship.errors import ConfigError


def client_context(config: TlsConfig) -> ssl.SSLContext:
    """A client context: TLS 1.2+, the system's CAs or ``ca_file``, optional client cert."""
    try:
        context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if not config.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if config.cert_file is not None:
            context.load_cert_chain(str(config.cert_file), str(config.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot set up TLS from {config!r}: {exc}") from exc
    return context
