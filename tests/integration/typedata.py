"""Real data for the built-in types' tests, written to a folder and uploaded to MinIO.

A logistic regression trained on scikit-learn's bundled breast-cancer dataset
gives the predictions (`roc_curve`, `confusion_matrix`), and a second, weaker
model (two features) the predictions to compare it with; one trained on the iris
dataset gives three-class predictions (a score column per class, as KFP's
predictions CSVs have) and a three-class confusion matrix. The features give the
TFDV statistics, computed here with numpy and stored in tensorflow-metadata's
own messages, for the training and the test split; a seeded generator gives a
100,000-row CSV for `table`. The expected answers (AUCs, confusion counts,
accuracy, classification reports) come from scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from kfp_viz_kernels import tfrecord
from kfp_viz_kernels.tfma_metrics_pb2 import MetricsForSlice
from minio import Minio
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split
from tensorflow_metadata.proto.v0 import statistics_pb2

TABLE_ROWS = 100_000
LABELS = ["malignant", "benign"]
IRIS = ["setosa", "versicolor", "virginica"]


@dataclass
class TypeData:
    """Where the files are and what the types must find in them."""

    root: Path
    auc: float
    accuracy: float
    confusion: dict[tuple[str, str], int]
    features: list[str]
    tfma_accuracy: dict[str, float]
    labels: np.ndarray
    """The breast-cancer test split's labels (1 = benign), and the two models' scores."""
    scores: np.ndarray
    weak_scores: np.ndarray
    iris_labels: np.ndarray
    iris_scores: np.ndarray
    """Per class, in IRIS order."""
    iris_predicted: np.ndarray

    def keys(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())


def build(root: Path) -> TypeData:
    """Write every type's input under `root` and return the expected results."""
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, random_state=0
    )
    model = LogisticRegression(max_iter=10_000).fit(x_train, y_train)
    scores = model.predict_proba(x_test)[:, 1]
    predicted = (scores >= 0.5).astype(int)
    names = np.array(LABELS)

    predictions = root / "predictions"
    predictions.mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "target": np.where(y_test == 1, "true", "false"),
            "predicted": np.where(predicted == 1, "true", "false"),
            "false": 1 - scores,
            "true": scores,
        }
    )
    half = len(frame) // 2  # two part files: the pattern must gather both
    frame.iloc[:half].to_csv(predictions / "part-00000.csv", header=False, index=False)
    frame.iloc[half:].to_csv(predictions / "part-00001.csv", header=False, index=False)
    (predictions / "schema.json").write_text(json.dumps([{"name": c} for c in frame.columns]))

    fpr, tpr, thresholds = roc_curve(y_test, scores)
    pd.DataFrame({"fpr": fpr, "tpr": tpr, "thresholds": thresholds}).to_csv(
        root / "roc.csv", header=False, index=False
    )

    pairs = pd.DataFrame({"target": names[y_test], "predicted": names[predicted]})
    counts = pairs.value_counts().reset_index(name="count")
    counts.to_csv(root / "confusion_matrix.csv", header=False, index=False)
    matrix = confusion_matrix(y_test, predicted, labels=[0, 1])
    confusion = {(LABELS[i], LABELS[j]): int(matrix[i, j]) for i in range(2) for j in range(2)}

    weak = LogisticRegression(max_iter=10_000).fit(x_train[:, [1, 9]], y_train)
    weak_scores = weak.predict_proba(x_test[:, [1, 9]])[:, 1]
    _write_predictions(root / "weak", y_test, weak_scores)
    iris_labels, iris_scores, iris_predicted = _iris(root / "iris")

    _write_table(root / "table")
    features = [str(name) for name in data.feature_names]
    stats = _statistics(x_train, features, "train")
    (root / "stats").mkdir()
    (root / "stats" / "stats.pb").write_bytes(stats.SerializeToString())
    (root / "stats" / "stats.tfrecord").write_bytes(tfrecord.encode([stats.SerializeToString()]))
    (root / "eval-stats").mkdir()
    evaluation = _statistics(x_test, features, "eval")
    (root / "eval-stats" / "stats.pb").write_bytes(evaluation.SerializeToString())

    tfma_accuracy = _tfma(root / "eval", y_test, scores, x_test[:, 0])
    (root / "metrics.json").write_text(
        json.dumps(
            {
                "metrics": [
                    {"name": "accuracy-score", "numberValue": accuracy_score(y_test, predicted),
                     "format": "PERCENTAGE"},
                    {"name": "roc-auc", "numberValue": roc_auc_score(y_test, scores)},
                ]
            }
        )
    )  # fmt: skip
    (root / "notes.md").write_text(
        "# Model card\n\n| metric | value |\n|---|---|\n| AUC | 0.99 |\n"
    )
    (root / "report.html").write_text(
        "<!doctype html><html><head><title>report</title></head>"
        '<body><h1 id="report">Report</h1><p>Everything is fine.</p></body></html>'
    )
    return TypeData(
        root=root,
        auc=float(roc_auc_score(y_test, scores)),
        accuracy=float(accuracy_score(y_test, predicted)),
        confusion=confusion,
        features=features,
        tfma_accuracy=tfma_accuracy,
        labels=y_test,
        scores=scores,
        weak_scores=weak_scores,
        iris_labels=iris_labels,
        iris_scores=iris_scores,
        iris_predicted=iris_predicted,
    )


