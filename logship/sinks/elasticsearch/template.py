"""``install_template``: the index template put in place before the first record is sent, and
looked for by ``logship check``.

It is installed before any record, so the data stream it covers is created with it: while the
server does not answer (or answers 429/5xx), records wait, as they would for ``_bulk``. A
server that refuses it for good (a 400, or 403: no ``manage_index_templates`` privilege) is
said once, and records are sent without it: a field typed by a dynamic mapping is better than
a line lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from logship.errors import CheckFailed, DeliveryError
from logship.protocol.bulk import describe_error_body, request_verdict
from logship.protocol.index_template import found_template
from logship.transport.http import HttpResponse

log = logging.getLogger("logship.sink")

Request = Callable[..., Awaitable[HttpResponse]]


class TemplateInstaller:
    """Installs one index template (``PUT <path>/_index_template/<name>``) and checks for it.

    ``request`` is the destination's HTTP request method (its credentials and TLS).
    """

    def __init__(
        self, name: str, body: dict[str, Any], request: Request, *, path: str, sink_name: str
    ) -> None:
        self.name = name
        self.body = orjson.dumps(body)
        self.patterns: list[str] = list(body["index_patterns"])
        self._request = request
        self._path = f"{path}/_index_template/{name}"
        self._sink_name = sink_name
        self.settled = False  # installed, or refused for good (and said)
        self.installed = False

    async def ensure(self) -> None:
        """Install the template unless that is settled; DeliveryError (retriable) when the
        server cannot answer now, so that the records wait."""
        if self.settled:
            return
        try:
            response = await self._request(
                "PUT", self._path, data=self.body, headers={"Content-Type": "application/json"}
            )
        except DeliveryError as exc:
            raise DeliveryError(
                f"index template {self.name!r} not installed yet ({exc}); records wait for it",
                retriable=True,
            ) from None
        status = response.status
        if status == 200:
            self.settled = self.installed = True
            log.info(
                "%s: installed index template %r for %s",
                self._sink_name,
                self.name,
                ", ".join(self.patterns),
            )
            return
        error = describe_error_body(status, response.body)
        if status == 401 or request_verdict(status) == "retry":
            raise DeliveryError(
                f"index template {self.name!r} not installed yet ({error}); records wait for it",
                retriable=True,
            )
        self.settled = True
        hint = ": the user needs the manage_index_templates privilege" if status == 403 else ""
        log.warning(
            "%s: index template %r refused (%s%s); records are sent without it",
            self._sink_name,
            self.name,
            error,
            hint,
        )

    async def check(self) -> str:
        """Whether the template is there and covers the names written to, in a few words;
        CheckFailed when it cannot be looked at."""
        response = await self._request("GET", self._path)
        if response.status == 404:
            return f"index template {self.name!r} not there yet (installed at start)"
        if response.status != 200:
            problem = describe_error_body(response.status, response.body)
            hint = ": the user needs the manage_index_templates privilege"
            raise CheckFailed(
                f"GET _index_template/{self.name} answered {problem}"
                + (hint if response.status == 403 else "")
            )
        template = found_template(response.body, self.name)
        if template is None:
            raise CheckFailed(
                f"GET _index_template/{self.name} did not answer with the template: "
                f"{response.body[:200]!r}"
            )
        if sorted(template.get("index_patterns") or []) != sorted(self.patterns):
            return (
                f"index template {self.name!r} there, for {template.get('index_patterns')} "
                "(replaced at start)"
            )
        return f"index template {self.name!r} there"
