"""Pages past KFP's 4 MiB cap, end to end against a real MinIO and SeaweedFS (each in turn),
real kernels and real Chromium.

A page at the inline limit goes inline; one byte more is stored in MinIO and the reply is a
small page that always fits the cap. In KFP's sandboxed iframe (network blocked) that small page
unpacks a compressible page in place; a page that does not compress under the cap shows a
reference page whose links work. gRPC clients fetch stored pages in chunks and verify them.
"""

from __future__ import annotations

import hashlib
import html

import grpc
import pytest
import requests
from browser import show_in_kfp_iframe
from kfp_viz.pages import create_page, fetch_page
from kfp_viz.pb import kfpviz_pages_pb2 as pages_pb
from kfp_viz.pb import kfpviz_pages_pb2_grpc as pages_grpc
from kfp_viz.pb.visualization_pb2 import Visualization
from kfp_viz_server.page_bytes import KFP_REPLY_CAP, REPLY_MARGIN, kfp_inline_limit
from stored_pages import reference_of
from support import custom_code, reflect

BUCKET = "large-pages"

# A page of exactly `int(source)` x's inside the page template: `source` and `arguments`
# keep the same length whatever the size, so the inline limit is the same for every size.
SIZED = custom_code("from IPython.display import HTML, display", "display(HTML('x' * int(source)))")

TABLE_ROWS = 290_000  # about 20 MB of HTML
TABLE = custom_code(
    "from IPython.display import HTML, display",
    "rows = ''.join(f'<tr><td>{i}</td><td>sample-{i % 1000:03d}</td>'",
    "               f'<td>{(i * 7919) % 100003 / 1000:.3f}</td><td>{i % 3 == 0}</td></tr>'",
    "               for i in range(int(source)))",
    "display(HTML('<table id=\"big\"><tbody>' + rows + '</tbody></table>'))",
)
# Random bytes as base64 text: gzip cannot bring this under the cap.
RANDOM = custom_code(
    "import base64, os",
    "from IPython.display import HTML, display",
    "n = int(source)",
    "display(HTML('<pre id=\"noise\">' + base64.encodebytes(os.urandom(n * 3 // 4)).decode() "
    "+ '</pre>'))",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, object_store):
    from support import RunningServer

    log = tmp_path_factory.mktemp("large-pages") / "server.log"
    flags = ["--pool-size", "2", "--allow-custom-visualizations", "--reuse-custom-kernels"]
    flags += ["--max-output-size", "128Mi"]  # pages of 50 and 60 MB are made here
    running = RunningServer(flags, object_store.server_env(BUCKET), log)
    running.wait_ready()
    yield running
    assert running.stop() == 0, running.log()


def sized(n: int) -> str:
    return f"{n:09d}"


def http_page(server, n: int) -> requests.Response:
    reply = server.post(type="custom", source=sized(n), arguments=SIZED, timeout=120)
    assert reply.status_code == 200, reply.reason
    return reply


def test_the_limit_is_exact_and_a_byte_more_is_stored_http(server):
    limit = kfp_inline_limit(len(sized(0)), len(SIZED))
    overhead = len(http_page(server, 0).content)  # the page around n x's
    at_limit = http_page(server, limit - overhead)
    assert len(at_limit.content) == limit
    assert "kfp-viz-reference" not in at_limit.text and at_limit.text.count("x" * 1000) > 0

    over = http_page(server, limit - overhead + 1)
    assert len(over.content) <= limit
    reference = reference_of(over.text)
    assert reference["size"] == limit + 1
    assert reference["uri"] == f"s3://{BUCKET}/visualizations/{reference['sha256']}.html"
    assert reference["delivery"] == "compressed"  # x's compress to almost nothing
    stored = requests.get(reference["http_url"], timeout=60)
    assert stored.status_code == 200 and len(stored.content) == limit + 1
    assert hashlib.sha256(stored.content).hexdigest() == reference["id"]
    assert stored.content.replace(b"x", b"") == at_limit.content.replace(b"x", b"")


def test_the_limit_is_exact_and_a_byte_more_is_stored_grpc(server):
    """A client with gRPC's default 4 MiB receive limit, as KFP's gateway has, gets both."""
    limit = kfp_inline_limit(len(sized(0)), len(SIZED))
    overhead = len(server.create_visualization(Visualization.CUSTOM, sized(0), SIZED).html)
    at_limit = server.create_visualization(Visualization.CUSTOM, sized(limit - overhead), SIZED)
    assert len(at_limit.html.encode()) == limit
    assert at_limit.ByteSize() == KFP_REPLY_CAP - REPLY_MARGIN

    over = server.create_visualization(Visualization.CUSTOM, sized(limit - overhead + 1), SIZED)
    assert over.ByteSize() <= KFP_REPLY_CAP - REPLY_MARGIN
    assert over.source == sized(limit - overhead + 1) and over.arguments == SIZED
    assert reference_of(over.html)["size"] == limit + 1


