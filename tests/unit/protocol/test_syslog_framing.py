"""Syslog framing over a byte stream (RFC 6587): a golden table written and read back, without
sockets. The reader here is written from the RFC's ABNF, not from the code under test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logship.errors import LocalProtocolError
from logship.protocol.syslog import (
    Framing,
    SyslogEncoder,
    frame,
    frame_non_transparent,
    frame_octet_counting,
)
from logship.record import Record
from tests.helpers.records import TS, make_meta
from tests.helpers.syslog_wire import parse_rfc5424, read_non_transparent, read_octet_counted

READERS = {"octet-counting": read_octet_counted, "non-transparent": read_non_transparent}


def test_the_octet_reader_rejects_a_count_that_does_not_match_the_bytes() -> None:
    with pytest.raises(ValueError, match="runs past the end"):
        read_octet_counted(b"6 caf\xc3\xa9")  # "café" is 4 characters and 5 bytes
    with pytest.raises(ValueError, match="no MSG-LEN"):
        read_octet_counted(b"4 caf\xc3\xa9")
    with pytest.raises(ValueError, match="no MSG-LEN"):
        read_octet_counted(b"05 hello")  # NONZERO-DIGIT first


# -- the golden table -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    framing: Framing
    messages: list[bytes]
    wire: bytes
    read_back: list[bytes] | None = None  # when the framing changes the message

    @property
    def expected(self) -> list[bytes]:
        return self.messages if self.read_back is None else self.read_back


CAFE = "<30>1 - vm app - - - café".encode()  # 25 characters, 26 bytes
ROCKET = "<30>1 - vm app - - - 🚀 ok".encode()  # 25 characters, 28 bytes

CASES = [
    Case(
        "octet-one", "octet-counting", [b"<30>1 - vm app - - - hi"], b"23 <30>1 - vm app - - - hi"
    ),
    Case(
        "octet-two",
        "octet-counting",
        [b"<30>1 - vm a - - - one", b"<27>1 - vm a - - - two"],
        b"22 <30>1 - vm a - - - one22 <27>1 - vm a - - - two",
    ),
    Case(
        "octet-newlines-kept",
        "octet-counting",
        [b"<30>1 - vm a - - - line 1\nline 2\n", b"<30>1 - vm a - - - next"],
        b"33 <30>1 - vm a - - - line 1\nline 2\n23 <30>1 - vm a - - - next",
    ),
    Case("octet-utf8-2-byte", "octet-counting", [CAFE], b"26 " + CAFE),
    Case("octet-utf8-4-byte", "octet-counting", [ROCKET], b"28 " + ROCKET),
    Case("octet-digits-in-message", "octet-counting", [b"12 34"], b"5 12 34"),
    Case("octet-nothing", "octet-counting", [], b""),
    Case(
        "lf-two",
        "non-transparent",
        [b"<30>1 - vm a - - - one", b"<27>1 - vm a - - - two"],
        b"<30>1 - vm a - - - one\n<27>1 - vm a - - - two\n",
    ),
    Case(
        "lf-newlines-become-spaces",
        "non-transparent",
        [b"<30>1 - vm a - - - line 1\nline 2\n"],
        b"<30>1 - vm a - - - line 1 line 2 \n",
        read_back=[b"<30>1 - vm a - - - line 1 line 2 "],
    ),
    Case("lf-utf8", "non-transparent", [CAFE, ROCKET], CAFE + b"\n" + ROCKET + b"\n"),
    Case("lf-nothing", "non-transparent", [], b""),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_golden_frames_are_written_byte_for_byte(case: Case) -> None:
    assert frame(case.messages, case.framing) == case.wire


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_golden_frames_read_back_as_the_messages_they_carry(case: Case) -> None:
    assert READERS[case.framing](case.wire) == case.expected


def test_the_octet_count_is_bytes_not_characters() -> None:
    message = "<30>1 - vm app - - - naïve 日本".encode()
    assert len(message) - len(message.decode()) == 5  # ï: 1 extra byte, 日 and 本: 2 each
    assert frame_octet_counting([message]) == f"{len(message)} ".encode() + message


def test_octet_counting_is_the_default_framing() -> None:
    assert frame([b"<30>1 - - - - - a\nb"]) == b"19 <30>1 - - - - - a\nb"


@pytest.mark.parametrize("framer", [frame_octet_counting, frame_non_transparent])
def test_an_empty_message_is_a_local_protocol_error_naming_its_place(
    framer: Callable[[list[bytes]], bytes],
) -> None:
    with pytest.raises(LocalProtocolError, match="syslog message 1 is empty"):
        framer([b"<30>1 - - - - - a", b""])


# -- any messages -----------------------------------------------------------------------------

messages = st.lists(st.binary(min_size=1, max_size=300), max_size=20)


@given(messages)
def test_any_messages_come_back_whole_from_octet_counting(batch: list[bytes]) -> None:
    assert read_octet_counted(frame_octet_counting(batch)) == batch


@given(messages)
def test_any_messages_stay_one_message_each_and_keep_their_length_without_octet_counting(
    batch: list[bytes],
) -> None:
    back = read_non_transparent(frame_non_transparent(batch))
    assert [len(m) for m in back] == [len(m) for m in batch]
    assert back == [m.replace(b"\n", b" ") for m in batch]


@given(st.lists(st.text(min_size=1, max_size=100), min_size=1, max_size=10))
def test_encoded_records_with_any_text_come_back_as_valid_rfc5424_messages(
    lines: list[str],
) -> None:
    meta = make_meta()
    encoded = SyslogEncoder().encode([Record(line, "stdout", TS, meta) for line in lines])
    back = read_octet_counted(frame_octet_counting(encoded))
    assert [parse_rfc5424(m)["msg"] for m in back] == lines
