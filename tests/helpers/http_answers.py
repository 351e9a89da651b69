"""A stand-in for :meth:`HttpTransport.request`: canned answers, and what was asked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from logship.transport.http import HttpResponse, HttpTransport


@dataclass
class Asked:
    method: str
    path: str
    data: bytes | None
    headers: Mapping[str, str] | None


@dataclass
class CannedAnswers:
    """Answers with the given ``(status, body)`` pairs in turn, the last one again when they
    run out, and keeps each request in :attr:`asked`."""

    answers: list[tuple[int, bytes]]
    asked: list[Asked] = field(default_factory=list)

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_answer_bytes: int | None = None,
    ) -> HttpResponse:
        self.asked.append(Asked(method, path, data, headers))
        status, body = self.answers[min(len(self.asked), len(self.answers)) - 1]
        return HttpResponse(status, body, {})


def answer(
    transport: object, monkeypatch: pytest.MonkeyPatch, *answers: int | tuple[int, bytes]
) -> CannedAnswers:
    """Make ``transport`` (an :class:`HttpTransport`) answer each request with the next of
    ``answers``: a status (with the body ``b"nope"`` for an error, else none) or
    ``(status, body)``."""
    assert isinstance(transport, HttpTransport)
    canned = CannedAnswers(
        [a if isinstance(a, tuple) else (a, b"nope" if a >= 300 else b"") for a in answers]
    )
    monkeypatch.setattr(transport, "request", canned)
    return canned
