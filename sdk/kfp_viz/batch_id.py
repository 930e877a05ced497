"""Which batch of events a publish is: its sender, its number, and the how-manieth try.

A connection can drop after the server took a batch and before its answer arrived; the
sender cannot tell, so it posts the batch again. For the server to take it once, a batch
names its sender (`sender`: random, one per sender, e.g. per HTTP transport), its number
(`sequence`: 1, 2, ... in the order sent, one batch at a time, the same on every try) and
its try (`attempt`: 1, then 2, ...). The server applies a batch's events that its log does
not hold yet and acknowledges the rest (server/progress/dedupe.py).

Wire forms, one place for each:
- HTTP `POST /progress/<run_id>`: the headers SENDER_HEADER, SEQUENCE_HEADER and
  ATTEMPT_HEADER beside the usual body (an event or an array); without them a batch is
  applied as it always was. A server that does not know them ignores them.
- gRPC `PublishProgress`: the request's `sender`, `sequence` and `attempt` fields.
- Kafka: each record published from a batch carries RECORD_HEADER, `SENDER SEQUENCE INDEX`
  (its place in the batch), so any replica, also after a restart, learns from the log
  which batches it holds.

Standard library only: the SDK sends these and the server checks them with this code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .events import InvalidEvent
from .safe_text import printable

SENDER_HEADER = "KFP-Viz-Sender"
SEQUENCE_HEADER = "KFP-Viz-Sequence"
ATTEMPT_HEADER = "KFP-Viz-Attempt"
RECORD_HEADER = "kfpviz-batch"
SENDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_SENDER_RULE = "1 to 64 letters, digits and ._:- starting with a letter or digit"
MAX_SEQUENCE = 2**63 - 1
MAX_ATTEMPT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class BatchId:
    """A checked batch identity."""

    sender: str
    sequence: int
    attempt: int = 1

    @classmethod
    def check(cls, sender: str, sequence: object, attempt: object = 1) -> BatchId | None:
        """The batch's identity, None when it names no sender (a publish as before), or
        InvalidEvent naming what is wrong."""
        if not sender:
            if sequence not in (None, "", 0):
                raise InvalidEvent(f"a batch's sequence needs its sender ({SENDER_HEADER})")
            return None
        if not SENDER.match(sender):
            raise InvalidEvent(f"sender {printable(sender)!r} is not {_SENDER_RULE}")
        return cls(
            sender,
            _whole("sequence", sequence, MAX_SEQUENCE, required=True),
            _whole("attempt", attempt, MAX_ATTEMPT, required=False),
        )

    @classmethod
    def from_headers(cls, header: Callable[[str], str | None]) -> BatchId | None:
        """From an HTTP request's headers (`header(name)`: its value, or None)."""
        return cls.check(
            (header(SENDER_HEADER) or "").strip(),
            (header(SEQUENCE_HEADER) or "").strip(),
            (header(ATTEMPT_HEADER) or "").strip(),
        )

    def http_headers(self) -> dict[str, str]:
        return {
            SENDER_HEADER: self.sender,
            SEQUENCE_HEADER: str(self.sequence),
            ATTEMPT_HEADER: str(self.attempt),
        }

    def record_header(self, index: int) -> tuple[str, bytes]:
        """The Kafka record header of the batch's event at `index`."""
        return RECORD_HEADER, f"{self.sender} {self.sequence} {index}".encode()


def parse_record_header(value: bytes) -> tuple[str, int, int] | None:
    """(sender, sequence, index) from a record's RECORD_HEADER value; None if malformed."""
    try:
        sender, sequence, index = value.decode("ascii").split(" ")
        return sender, int(sequence), int(index)
    except (UnicodeDecodeError, ValueError):
        return None


def _whole(name: str, value: object, limit: int, *, required: bool) -> int:
    """A whole number from 1 to `limit`, given as a number or as decimal text."""
    if value in (None, "", 0) and not required:
        return 1
    if isinstance(value, str) and re.fullmatch(r"\d{1,19}", value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
        raise InvalidEvent(
            f"a batch's {name} must be a whole number from 1 to {limit}; "
            f"got {printable(str(value))!r}"
        )
    return value