def test_a_20_mb_table_shows_its_rows_in_kfps_sandboxed_iframe_offline(server, browser):
    reply = server.post(type="custom", source=str(TABLE_ROWS), arguments=TABLE, timeout=180)
    assert reply.status_code == 200, reply.reason
    reference = reference_of(reply.text)
    assert reference["size"] > 20_000_000 and reference["delivery"] == "compressed"
    assert len(reply.content) <= kfp_inline_limit(len(str(TABLE_ROWS)), len(TABLE))

    shown = show_in_kfp_iframe(browser, reply.text, timeout_ms=120_000)
    try:
        shown.frame.wait_for_function(
            "document.readyState === 'complete' && document.getElementById('big')",
            polling=250,
            timeout=120_000,
        )
        cells = shown.frame.evaluate(
            "() => { const rows = document.getElementById('big').rows;"
            " return [rows[0].cells[1].textContent, rows[rows.length - 1].cells[0].textContent]; }"
        )
        assert cells == ["sample-000", str(TABLE_ROWS - 1)]
        assert shown.frame.evaluate("document.getElementById('big').rows.length") == TABLE_ROWS
        assert shown.errors == []  # nothing was fetched, nothing failed
    finally:
        shown.page.context.close()


def test_a_60_mb_page_that_does_not_compress_shows_a_reference_with_working_links(
    server, browser, online_browser
):
    size = 60_000_000
    reply = server.post(type="custom", source=str(size), arguments=RANDOM, timeout=300)
    assert reply.status_code == 200, reply.reason
    assert len(reply.content) < 16_384  # a reference page, not a payload
    reference = reference_of(reply.text)
    assert reference["delivery"] == "reference" and reference["size"] > size

    shown = show_in_kfp_iframe(browser, reply.text)
    try:
        status = shown.frame.inner_text("#kfp-viz-status")
        assert "too large to show here" in status
        assert shown.frame.inner_text("#kfp-viz-sha256") == reference["sha256"]
        assert shown.frame.get_attribute("#kfp-viz-link", "href") == reference["http_url"]
        assert shown.errors == []
    finally:
        shown.page.context.close()

    # Following the link from inside KFP's sandboxed frame loads the stored page there.
    shown = show_in_kfp_iframe(online_browser, reply.text)
    try:
        with shown.page.expect_response(reference["http_url"], timeout=120_000) as answer:
            shown.frame.click("#kfp-viz-link")
        shown.frame.wait_for_url(reference["http_url"], wait_until="commit")
        response = answer.value
        assert response.status == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["content-length"] == str(reference["size"])
    finally:
        shown.page.context.close()  # before Chromium spends minutes laying out 60 MB of text
    followed = requests.get(reference["http_url"], timeout=120)
    assert hashlib.sha256(followed.content).hexdigest() == reference["sha256"]

    presigned = requests.get(reference["presigned_url"], timeout=120)
    assert presigned.status_code == 200
    assert hashlib.sha256(presigned.content).hexdigest() == reference["sha256"]


def test_grpc_fetches_a_50_mb_page_in_chunks_and_verifies_it(server):
    stub = pages_grpc.VisualizationsStub(server.channel)
    reply = stub.CreateVisualization(
        pages_pb.CreateVisualizationRequest(
            visualization=Visualization(
                type=Visualization.CUSTOM, source=str(50_000_000), arguments=RANDOM
            )
        ),
        timeout=300,
    )
    assert reply.WhichOneof("page") == "reference" and reply.error == ""
    reference = reply.reference
    assert reference.size > 50_000_000 and reference.id == reference.sha256
    assert reference.uri == f"s3://{BUCKET}/visualizations/{reference.sha256}.html"
    assert reference.presigned_url.startswith("http://") and reference.presigned_url_expires.seconds

    chunks = list(stub.FetchVisualization(pages_pb.FetchVisualizationRequest(id=reference.id)))
    assert all(len(chunk.data) <= 2**20 for chunk in chunks)
    assert len(chunks) >= 48 and chunks[0].reference.sha256 == reference.sha256
    fetched = fetch_page(server.channel, reference.id)
    assert len(fetched.data) == reference.size
    assert hashlib.sha256(fetched.data).hexdigest() == reference.sha256
    assert fetched.html.startswith("<!DOCTYPE html>") and '<pre id="noise">' in fetched.html


