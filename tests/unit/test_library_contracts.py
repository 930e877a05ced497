"""Private parts of libraries the server relies on, pinned against the installed versions.

Each dependency whose private API the code uses has an upper version bound in setup.cfg
that names the API and the test pinning it (this file, or the one the comment names).
Before a bound is raised, these tests say whether the new version still keeps the contract.
"""

from __future__ import annotations

from typing import ClassVar

import crc32c
import tornado.testing
import tornado.web
from kafka import KafkaConsumer
from kafka.record import util as kafka_record_util
from kfp_viz_server.http_limits import LingeringRefusal
from kfp_viz_server.progress.kafka_source import BATCHED_FETCH, EAGER_FETCH, FetchPacing


class Reporting(LingeringRefusal):
    seen: ClassVar[list[object]] = []

    def post(self) -> None:
        self.seen.append(self._finished)
        self.set_status(413, reason="Body too large: 9 bytes over 8")
        self.seen.append(self._reason)
        self.finish()
        self.seen.append(self._finished)


class TornadoContract(tornado.testing.AsyncHTTPTestCase):
    """LingeringRefusal (server/http_limits.py) reads RequestHandler._finished and _reason."""

    def get_app(self) -> tornado.web.Application:
        return tornado.web.Application([("/", Reporting)])

    def test_handlers_keep_whether_they_finished_and_the_reason_they_set(self) -> None:
        reply = self.fetch("/", method="POST", body="x")
        assert (reply.code, reply.reason) == (413, "Body too large: 9 bytes over 8")
        assert Reporting.seen == [False, "Body too large: 9 bytes over 8", True]


def test_kafka_pythons_fetcher_config_is_a_live_dict_fetch_pacing_can_change():
    """FetchPacing (server/progress/kafka_source.py) changes KafkaConsumer._fetcher.config;
    tests/integration/test_progress_kafka.py proves the change reaches a real broker."""
    consumer = KafkaConsumer(
        bootstrap_servers="127.0.0.1:9", api_version=(2, 6), client_id="contract", **BATCHED_FETCH
    )
    try:
        config = consumer._fetcher.config
        assert isinstance(config, dict)
        assert {key: config[key] for key in BATCHED_FETCH} == BATCHED_FETCH
        FetchPacing(consumer)  # a quiet topic: eager fetches
        assert {key: config[key] for key in EAGER_FETCH} == EAGER_FETCH
    finally:
        consumer.close()


def test_kafka_python_checks_crcs_with_the_native_crc32c_package():
    """With `crc32c` installed kafka-python checks record batches natively, which is why the
    consumer keeps check_crcs on (bench/crc_bench.py)."""
    assert kafka_record_util.calc_crc32c.__defaults__ == (crc32c.crc32c,)
    assert kafka_record_util.calc_crc32c(memoryview(b"123456789")) == 0xE3069283
