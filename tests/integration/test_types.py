"""Every built-in type rendered by a real server from real data, local and in a real MinIO.

The data (typedata.py) is a classifier's predictions on scikit-learn's breast-cancer
dataset, a 100,000-row CSV, TFDV statistics in tensorflow-metadata's messages and a TFMA
evaluation output; the same files are read from a local folder and from MinIO (through
`minio://` and `s3://`, with the server's OBJECTSTORECONFIG_* settings). Answers are
checked against scikit-learn's own.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import threading
from collections.abc import Iterator

import grpc
import pytest
import typedata
from kfp_viz.pages import create_page
from kfp_viz.pb import visualization_pb2
from kfp_viz_kernels.types.html import with_dark_defaults
from minio import Minio
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import average_precision_score, classification_report, roc_auc_score
from sklearn.model_selection import train_test_split
from support import ROOT, RunningServer

pytestmark = pytest.mark.integration

BUCKET = "mlpipeline"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> typedata.TypeData:
    return typedata.build(tmp_path_factory.mktemp("types") / "data")


@pytest.fixture(scope="module")
def stored(data, object_store) -> str:
    """The same files in the object store (MinIO, then SeaweedFS); returns the key prefix."""
    store = object_store
    client = Minio(store.endpoint, store.access_key, store.secret_key, secure=False)
    return typedata.upload(data.root, client, BUCKET)


@pytest.fixture(scope="module")
def server(object_store, tmp_path_factory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("types-server") / "server.log"
    running = RunningServer(
        ["--pool-size", "2", "--allow-custom-visualizations"], object_store.server_env(BUCKET), log
    )
    running.wait_ready()
    yield running
    code = running.stop()
    assert code == 0, f"server exited with {code}:\n{running.log()}"


@pytest.fixture(params=["local", "object-store"])
def base(request, data, stored) -> str:
    """Where the data lives, as a source prefix: a local folder or minio://bucket/prefix."""
    return str(data.root) if request.param == "local" else f"minio://{BUCKET}/{stored}"


def render(server: RunningServer, viz_type: str, source: str, **arguments) -> str:
    reply = server.post(type=viz_type, source=source, arguments=json.dumps(arguments), timeout=120)
    assert reply.status_code == 200, reply.reason
    return reply.text


def assert_ok(page: str) -> None:
    assert 'class="output error"' not in page, _error_text(page)


