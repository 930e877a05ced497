"""Protobuf's wire format, where this server sizes or frames messages by hand.

Two places need it: the inline limit (server/page_bytes.py), which is arithmetic on KFP's
`Visualization` reply, and the progress stream (server/progress/grpc_service.py), which
frames each event's bytes once and shares them among all its watchers.
"""

from __future__ import annotations


def varint(value: int) -> bytes:
    """`value` (not negative) as a protobuf varint: 7 bits a byte, low bits first."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def varint_size(value: int) -> int:
    """Bytes protobuf needs for `value` as a varint."""
    return len(varint(value))


def field_size(length: int) -> int:
    """Bytes a non-empty string field of `length` bytes takes in a protobuf message."""
    return 1 + varint_size(length) + length if length else 0


def length_delimited(tag: bytes, body: bytes) -> bytes:
    """`body` as one length-delimited field whose key byte(s) are `tag`."""
    return tag + varint(len(body)) + body
