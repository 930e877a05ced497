"""TensorBoard logs as progress (server/progress/tensorboard_source.py): the pattern, the
framing of a growing file, and which summaries are scalars."""

from __future__ import annotations

import pytest
from kfp_viz_kernels.tfrecord import TFRecordError, complete_records, encode
from kfp_viz_server.config import ConfigError, load_config
from kfp_viz_server.progress.tensorboard_source import LogPattern, scalars_of
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary


@pytest.mark.parametrize(
    ("pattern", "key", "found"),
    [
        ("minio://mlpipeline/tb/{run_id}/", "tb/r1/events.out.tfevents.1.h", ("r1", "")),
        ("minio://mlpipeline/tb/{run_id}/**", "tb/r1/train/events.out.tfevents.1", ("r1", "train")),
        ("s3://b/x/{run_id}/logs/", "x/r1/logs/a/b/events.out.tfevents.2", ("r1", "a/b")),
        ("s3://b/x/{run_id}/logs/", "x/r1/other/events.out.tfevents.2", None),
        ("/data/{run_id}", "/data/r1/events.out.tfevents.3", ("r1", "")),
        ("minio://mlpipeline/tb/{run_id}/", "tb/r1/notes.txt", None),
        ("minio://mlpipeline/tb/{run_id}/", "tb/bad run/events.out.tfevents.1", None),
    ],
)
def test_a_found_file_names_its_run_and_its_metrics_prefix(pattern, key, found):
    assert LogPattern.parse(pattern).run_of(key) == found


@pytest.mark.parametrize(
    "value", ["minio://mlpipeline/tb/", "relative/{run_id}", "gs://b/{run_id}"]
)
def test_a_pattern_without_a_run_or_a_known_place_stops_the_start(value):
    with pytest.raises(ConfigError, match="--tensorboard-logs / TENSORBOARD_LOGS"):
        load_config(["--tensorboard-logs", value], {})


def test_minio_logs_without_the_object_store_stop_the_start():
    with pytest.raises(ConfigError, match="OBJECTSTORECONFIG_HOST"):
        load_config(["--tensorboard-logs", "minio://mlpipeline/tb/{run_id}/"], {})
    config = load_config(["--tensorboard-logs", "minio://mlpipeline/tb/{run_id}/"],
                         {"OBJECTSTORECONFIG_HOST": "seaweedfs.kubeflow"})  # fmt: skip
    assert config.tensorboard_logs == "minio://mlpipeline/tb/{run_id}/"


def test_a_partly_written_last_record_is_left_for_the_next_read():
    data = encode([b"one", b"two"])
    assert complete_records(data) == ([b"one", b"two"], len(data))
    assert complete_records(data[:-1]) == ([b"one"], len(encode([b"one"])))
    assert complete_records(data[:5]) == ([], 0)
    with pytest.raises(TFRecordError, match="length checksum"):
        complete_records(b"x" * 20)


def test_scalars_from_simple_values_and_the_scalars_plugins_tensors():
    from tensorboard.util import tensor_util

    plugin = Summary.Value(tag="acc", tensor=tensor_util.make_tensor_proto(0.5))
    plugin.metadata.plugin_data.plugin_name = "scalars"
    image = Summary.Value(tag="img", tensor=tensor_util.make_tensor_proto([1.0, 2.0]))
    image.metadata.plugin_data.plugin_name = "images"
    event = Event(step=3, wall_time=12.5, summary=Summary(value=[
        Summary.Value(tag="loss", simple_value=0.25), plugin, image,
        Summary.Value(tag="nan", simple_value=float("nan")),
    ]))  # fmt: skip
    assert scalars_of(event.SerializeToString(), "train") == (
        3.0, 12.5, {"train/loss": 0.25, "train/acc": 0.5}
    )  # fmt: skip
    assert scalars_of(Event(file_version="brain.Event:2").SerializeToString(), "") is None
    assert scalars_of(b"\xff\xff garbage", "") is None