def test_client_helper_returns_whole_pages_inline_or_stored(server):
    small = create_page(server.channel, "custom", sized(10), SIZED)
    assert "x" * 10 in small and "kfp-viz-reference" not in small
    big = create_page(server.channel, "custom", sized(6_000_000), SIZED)
    assert big.count("x") >= 6_000_000 and big.startswith("<!DOCTYPE html>")


# A `source` that fills KFP's reply but for about 2 KB, less than even the reference page needs.
NO_ROOM_SOURCE = "a" * (KFP_REPLY_CAP - REPLY_MARGIN - 2000)


def assert_no_room_names_the_stored_page(server, message: str, echoed: int) -> str:
    """The refusal's sizes and link are right, and the page it names is stored, whole."""
    room = kfp_inline_limit(len(NO_ROOM_SOURCE), echoed - len(NO_ROOM_SOURCE))
    assert message.startswith("No room for this page in KFP's 4194304-byte reply: ")
    assert f"take {echoed} bytes, leaving {room}, and even the " in message
    small = int(message.split("even the ")[1].split("-byte")[0])
    assert small > room
    url = message.rsplit(" ", 1)[1]  # gRPC names this host, HTTP the Host asked
    assert url.endswith(f":{server.url.rsplit(':', 1)[1]}/visualizations/" + url[-64:])
    stored = requests.get(f"{server.url}/visualizations/{url[-64:]}", timeout=60)
    assert stored.status_code == 200
    assert hashlib.sha256(stored.content).hexdigest() == url[-64:]
    assert f"The {len(stored.content)}-byte page was stored: " in message
    return stored.text


def test_no_room_left_by_the_echoed_fields_is_refused_on_http_and_the_page_kept(server):
    """Sending the reference page anyway would make KFP's API server fail the whole reply."""
    reply = server.post(type="test", source=NO_ROOM_SOURCE, arguments="{}", timeout=120)
    assert reply.status_code == 413
    assert reply.headers["Content-Type"] == "text/html; charset=UTF-8"
    shown = html.escape(reply.reason)  # Tornado's stock error page, as for every refusal
    assert reply.text == f"<html><title>413: {shown}</title><body>413: {shown}</body></html>"
    page = assert_no_room_names_the_stored_page(server, reply.reason, len(NO_ROOM_SOURCE) + 2)
    assert NO_ROOM_SOURCE in page and 'class="kfp-viz-test"' in page
    assert 'kfp_viz_pages_total{delivery="no_room"}' in server.metrics()


def test_no_room_left_by_the_echoed_fields_is_refused_on_kfps_grpc(server):
    arguments = custom_code(
        "from IPython.display import HTML, display", "display(HTML('q' * 9000))"
    )
    with pytest.raises(grpc.RpcError) as caught:
        server.create_visualization(Visualization.CUSTOM, NO_ROOM_SOURCE, arguments, timeout=120)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    message = caught.value.details()
    page = assert_no_room_names_the_stored_page(
        server, message, len(NO_ROOM_SOURCE) + len(arguments)
    )
    assert "q" * 9000 in page
    fetched = fetch_page(server.channel, message.rsplit("/", 1)[1])  # and over our own gRPC
    assert fetched.html == page


@pytest.mark.parametrize("page_id", ["nope", "A" * 64, "..%2F..%2Fetc%2Fpasswd", "0" * 63 + "g"])
def test_bad_page_ids_are_refused_on_both_protocols(server, page_id):
    reply = requests.get(f"{server.url}/visualizations/{page_id}", timeout=10)
    assert reply.status_code == 400
    assert "64 lowercase hex digits" in reply.reason
    with pytest.raises(grpc.RpcError) as caught:
        fetch_page(server.channel, page_id)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    if "%" not in page_id:  # the URL's %2F arrives decoded, gRPC's id as sent
        assert caught.value.details() == reply.reason


def test_a_page_never_stored_is_not_found(server):
    missing = "0" * 64
    reply = requests.get(f"{server.url}/visualizations/{missing}", timeout=10)
    assert reply.status_code == 404 and "No stored page" in reply.reason
    with pytest.raises(grpc.RpcError) as caught:
        fetch_page(server.channel, missing)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def test_reflection_describes_our_service_to_generic_clients(server):
    names, files = reflect(server.channel, "kfpviz.v1.Visualizations")
    assert "kfpviz.v1.Visualizations" in names
    assert any(b"kfpviz_pages.proto" in file for file in files)
