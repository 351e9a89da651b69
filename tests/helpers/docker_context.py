"""A docker CLI configuration directory (``DOCKER_CONFIG``) as ``docker context create`` and
``docker context use`` leave it: ``config.json`` with ``currentContext``, each context's
``contexts/meta/<sha256 of its name>/meta.json``, its TLS files under
``contexts/tls/<sha256>/docker/``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path


def write_context(
    config_dir: Path,
    name: str,
    host: str,
    *,
    tls_dir: Path | None = None,
    skip_tls_verify: bool = False,
    current: bool = False,
) -> None:
    """Context ``name`` for the engine at ``host`` (the files of ``tls_dir`` as its TLS),
    made the current one when ``current``."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / digest
    meta.mkdir(parents=True, exist_ok=True)
    endpoint = {"Host": host, "SkipTLSVerify": skip_tls_verify}
    document = {"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}}
    (meta / "meta.json").write_text(json.dumps(document))
    if tls_dir is not None:
        shutil.copytree(tls_dir, config_dir / "contexts" / "tls" / digest / "docker")
    if current:
        config = config_dir / "config.json"
        data = json.loads(config.read_text()) if config.exists() else {}
        config.write_text(json.dumps({**data, "currentContext": name}))
