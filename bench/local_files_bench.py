"""Local sources read through the server (kernels/file_access.py) against reading them in place.

Prints figures, never passes or fails. Since kernels hold no right to any data folder, each
local file a built-in type reads is listed and opened by the server and its descriptor passed
back over a Unix socket. This measures what that costs a kernel, on files in a temporary
folder: opening and reading small files one by one, listing a pattern over many files, and
reading one large file (its bytes never cross the socket). The broker runs on an event loop in
a thread of this process, as it runs in the server's; "in place" is the same code
(kernels/local_files.py) called directly, as a kernel without a server would. Each figure is
the median of `--runs` runs.

Usage: python bench/local_files_bench.py [--runs 5] [--files 2000] [--large-mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kfp_viz_kernels import file_access, local_files
from kfp_viz_kernels.file_broker import FileBroker
from kfp_viz_kernels.source_policy import SourcePolicy


def timed(work: Callable[[], object], runs: int) -> float:
    """Median seconds of `runs` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_all(opener: Callable[[str], int], paths: list[str]) -> int:
    total = 0
    for path in paths:
        with os.fdopen(opener(path), "rb") as file:
            total += len(file.read())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--large-mb", type=int, default=200)
    args = parser.parse_args()
    policy = SourcePolicy()
    with tempfile.TemporaryDirectory(prefix="kfp-viz-files-") as folder:
        data = Path(folder) / "data"
        data.mkdir()
        for index in range(args.files):
            (data / f"part-{index:05d}.csv").write_text(f"a,b\n{index},{index * 2}\n")
        large = data / "large.bin"
        with open(large, "wb") as file:
            for _ in range(args.large_mb):
                file.write(os.urandom(2**20))
        small = sorted(str(p) for p in data.glob("part-*.csv"))
        pattern = str(data / "part-*.csv")

        loop = asyncio.new_event_loop()
        broker = FileBroker(policy)
        server = loop.run_until_complete(broker.listen(str(Path(folder) / "files.sock")))
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        os.environ[file_access.ACCESS_VARIABLE] = str(Path(folder) / "files.sock")
        in_place = lambda path: local_files.open_file(path, policy, "")  # noqa: E731
        try:
            rows = [
                ("open + read, per small file",
                 timed(lambda: read_all(in_place, small), args.runs) / len(small),
                 timed(lambda: read_all(file_access.open_file, small), args.runs) / len(small)),
                (f"list {args.files:,} files (one pattern)",
                 timed(lambda: local_files.match(pattern, policy, ""), args.runs),
                 timed(lambda: file_access.match(pattern), args.runs)),
                (f"read one {args.large_mb} MB file",
                 timed(lambda: read_all(in_place, [str(large)]), args.runs),
                 timed(lambda: read_all(file_access.open_file, [str(large)]), args.runs)),
            ]  # fmt: skip
        finally:
            loop.call_soon_threadsafe(server.close)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            broker.close()
    print(f"medians of {args.runs} runs; load average {os.getloadavg()[0]:.1f}")
    print(f"{'':42} {'in place':>12} {'through server':>15}")
    for name, here, through in rows:
        print(f"{name:42} {here * 1000:10.3f} ms {through * 1000:13.3f} ms")


if __name__ == "__main__":
    main()
