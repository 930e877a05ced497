"""TFRecord files without TensorFlow: the framing TensorFlow's record writer uses.

Each record is: length (uint64, little-endian), masked CRC-32C of those 8
bytes (uint32), the data, masked CRC-32C of the data (uint32). The mask is
`((crc >> 15) | (crc << 17)) + 0xa282ead8` modulo 2**32. Files may be gzip-
compressed as a whole (TFX writes `.gz` statistics and metrics).
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator

from crc32c import crc32c as _native_crc32c

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum TFRecord uses: the `crc32c` package's native code
    (SSE 4.2 / ARMv8 instructions where the CPU has them): thousands of times faster than
    a table loop in Python, which took over 100 ms per MiB (bench/crc_bench.py)."""
    return _native_crc32c(data)


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


class TFRecordError(ValueError):
    """The bytes are not (or not entirely) TFRecord framing."""


def maybe_gunzip(data: bytes) -> bytes:
    """`data`, decompressed if it is gzip."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def looks_like_tfrecord(data: bytes) -> bool:
    """True if `data` starts with a valid TFRecord header (its length checksum matches)."""
    if len(data) < _HEADER.size + _FOOTER.size:
        return False
    length: int
    length_crc: int
    length, length_crc = _HEADER.unpack_from(data)
    return masked_crc(data[:8]) == length_crc and length <= len(data)


def records(data: bytes, verify_data: bool = True) -> Iterator[bytes]:
    """Every record's data, in order; TFRecordError on a truncated or corrupt record."""
    position = 0
    while position < len(data):
        if len(data) - position < _HEADER.size:
            raise TFRecordError(f"truncated record header at byte {position}")
        length, length_crc = _HEADER.unpack_from(data, position)
        if masked_crc(data[position : position + 8]) != length_crc:
            raise TFRecordError(f"bad length checksum at byte {position}")
        start = position + _HEADER.size
        end = start + length
        if end + _FOOTER.size > len(data):
            raise TFRecordError(f"record at byte {position} runs past the end of the file")
        payload = data[start:end]
        (data_crc,) = _FOOTER.unpack_from(data, end)
        if verify_data and masked_crc(payload) != data_crc:
            raise TFRecordError(f"bad data checksum in the record at byte {position}")
        yield payload
        position = end + _FOOTER.size


def encode(payloads: list[bytes]) -> bytes:
    """TFRecord framing around `payloads` (for writing test data and round trips)."""
    out = bytearray()
    for payload in payloads:
        length = struct.pack("<Q", len(payload))
        out += length + struct.pack("<I", masked_crc(length))
        out += payload + struct.pack("<I", masked_crc(payload))
    return bytes(out)


def complete_records(data: bytes | memoryview, verify_data: bool = True) -> tuple[list[bytes], int]:
    """The records complete in `data` (the start of a file that may still be growing), and
    how many bytes they take: a partly written last record is left for the next read.

    TFRecordError when a complete header's or record's checksum is wrong (not a record
    file, or corrupt).
    """
    out: list[bytes] = []
    position = 0
    size = len(data)
    while size - position >= _HEADER.size:
        length, length_crc = _HEADER.unpack_from(data, position)
        if masked_crc(bytes(data[position : position + 8])) != length_crc:
            raise TFRecordError(f"bad length checksum at byte {position}")
        start = position + _HEADER.size
        end = start + length
        if end + _FOOTER.size > size:
            break  # still being written
        payload = bytes(data[start:end])
        if verify_data and masked_crc(payload) != _FOOTER.unpack_from(data, end)[0]:
            raise TFRecordError(f"bad data checksum in the record at byte {position}")
        out.append(payload)
        position = end + _FOOTER.size
    return out, position
