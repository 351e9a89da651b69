"""The Elasticsearch index template logship can install at start (``install_template``), and
how to read the answer to ``GET _index_template/<name>``. No I/O.

Elastic's own ``logs`` template (``logs-*-*``, priority 100) types ``message`` as
``match_only_text`` and ``host.ip`` as ``ip``; an index of logship's own, or a data stream on a
cluster without that template, would get dynamic mappings instead (``host.ip`` as text, where
range and CIDR queries do not work). This template gives logship's fields their types on every
data stream or index it writes to, with a priority above the built-in one, so it wins for
those names only (its ``index_patterns`` are the exact data stream names, not a wildcard).
For a data stream it is composed of the components Elastic's ``logs`` template is built from
(its lifecycle, settings and ECS mappings), where the cluster has them.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

# what Elastic's logs template is composed of; missing ones are skipped (an older cluster)
LOGS_COMPONENTS = ("logs@mappings", "logs@settings", "ecs@mappings")
_DIRECTIVE = re.compile(r"%.")

_KEYWORD = {"type": "keyword", "ignore_above": 1024}


def _keywords(*names: str) -> dict[str, Any]:
    return {name: _KEYWORD for name in names}


def template_patterns(
    *, data_streams: list[str] | None = None, index: str | None = None
) -> list[str]:
    """The ``index_patterns`` covering the data streams by name, or an index pattern with its
    date placeholders as wildcards (``logship-%Y.%m.%d`` -> ``logship-*.*.*``)."""
    if data_streams is not None:
        return sorted(data_streams)
    assert index is not None
    return [_DIRECTIVE.sub("*", index)]


def index_template(patterns: list[str], *, data_stream: bool, priority: int) -> dict[str, Any]:
    """The body of ``PUT _index_template/<name>``."""
    properties: dict[str, Any] = {
        # Docker's nanoseconds kept, so lines of one millisecond sort as written
        "@timestamp": {"type": "date_nanos"},
        "message": {"type": "match_only_text"},
        "stream": _KEYWORD,
        "log": {"properties": _keywords("iostream", "level")},
        "host": {"properties": {"ip": {"type": "ip"}, "name": _KEYWORD}},
        "container": {
            "properties": {
                **_keywords("id", "name", "runtime"),
                "image": {"properties": _keywords("name", "tag")},
            }
        },
        "kubernetes": {
            "properties": {
                "namespace": _KEYWORD,
                "pod": {"properties": _keywords("name", "uid")},
                "container": {"properties": {"name": _KEYWORD, "restart_count": {"type": "long"}}},
            }
        },
        "ecs": {"properties": _keywords("version")},
        "agent": {"properties": _keywords("type", "version", "id")},
        "event": {"properties": _keywords("dataset")},
    }
    body: dict[str, Any] = {"index_patterns": patterns, "priority": priority}
    if data_stream:
        properties["data_stream"] = {
            "properties": {
                name: {"type": "constant_keyword"} for name in ("type", "dataset", "namespace")
            }
        }
        body["data_stream"] = {}
        body["composed_of"] = list(LOGS_COMPONENTS)
        body["ignore_missing_component_templates"] = list(LOGS_COMPONENTS)
    body["template"] = {"mappings": {"properties": properties}}
    body["_meta"] = {
        "managed_by": "logship",
        "description": "logship's fields typed (host.ip as ip, message as match_only_text); "
        "replaced at each start of logship with install_template",
    }
    return body


def found_template(body: bytes, name: str) -> dict[str, Any] | None:
    """The template named ``name`` in the answer to ``GET _index_template/<name>``; None when
    the answer does not hold it."""
    try:
        doc = orjson.loads(body)
        for entry in doc["index_templates"]:
            if entry.get("name") == name and isinstance(entry.get("index_template"), dict):
                template: dict[str, Any] = entry["index_template"]
                return template
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    return None
