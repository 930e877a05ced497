#!/usr/bin/env python3
"""Write the sample data in this folder: small inputs for every built-in type.

The files are committed; this script says how they were made (seeded, so it writes the
same files again) and rewrites them after a change of format:

    .venv/bin/python samples/make_samples.py

What each file shows is listed in samples/README.md and samples/manifest.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from google.protobuf import json_format, text_format
from kfp_viz_kernels.feature_stats import from_frame
from kfp_viz_kernels.tfma_metrics_pb2 import MetricsForSlice
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent

COUNTRIES = ["PT", "NO", "EC", "VN", "GH", "DE", "BR"]


def customers(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    """Customers with the shapes real tables have: a skewed income and lifetime value, a
    boolean, dates, a categorical, a score between 0 and 1, and missing values."""
    income = np.round(rng.lognormal(10.4 + shift, 0.9, rows), 2)
    days = rng.integers(0, 3 * 365, rows)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(100_001, 100_001 + rows),
            "signup_date": (pd.Timestamp("2022-01-01") + pd.to_timedelta(days, "D")).strftime(
                "%Y-%m-%d"
            ),
            "country": rng.choice(COUNTRIES, rows, p=[0.3, 0.1, 0.15, 0.15, 0.1, 0.1, 0.1]),
            "active": rng.random(rows) < 0.7,
            "income": income,
            "lifetime_value": np.round(rng.pareto(1.6, rows) * 180 + 5, 2),
            "orders": rng.poisson(3.2, rows),
            "churn_score": rng.beta(2, 5, rows),
        }
    )
    frame.loc[rng.random(rows) < 0.04, "income"] = np.nan
    return frame


def write_roc(rng: np.random.Generator) -> None:
    """Two models' predictions (CSV with a header row, and schema.json beside them), a ready
    curve with a header row, and a three-class model's predictions."""
    x = rng.normal(size=(1200, 6))
    y = (x[:, 0] + 0.8 * x[:, 1] - 0.6 * x[:, 2] + rng.normal(scale=1.2, size=1200)) > 0.6
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=400, random_state=3)
    for folder, columns in (("model", slice(None)), ("baseline", slice(0, 1))):
        model = LogisticRegression().fit(x_train[:, columns], y_train)
        scores = model.predict_proba(x_test[:, columns])[:, 1]
        out = HERE / "roc_curve" / folder
        out.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(
            {"target": np.where(y_test, "true", "false"), "true": np.round(scores, 6)}
        )
        frame.to_csv(out / "predictions.csv", index=False)  # a header row: detected, skipped
        (out / "schema.json").write_text('[{"name": "target"}, {"name": "true"}]\n')
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(y_test, scores)
    curve = pd.DataFrame({"fpr": fpr, "tpr": tpr, "thresholds": np.round(thresholds, 6)})
    curve.to_csv(HERE / "roc_curve" / "curve.csv", index=False)
    classes = np.array(["cat", "dog", "bird"])
    labels = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 1.6 * np.eye(3)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    out = HERE / "roc_curve" / "three_classes"
    out.mkdir(exist_ok=True)
    frame = pd.DataFrame({"target": classes[labels], "predicted": classes[logits.argmax(1)]})
    for index, name in enumerate(classes):
        frame[name] = np.round(probabilities[:, index], 6)
    frame.to_csv(out / "predictions.csv", header=False, index=False)
    (out / "schema.json").write_text(json.dumps([{"name": c} for c in frame.columns]) + "\n")
    counts = frame[["target", "predicted"]].value_counts().reset_index(name="count")
    (HERE / "confusion_matrix").mkdir(exist_ok=True)
    counts.to_csv(HERE / "confusion_matrix" / "confusion.csv", index=False)


def write_tfdv(rng: np.random.Generator) -> None:
    """Training and serving statistics (text format) of the customers table: serving has
    a shifted income and a country training never saw."""
    out = HERE / "tfdv"
    out.mkdir(exist_ok=True)
    train = customers(rng, 2000)
    serving = customers(rng, 600, shift=0.5)
    serving.loc[serving.index[:40], "country"] = "JP"
    for name, frame in (("train", train), ("serving", serving)):
        stats = from_frame(frame.drop(columns=["customer_id"]), name=name)
        (out / f"{name}_stats.pbtxt").write_text(text_format.MessageToString(stats))
    train.head(300).to_csv(out / "customers.csv", index=False)


