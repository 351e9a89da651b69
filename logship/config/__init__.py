"""Configuration models and helpers that several layers share, below all of them.

What lives here is used by more than one of settings, sources, sinks, pipeline, transport and
the HTTP server: the options every destination has (:mod:`.destination`), destination URIs
(:mod:`.uri`), destination filters (:mod:`.filters`), TLS options (:mod:`.tls`), secret
readers (:mod:`.secrets`), listen addresses (:mod:`.address`), the engine's TLS files
(:mod:`.engine`) and small value parsers (:mod:`.values`). It imports nothing of logship but
:mod:`logship.errors`.
"""
