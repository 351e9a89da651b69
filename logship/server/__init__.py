"""The operator's window: an HTTP server inside the agent (``logship run --http [ADDR:]PORT``).

``/healthz`` and ``/readyz`` for probes, ``/metrics`` for Prometheus, ``/logs`` for the live
stream (curl or the page at ``/``), ``/containers`` for what is followed. Importing this package
is cheap; :mod:`logship.server.app` (aiohttp.web, prometheus-client) is imported only when the
server is switched on.
"""