def write_table(rng: np.random.Generator) -> None:
    out = HERE / "table"
    out.mkdir(exist_ok=True)
    customers(rng, 500).to_csv(out / "customers.csv", index=False)


def write_tfma(rng: np.random.Generator) -> None:
    """A TFMA evaluation written without TFMA: MetricsForSlice messages as JSON, one per
    line. Slices by country, one of them tiny; AUC with a bootstrap interval (bounded
    value), accuracy as a t-distribution (TFMA's bootstrap summary)."""
    out = HERE / "tfma"
    out.mkdir(exist_ok=True)
    lines = []
    sizes = {None: 4000, "PT": 1200, "NO": 400, "EC": 600, "VN": 640, "GH": 380, "DE": 723,
             "JP": 57}  # fmt: skip
    for country, count in sizes.items():
        item = MetricsForSlice()
        if country:
            item.slice_key.single_slice_keys.add(column="country", bytes_value=country.encode())
        auc = 0.93 + rng.normal(0, 0.012) + (0.03 if country == "JP" else 0)
        half = 1.96 * np.sqrt(auc * (1 - auc) / count)
        entry = item.metric_keys_and_values.add()
        entry.key.name = "auc"
        bounded = entry.value.bounded_value
        bounded.value.value = round(auc, 5)
        bounded.lower_bound.value = round(auc - half, 5)
        bounded.upper_bound.value = round(min(auc + half, 1.0), 5)
        entry = item.metric_keys_and_values.add()
        entry.key.name = "accuracy"
        t = entry.value.t_distribution_value
        accuracy = 0.88 + rng.normal(0, 0.015)
        t.unsampled_value.value = round(accuracy, 5)
        t.sample_mean.value = round(accuracy + rng.normal(0, 0.002), 5)
        t.sample_standard_deviation.value = round(np.sqrt(accuracy * (1 - accuracy) / count), 5)
        t.sample_degrees_of_freedom.value = 19
        entry = item.metric_keys_and_values.add()
        entry.key.name = "example_count"
        entry.value.double_value.value = count
        lines.append(json.dumps(json_format.MessageToDict(item), separators=(",", ":")))
    (out / "metrics.json").write_text("\n".join(lines) + "\n")


def write_documents() -> None:
    (HERE / "metrics").mkdir(exist_ok=True)
    (HERE / "metrics" / "mlpipeline-metrics.json").write_text(
        json.dumps(
            {
                "metrics": [
                    {"name": "accuracy-score", "numberValue": 0.8825, "format": "PERCENTAGE"},
                    {"name": "roc-auc", "numberValue": 0.9412},
                    {"name": "log-loss", "numberValue": 0.2871, "format": "RAW"},
                ]
            },
            indent=2,
        )
        + "\n"
    )
    (HERE / "markdown").mkdir(exist_ok=True)
    (HERE / "markdown" / "model_card.md").write_text(
        "# Churn model card\n\n"
        "> Trained on 2,000 customers from 2022 to 2024; evaluated on 400 held out.\n\n"
        "| slice | examples | AUC | note |\n"
        "|:------|---------:|:---:|------|\n"
        "| all | 4,000 | 0.93 | |\n"
        "| PT | 1,200 | 0.94 | largest market |\n"
        "| JP | 57 | 0.96 | too few examples to trust |\n\n"
        "Train with:\n\n```sh\npython train.py --epochs 20\n```\n"
    )
    (HERE / "html").mkdir(exist_ok=True)
    (HERE / "html" / "report.html").write_text(
        "<!doctype html><html><head><title>Evaluation report</title></head><body>"
        "<h1>Evaluation report</h1><p>The model beats the baseline on every slice but one "
        "(<a href='#jp'>JP</a>, 57 examples).</p><ul><li>AUC 0.93</li><li>Accuracy 88%</li></ul>"
        "<h2 id='jp'>JP</h2><p>Collect more examples before reading this slice.</p>"
        "</body></html>\n"
    )


def main() -> None:
    rng = np.random.default_rng(23)
    write_roc(rng)
    write_tfdv(rng)
    write_table(rng)
    write_tfma(rng)
    write_documents()
    print(f"wrote the samples under {HERE}")


if __name__ == "__main__":
    main()