def _write_predictions(folder: Path, labels: np.ndarray, scores: np.ndarray) -> None:
    folder.mkdir()
    frame = pd.DataFrame({"target": np.where(labels == 1, "true", "false"), "true": scores})
    frame.to_csv(folder / "part-0.csv", header=False, index=False)
    (folder / "schema.json").write_text('[{"name": "target"}, {"name": "true"}]')


def _iris(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three-class predictions (target, predicted, a score per class) and their confusion
    matrix CSV; returns the test labels, the scores and the predicted classes, as names."""
    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data[:, :2], data.target, test_size=0.5, random_state=1
    )  # two features only, so the classes overlap and the matrix is not diagonal
    model = LogisticRegression(max_iter=10_000).fit(x_train, y_train)
    scores = model.predict_proba(x_test)
    names = np.array(IRIS)
    labels, predicted = names[y_test], names[scores.argmax(axis=1)]
    folder.mkdir()
    frame = pd.DataFrame({"target": labels, "predicted": predicted})
    for index, name in enumerate(IRIS):
        frame[name] = scores[:, index]
    frame.to_csv(folder / "predictions.csv", header=False, index=False)
    (folder / "schema.json").write_text(json.dumps([{"name": c} for c in frame.columns]))
    counts = frame[["target", "predicted"]].value_counts().reset_index(name="count")
    counts.to_csv(folder.parent / "iris_confusion.csv", header=False, index=False)
    return labels, scores, predicted


def _write_table(folder: Path) -> None:
    """100,000 rows over two files, with a header row, a text column and missing values."""
    folder.mkdir()
    rng = np.random.default_rng(7)
    ids = np.arange(TABLE_ROWS)
    table = pd.DataFrame(
        {
            "id": ids,
            "city": rng.choice(["Lisbon", "Oslo", "Quito", "Hanoi", "Accra"], TABLE_ROWS),
            "value": np.round(rng.normal(100, 15, TABLE_ROWS), 3),
            "flag": rng.integers(0, 2, TABLE_ROWS),
        }
    )
    table.loc[table.index % 97 == 0, "value"] = np.nan
    table["city"] = table["city"] + "-" + (ids % 1000).astype(str)
    table.iloc[: TABLE_ROWS // 2].to_csv(folder / "part-0.csv", index=False)
    table.iloc[TABLE_ROWS // 2 :].to_csv(folder / "part-1.csv", index=False)


def _statistics(
    values: np.ndarray, names: list[str], name: str
) -> statistics_pb2.DatasetFeatureStatisticsList:
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(name=name, num_examples=len(values))
    for index, name in enumerate(names):
        column = values[:, index]
        feature = dataset.features.add(name=name, type=statistics_pb2.FeatureNameStatistics.FLOAT)
        num = feature.num_stats
        num.common_stats.num_non_missing = len(column)
        num.mean, num.std_dev = float(column.mean()), float(column.std())
        num.min, num.max = float(column.min()), float(column.max())
        num.median = float(np.median(column))
        num.num_zeros = int((column == 0).sum())
        counts, edges = np.histogram(column, bins=10)
        histogram = num.histograms.add()
        for count, low, high in zip(counts, edges[:-1], edges[1:], strict=True):
            histogram.buckets.add(low_value=low, high_value=high, sample_count=float(count))
    diagnosis = dataset.features.add(
        name="diagnosis", type=statistics_pb2.FeatureNameStatistics.STRING
    )
    diagnosis.string_stats.common_stats.num_non_missing = len(values)
    diagnosis.string_stats.unique = 2
    diagnosis.string_stats.top_values.add(value="benign", frequency=357)
    diagnosis.string_stats.top_values.add(value="malignant", frequency=212)
    return stats


def _tfma(folder: Path, labels, scores, radius) -> dict[str, float]:
    """A TFMA evaluation output: file `metrics`, a TFRecord of MetricsForSlice.

    Slices: Overall and `size` (large/small tumour radius); each has `accuracy` (keyed
    form) and `example_count` (the older map form). Returns slice → accuracy.
    """
    folder.mkdir()
    items, expected = [], {}
    size = np.where(radius >= np.median(radius), "large", "small")
    for value in (None, "large", "small"):
        chosen = np.ones(len(labels), bool) if value is None else size == value
        item = MetricsForSlice()
        if value is not None:
            item.slice_key.single_slice_keys.add(column="size", bytes_value=value.encode())
        accuracy = float(accuracy_score(labels[chosen], scores[chosen] >= 0.5))
        entry = item.metric_keys_and_values.add()
        entry.key.name = "accuracy"
        entry.value.double_value.value = accuracy
        item.metrics["example_count"].double_value.value = float(chosen.sum())
        expected[value or "Overall"] = accuracy
        items.append(item.SerializeToString())
    (folder / "metrics").write_bytes(tfrecord.encode(items))
    (folder / "eval_config.json").write_text('{"evalConfig": {}}')
    return expected


def upload(root: Path, client: Minio, bucket: str, prefix: str = "artifacts") -> str:
    """Copy every file under `root` to `bucket/prefix/...`; return `prefix`."""
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    for path in root.rglob("*"):
        if path.is_file():
            client.fput_object(bucket, f"{prefix}/{path.relative_to(root)}", str(path))
    return prefix