def _error_text(page: str) -> str:
    found = re.search(r'<div class="output error"><pre>(.*?)</pre>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found[1])) if found else ""


def data_block(page: str, index: int = 0):
    found = re.findall(
        r'<script type="application/json" class="kv-data">(.*?)</script>', page, re.S
    )
    assert found, page[-2000:]
    return json.loads(found[index])


def attribute(page: str, name: str) -> float:
    return float(re.search(rf'{name}="([^"]+)"', page)[1])


# -- roc_curve ---------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["predictions/*.csv", "predictions"])
def test_roc_curve_from_predictions_matches_sklearn(server, data, base, pattern):
    page = render(server, "roc_curve", f"{base}/{pattern}")
    assert_ok(page)
    assert attribute(page, "data-auc") == pytest.approx(data.auc, abs=1e-12)
    (curve,) = data_block(page)["curves"]
    assert curve["fpr"][0] == 0 and curve["tpr"][-1] == 1
    assert curve["thr"][0] is None  # sklearn's first threshold is infinity
    assert (curve["pos"], curve["neg"]) == (int(data.labels.sum()), int((data.labels == 0).sum()))
    assert "roc.js" not in page and "kv-ops" in page


def test_roc_curves_compared_and_per_class_match_sklearn(server, data, base):
    page = render(server, "roc_curve", f"{base}/predictions", compare=[f"{base}/weak"])
    assert_ok(page)
    aucs = [float(v) for v in re.findall(r'class="kv-auc" data-auc="([^"]+)"', page)]
    assert aucs == pytest.approx(
        [roc_auc_score(data.labels, data.scores), roc_auc_score(data.labels, data.weak_scores)],
        abs=1e-12,
    )
    assert [c["name"] for c in data_block(page)["curves"]] == ["predictions", "weak"]
    iris = render(server, "roc_curve", f"{base}/iris")
    assert_ok(iris)
    names = [c["name"] for c in data_block(iris)["curves"]]
    assert names == typedata.IRIS
    aucs = [float(v) for v in re.findall(r'class="kv-auc" data-auc="([^"]+)"', iris)]
    expected = [roc_auc_score(data.iris_labels == c, data.iris_scores[:, i])
                for i, c in enumerate(typedata.IRIS)]  # fmt: skip
    assert aucs == pytest.approx(expected, abs=1e-12)
    macro = roc_auc_score(data.iris_labels, data.iris_scores, multi_class="ovr", average="macro")
    assert attribute(iris, 'class="kv-macro-auc" data-auc') == pytest.approx(macro, abs=1e-12)


@pytest.mark.parametrize("name", ["roc.csv", "r?c.csv", "**/roc.csv", "[r]oc.*"])
def test_roc_curve_generated_csv(server, data, base, name):
    page = render(server, "roc_curve", f"{base}/{name}", is_generated=True)
    assert_ok(page)
    assert attribute(page, "data-auc") == pytest.approx(data.auc, abs=1e-12)


def test_roc_curve_target_lambda_and_trueclass(server, data):
    source = f"{data.root}/predictions/*.csv"
    # pandas reads a true/false column as booleans, as in the stock server
    rule = "lambda row: 1 if row['target'] is True else 0"
    lam = render(server, "roc_curve", source, target_lambda=rule)
    assert attribute(lam, "data-auc") == pytest.approx(data.auc, abs=1e-12)
    flipped = render(server, "roc_curve", source, trueclass="false", true_score_column="false")
    assert attribute(flipped, "data-auc") == pytest.approx(data.auc, abs=1e-12)


def test_roc_curve_precision_recall_beside_roc_matches_sklearn(server, data, base):
    page = render(server, "roc_curve", f"{base}/predictions", compare=[f"{base}/weak"])
    assert_ok(page)
    aps = [float(v) for v in re.findall(r'class="kv-ap" data-ap="([^"]+)"', page)]
    assert aps == pytest.approx(
        [average_precision_score(data.labels, data.scores),
         average_precision_score(data.labels, data.weak_scores)],
        abs=1e-12,
    )  # fmt: skip
    curves = data_block(page)["curves"]
    assert curves[0]["pr"]["recall"][0] == 0 and curves[0]["pr"]["recall"][-1] == 1
    ready = render(server, "roc_curve", f"{base}/roc.csv", is_generated=True)
    assert 'data-kind="pr"' not in ready and "No precision–recall curve" in ready


def test_every_csv_type_skips_a_header_row(server, data, tmp_path):
    """The same CSVs with a header row written in front: the same pages as without."""
    with_header = tmp_path / "headed"
    (with_header / "predictions").mkdir(parents=True)
    for part in sorted((data.root / "predictions").glob("part-*.csv")):
        text = "target,predicted,false,true\n" + part.read_text()
        (with_header / "predictions" / part.name).write_text(text)
    (with_header / "predictions" / "schema.json").write_text(
        (data.root / "predictions" / "schema.json").read_text()
    )
    roc = render(server, "roc_curve", f"{with_header}/predictions")
    assert_ok(roc)
    assert attribute(roc, "data-auc") == pytest.approx(data.auc, abs=1e-12)
    curve = (data.root / "roc.csv").read_text()
    (with_header / "roc.csv").write_text("fpr,tpr,thresholds\n" + curve)
    ready = render(server, "roc_curve", f"{with_header}/roc.csv", is_generated=True)
    assert_ok(ready)
    assert attribute(ready, "data-auc") == pytest.approx(data.auc, abs=1e-12)
    (with_header / "cm.csv").write_text(
        "target,predicted,count\n" + (data.root / "confusion_matrix.csv").read_text()
    )
    matrix = render(server, "confusion_matrix", f"{with_header}/cm.csv")
    assert attribute(matrix, "data-accuracy") == pytest.approx(data.accuracy, abs=1e-12)
    names = ["target", "predicted", "false", "true"]
    table = render(server, "table", f"{with_header}/predictions/part-*.csv", headers=names)
    assert len(data_block(table)["rows"]) == 228  # the header rows are not data


def test_an_unknown_argument_is_named_and_the_page_still_renders(server, data):
    page = render(server, "roc_curve", f"{data.root}/predictions", truecalss="false")
    assert_ok(page)  # the stock contract: extra arguments are accepted
    assert "Unknown argument <code>truecalss</code> (did you mean <code>trueclass</code>?)" in page
    assert attribute(page, "data-auc") == pytest.approx(data.auc, abs=1e-12)  # still "true"
    clean = render(server, "roc_curve", f"{data.root}/predictions", trueclass="true")
    assert "Unknown argument" not in clean
    table = render(server, "table", f"{data.root}/table/part-0.csv", header=["a"])
    assert_ok(table)
    assert "<code>header</code> (did you mean <code>headers</code>?)" in table


def _samples() -> list[dict]:
    root = ROOT / "samples"
    items = json.loads((root / "manifest.json").read_text())
    for item in items:
        arguments = json.dumps(item["arguments"]).replace("{samples}", str(root))
        item["arguments"] = json.loads(arguments)
        item["source"] = str(root / item["source"])
    return items


def test_every_sample_renders(server):
    """samples/: every page renders without an error, and shows what the manifest says."""
    pages = {}
    for item in _samples():
        page = render(server, item["type"], item["source"], **item["arguments"])
        assert_ok(page)
        pages[item["name"]] = page
    assert "Unknown argument <code>truecalss</code>" in pages["roc_curve_typo"]
    tfdv = {f["name"]: f for f in data_block(pages["tfdv"])["features"]}
    assert [d["name"] for d in data_block(pages["tfdv"])["datasets"]] == ["train", "serving"]
    assert tfdv["income"]["scale"] == "log" and tfdv["income"]["flags"][0]["kind"] == "js"
    assert {"kind": "new", "dataset": 1, "values": ["JP"], "count": 1} in tfdv["country"]["flags"]
    tfma = data_block(pages["tfma"], -1)
    assert tfma["columns"] == ["slice", "examples", "accuracy", "auc", "accuracy interval",
                               "auc interval"]  # fmt: skip
    assert "1 of 8 slices have fewer than 100 examples" in pages["tfma"]
    table = data_block(pages["table"])
    kinds = {name: f["kind"] for name, f in zip(table["columns"], table["formats"], strict=True)}
    assert kinds["signup_date"] == "date" and kinds["active"] == "bool"


def test_roc_curve_through_s3_scheme(server, data, stored):
    page = render(server, "roc_curve", f"s3://{BUCKET}/{stored}/roc.csv", is_generated="true")
    assert attribute(page, "data-auc") == pytest.approx(data.auc, abs=1e-12)


# -- confusion_matrix --------------------------------------------------------------


def test_confusion_matrix_matches_sklearn(server, data, base):
    page = render(
        server, "confusion_matrix", f"{base}/confusion_matrix.csv", labels=typedata.LABELS
    )
    assert_ok(page)
    assert attribute(page, "data-accuracy") == pytest.approx(data.accuracy, abs=1e-12)
    cells = [
        int(v) for v in re.findall(r'<td class="kv-cell[^"]*" style="[^"]*">([\d,]+)</td>', page)
    ]
    assert cells == [data.confusion[(t, p)] for t in typedata.LABELS for p in typedata.LABELS]
    header = re.search(r"<thead>(.*?)</thead>", page)[1]
    assert header.index("malignant") < header.index("benign")  # the order `labels` gives


def test_confusion_matrix_report_equals_classification_report(server, data, base):
    page = render(server, "confusion_matrix", f"{base}/iris_confusion.csv")
    assert_ok(page)
    report = classification_report(data.iris_labels, data.iris_predicted, output_dict=True)
    body = re.search(r'<table class="kv-report kv-pin">.*?<tbody>(.*?)</tbody>', page)[1]
    rows = re.findall(r'<th scope="row" class="kv-text">([^<]+)</th>(.*?)</tr>', body)
    assert [name for name, _ in rows] == [*typedata.IRIS, "macro avg", "weighted avg"]
    for name, cells in rows:
        values = [float(v) for v in re.findall(r'data-value="([^"]+)"', cells)]
        want = report[name]
        assert values == pytest.approx(
            [want["precision"], want["recall"], want["f1-score"], want["support"]], abs=1e-12
        ), name
    assert attribute(page, "data-accuracy") == pytest.approx(report["accuracy"], abs=1e-12)


# -- table -------------------------------------------------------------------------


def test_table_of_100000_rows_from_two_files(server, data, base):
    page = render(server, "table", f"{base}/table/*.csv")
    assert_ok(page)
    table = data_block(page)
    assert table["columns"] == ["id", "city", "value", "flag"]
    assert "Column summaries" in page and "kv-search" in page
    assert [f["kind"] for f in table["formats"]] == ["num", "text", "num", "num"]
    assert table["formats"][0] == {"kind": "num", "decimals": 0, "plain": True}  # an identifier
    rows = table["rows"]
    assert len(rows) == typedata.TABLE_ROWS
    assert [row[0] for row in rows[:3]] == [0, 1, 2] and rows[-1][0] == typedata.TABLE_ROWS - 1
    assert rows[97][2] is None and rows[1][1].endswith("-1")


def test_table_headers_name_headerless_files(server, data, base):
    names = ["target", "predicted", "false", "true"]
    page = render(server, "table", f"{base}/predictions/part-*.csv", headers=names)
    table = data_block(page)
    assert table["columns"] == names
    files = sorted((data.root / "predictions").glob("part-*.csv"))
    lines = [line.split(",") for f in files for line in f.read_text().splitlines()]
    assert len(table["rows"]) == len(lines) == 228  # the first row of each file is data too
    first = table["rows"][0]
    assert [str(v).lower() for v in first[:2]] == lines[0][:2]  # pandas reads true/false as bool
    assert first[3] == float(lines[0][3])
    wrong = render(server, "table", f"{base}/predictions/part-*.csv", headers=["a", "b"])
    assert "has 4 columns but" in _error_text(wrong)


def test_table_from_http(server, data):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(data.root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        page = render(server, "table", f"{url}/table/part-0.csv")
        assert len(data_block(page)["rows"]) == typedata.TABLE_ROWS // 2
        missing = render(server, "table", f"{url}/table/none.csv")
        assert "HTTP 404" in _error_text(missing) and "none.csv" in _error_text(missing)
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- tfdv / tfma -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stats/stats.pb", "stats/stats.tfrecord"])
def test_tfdv_lists_every_feature(server, data, base, name):
    page = render(server, "tfdv", f"{base}/{name}")
    assert_ok(page)
    stats = data_block(page)
    assert [f["name"] for f in stats["features"]] == [*data.features, "diagnosis"]
    assert stats["datasets"] == [{"name": "train", "examples": 569 - len(data.labels)}]
    assert "kv-features" in page


def test_tfdv_compares_training_and_evaluation_statistics(server, data, base):
    page = render(server, "tfdv", f"{base}/stats/stats.pb", compare=[f"{base}/eval-stats/stats.pb"])
    assert_ok(page)
    stats = data_block(page)
    assert [d["name"] for d in stats["datasets"]] == ["stats: train", "eval-stats: eval"]
    radius = next(f for f in stats["features"] if f["name"] == "mean radius")
    cancer = load_breast_cancer()
    train, test = train_test_split(cancer.data[:, 0], test_size=0.4, random_state=0)
    assert [s["mean"] for s in radius["stats"]] == pytest.approx([train.mean(), test.mean()])
    assert 0 < radius["distance"] < 1 and len(radius["shares"]) == 2


def test_tfdv_computes_statistics_of_a_csv_like_the_stock_type(server, data, base):
    page = render(server, "tfdv", f"{base}/table/part-0.csv")
    assert_ok(page)
    stats = data_block(page)
    assert sorted(f["name"] for f in stats["features"]) == ["city", "flag", "id", "value"]
    assert stats["datasets"][0]["examples"] == 50_000


def test_tfma_overall_and_sliced(server, data, base):
    page = render(server, "tfma", f"{base}/eval")
    assert_ok(page)
    table = data_block(page, -1)
    assert table["columns"] == ["slice", "examples", "accuracy"]
    assert [row[0] for row in table["rows"]] == ["Overall"]
    assert table["rows"][0][2] == data.tfma_accuracy["Overall"] and "Slicing columns: size" in page
    sliced = data_block(render(server, "tfma", f"{base}/eval", slicing_column="size"), -1)
    assert [row[0] for row in sliced["rows"]] == ["Overall", "size: large", "size: small"]
    for row, name in zip(sliced["rows"], ("Overall", "large", "small"), strict=True):
        assert row[2] == data.tfma_accuracy[name]
    assert sum(row[1] for row in sliced["rows"][1:]) == sliced["rows"][0][1] == len(data.labels)


# -- metrics / markdown / html -----------------------------------------------------


def test_metrics_markdown_and_html(server, data, base):
    metrics = render(server, "metrics", f"{base}/metrics.json")
    assert_ok(metrics)
    assert f"{data.accuracy * 100:.2f}%" in metrics and "roc-auc" in metrics
    markdown = render(server, "markdown", f"{base}/notes.md")
    assert '<h1 id="model-card">Model card</h1>' in markdown and "<td>0.99</td>" in markdown
    report = render(server, "html", f"{base}/report.html", height=300)
    assert 'sandbox="allow-scripts"' in report and "height:300px" in report
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', report)[1])
    document = (data.root / "report.html").read_text()  # no colours of its own: dark-aware
    assert srcdoc == with_dark_defaults(document) and "color-scheme" in srcdoc
    sized = render(server, "html", f"{base}/report.html")
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', sized)[1])
    assert srcdoc.startswith(with_dark_defaults(document)) and "kfpVizHeight" in srcdoc


def test_inline_markdown(server):
    page = render(server, "markdown", "## Inline *text*", storage="inline")
    assert "<h2" in page and "<em>text</em>" in page


# -- errors ------------------------------------------------------------------------


def _errors(data: typedata.TypeData, stored: str) -> list[tuple[str, str, dict, list[str]]]:
    root, remote = data.root, f"minio://{BUCKET}/{stored}"
    (root / "bad").mkdir(exist_ok=True)
    (root / "bad" / "ragged.csv").write_text("a,b\n1,2\n1,2,3,4\n")
    (root / "bad" / "schema.json").write_text('{"columns": ["a"]}')
    (root / "bad" / "empty.csv").write_text("")
    return [
        ("table", f"{root}/nothing.csv", {}, ["No file matches", "nothing.csv"]),
        ("table", f"{root}/table/*.tsv", {}, ["No file matches", "*.tsv"]),
        ("table", f"{remote}/missing/*.csv", {}, ["No file matches", "missing/*.csv"]),
        ("table", f"minio://no-such-bucket/{stored}/a.csv", {}, ["no-such-bucket", "NoSuchBucket"]),
        ("table", f"{root}/bad/ragged.csv", {}, ["Cannot read", "ragged.csv", "Expected 2 fields"]),
        ("table", f"{root}/bad/empty.csv", {}, ["empty.csv", "is empty"]),
        ("roc_curve", f"{root}/bad/*.csv", {}, ["schema.json", "must be a list"]),
        ("roc_curve", f"{root}/table/*.csv", {}, ["schema.json", "none found"]),
        ("roc_curve", f"{root}/predictions", {"true_score_column": "p"}, ["'p' is not a column"]),
        ("roc_curve", f"{root}/predictions", {"fprs": [2]}, ['"fprs" must be a list']),
        ("roc_curve", f"{root}/predictions", {"compare": [3]}, ['"compare"[0] must be a source']),
        ("roc_curve", f"{root}/iris", {"per_class": "yes"}, ['"per_class" must be true or false']),
        ("roc_curve", f"{root}/iris", {"compare": [f"{root}/none"]}, ["none", "schema.json"]),
        ("tfdv", f"{root}/stats/stats.pb", {"compare": [f"{root}/no.pb"]}, ["No file matches"]),
        ("tfdv", f"{root}/notes.md", {}, ["notes.md", "not a TFDV statistics file"]),
        ("tfma", f"{root}/table", {}, ["No TFMA metrics file", "table"]),
        ("metrics", f"{root}/notes.md", {}, ["notes.md", "not valid JSON"]),
        ("table", "gs://bucket/data.csv", {}, ["gcsfs"]),
        ("table", "<script>alert(1)</script>.csv", {}, ["No file matches"]),
    ]


def test_bad_sources_give_a_readable_error_page(server, data, stored):
    for viz_type, source, arguments, expected in _errors(data, stored):
        reply = server.post(type=viz_type, source=source, arguments=json.dumps(arguments))
        assert reply.status_code == 200, (source, reply.status_code, reply.reason)
        error = _error_text(reply.text)
        for text in expected:
            assert text in error, (viz_type, source, error)
        assert "Traceback" not in error and 'File "' not in error, error
        assert "<script>alert" not in reply.text


def test_grpc_carries_the_error_and_the_page(server, data):
    missing = server.create_visualization(
        visualization_pb2.Visualization.ROC_CURVE, source=f"{data.root}/none/*.csv", arguments="{}"
    )
    assert missing.error.startswith("SourceNotFound: ") and "none/*.csv" in missing.error
    stats = server.create_visualization(
        visualization_pb2.Visualization.TFDV, source=f"{data.root}/stats/stats.pb", arguments=""
    )
    assert stats.error == "" and "mean radius" in stats.html


def test_object_store_access_survives_code_that_changes_it(
    start_server, object_store, data, stored
):
    """Kernels reach the object store through the server (their socket named in their
    environment, no credentials) and get that back after each render."""
    env = object_store.server_env(BUCKET)
    server = start_server(
        "--pool-size", "1", "--allow-custom-visualizations", "--reuse-custom-kernels", env=env
    )
    source = f"minio://{BUCKET}/{stored}/metrics.json"
    assert "roc-auc" in render(server, "metrics", source)
    code = [
        "import os",
        "assert not any('OBJECTSTORECONFIG' in name for name in os.environ), sorted(os.environ)",
        "os.environ.pop('KFP_VIZ_OBJECT_ACCESS')",
        "os.environ['SOURCE_SCHEMES'] = 'local'",
    ]
    reply = server.post(type="custom", arguments=json.dumps({"code": code}))
    assert reply.status_code == 200 and "AssertionError" not in reply.text
    page = render(server, "metrics", source)
    assert_ok(page)
    assert "roc-auc" in page
    assert server.ready()["restarts"] == {}  # the same kernel served all three


# -- our own gRPC service takes any registered type by name --------------------------------


def test_types_beyond_kfps_enum_render_through_our_grpc_service(server, data, base):
    """KFP's enum has five types; kfpviz.v1.Visualizations takes the rest by name."""
    page = create_page(
        server.channel, "confusion_matrix", f"{base}/confusion_matrix.csv",
        {"labels": typedata.LABELS},
    )  # fmt: skip
    assert_ok(page)
    assert attribute(page, "data-accuracy") == pytest.approx(data.accuracy, abs=1e-12)
    page = create_page(server.channel, "markdown", "# Hello *there*", {"storage": "inline"})
    assert "<h1" in page and "<em>there</em>" in page


def test_our_grpc_service_refuses_an_unknown_type_name(server):
    with pytest.raises(grpc.RpcError) as refused:
        create_page(server.channel, "../server", "x")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == "Unknown visualization type: ../server"


def test_an_object_store_given_by_flags_reaches_the_kernels(object_store, stored, start_server):
    """A server told where the store is by flags alone reads minio:// sources for its kernels."""
    store = object_store
    server = start_server(
        "--pool-size", "1",
        "--object-store-host", "127.0.0.1", "--object-store-port", str(store.port),
        "--object-store-access-key", store.access_key,
        "--object-store-secret-key", store.secret_key,
    )  # fmt: skip
    page = render(server, "table", f"minio://{BUCKET}/{stored}/table/*.csv")
    assert_ok(page)
    assert len(data_block(page)["rows"]) == typedata.TABLE_ROWS


def test_default_limits_refuse_system_folders_and_instance_metadata(server, data, object_store):
    """What a table request could otherwise show anyone: the kernel's environment (the
    store's secret key), the service account token, a cloud's instance credentials."""
    link = data.root / "innocent.csv"
    if not link.is_symlink():
        link.symlink_to("/proc/self/environ")
    cases = [
        ("/proc/self/environ", "/proc is a system folder"),
        (str(link), "/proc is a system folder"),
        ("/proc/*/environ", "/proc is a system folder"),
        ("/var/run/secrets/kubernetes.io/serviceaccount/token", "is a system folder"),
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/",
         "169.254.169.254 is the link-local address"),
    ]  # fmt: skip
    for source, expected in cases:
        page = render(server, "table", source)
        error = _error_text(page)
        assert error.startswith("SourceRefused: ") and expected in error, (source, error)
        assert source in error
        assert object_store.secret_key not in page and "OBJECTSTORECONFIG" not in page


def test_an_operator_confines_sources_by_flags(object_store, data, stored, start_server):
    server = start_server(
        "--pool-size", "1", "--source-schemes", "local",
        "--local-source-roots", f"{data.root}/table,{data.root}/predictions",
        env=object_store.server_env(BUCKET),
    )  # fmt: skip
    assert len(data_block(render(server, "table", f"{data.root}/table/*.csv"))["rows"]) > 0
    outside = _error_text(render(server, "tfdv", f"{data.root}/stats/stats.pb"))
    assert outside.startswith("SourceRefused: ") and "--local-source-roots" in outside
    assert f"{data.root}/table" in outside
    remote = _error_text(render(server, "table", f"minio://{BUCKET}/{stored}/table/*.csv"))
    assert "reads only local sources (--source-schemes, SOURCE_SCHEMES)" in remote
    over_grpc = server.create_visualization(
        visualization_pb2.Visualization.TABLE, source="https://example.com/a.csv", arguments="{}"
    )
    assert over_grpc.error.startswith("SourceRefused: ") and "example.com" in over_grpc.error
