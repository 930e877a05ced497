"""CRC-32C benchmark: prints figures, never passes or fails.

Before: CRC-32C computed by a table loop in Python (what kernels/tfrecord.py did, and
what kafka-python falls back to without the `crc32c` package, which is why the server
had turned Kafka's CRC checks off). After: the `crc32c` package's native code, which
kernels/tfrecord.py and kafka-python now use.

Two figures, each the median of several runs:
- CRC-32C of 1 MiB (TFRecord framing of a TFDV/TFMA file checks every record);
- consuming 1 MiB of progress events from Kafka record batches (kafka-python's
  DefaultRecordBatch, as the live hub's consumer reads them): parse every record, without
  the CRC check (check_crcs=False), and with it in pure Python and natively. The record
  batches are built in memory, so no broker is needed and the figure is the consumer's
  own CPU time.

Usage: python bench/crc_bench.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import crc32c
from kafka.record import _crc32c as kafka_pure_python
from kafka.record import default_records
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

MIB = 2**20
EVENTS_PER_BATCH = 500


def table_loop_crc32c() -> Callable[[bytes], int]:
    """The pure-Python CRC-32C kernels/tfrecord.py had: a 256-entry table, one byte a turn."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)

    def crc(data: bytes) -> int:
        value = 0xFFFFFFFF
        for byte in data:
            value = table[(value ^ byte) & 0xFF] ^ (value >> 8)
        return value ^ 0xFFFFFFFF

    return crc


def median_ms(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def event_batches(total: int) -> list[bytes]:
    """Record batches of progress events, about `total` bytes in all."""
    batches: list[bytes] = []
    size = 0
    offset = 0
    while size < total:
        builder = DefaultRecordBatchBuilder(
            magic=2, compression_type=0, is_transactional=False,
            producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=2**22,
        )  # fmt: skip
        for _ in range(EVENTS_PER_BATCH):
            event = {"run": "run-1", "step": "train", "kind": "metric", "name": "loss",
                     "value": 0.25, "seq": offset}  # fmt: skip
            builder.append(
                offset, int(time.time() * 1000), b"run-1", json.dumps(event).encode(), []
            )
            offset += 1
        batch = bytes(builder.build())
        batches.append(batch)
        size += len(batch)
    return batches


def consume(batches: list[bytes], check_crc: Callable[[memoryview], int] | None) -> int:
    """Read every record of every batch as the consumer does, checking CRCs with `check_crc`."""
    records = 0
    for raw in batches:
        batch = DefaultRecordBatch(raw)
        if check_crc is not None:
            with_crc = default_records.calc_crc32c
            default_records.calc_crc32c = check_crc
            try:
                assert batch.validate_crc()
            finally:
                default_records.calc_crc32c = with_crc
        for record in batch:
            records += record.value is not None
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    data = os.urandom(MIB)
    loop = table_loop_crc32c()
    assert loop(data) == crc32c.crc32c(data) == kafka_pure_python.crc(data)
    print(f"CRC-32C of 1 MiB, median of {runs} runs (crc32c {crc32c.__version__}, "
          f"hardware: {crc32c.hardware_based})")  # fmt: skip
    print(f"  before, table loop in Python:   {median_ms(lambda: loop(data), runs):9.2f} ms")
    native_ms = median_ms(lambda: crc32c.crc32c(data), runs)
    print(f"  after, crc32c package (native): {native_ms:9.3f} ms")

    batches = event_batches(MIB)
    events = consume(batches, None)
    size = sum(map(len, batches)) / MIB
    print(f"Consuming {size:.2f} MiB of Kafka record batches ({events} progress events), "
          f"median of {runs} runs")  # fmt: skip
    cases = [
        ("before, check_crcs=False", None),
        ("pure-Python CRC check", kafka_pure_python.crc),
        ("after, native CRC check", crc32c.crc32c),
    ]
    for label, check in cases:
        ms = median_ms(lambda check=check: consume(batches, check), runs)
        print(f"  {label + ':':33}{ms:9.2f} ms")


if __name__ == "__main__":
    main()
