"""The image's HEALTHCHECK: GET /healthz on logship's own HTTP server, exit 0 if it answers 200.

The address is LOGSHIP_HTTP's, as logship reads it (``PORT``, ``:PORT``, ``ADDR:PORT``,
``[V6]:PORT``); a wildcard address (``0.0.0.0``, ``::``) is asked on loopback. Only the
standard library: the image has no curl.
"""

import os
import sys
import urllib.request


def url(setting: str) -> str:
    host, _, port = setting.strip().rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "*"):  # a wildcard: ask on loopback
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def main() -> int:
    setting = os.environ.get("LOGSHIP_HTTP", "")
    if not setting:
        print(
            "healthcheck: LOGSHIP_HTTP is not set, so logship serves no /healthz", file=sys.stderr
        )
        return 1
    try:
        with urllib.request.urlopen(url(setting), timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:  # URLError, HTTPError (5xx), refused, timed out
        print(f"healthcheck: {url(setting)}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
