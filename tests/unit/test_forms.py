"""KFP's form: the stock server's field semantics, and a 400 for every malformed body."""

from __future__ import annotations

import asyncio

import pytest
from kfp_viz_server.errors import ErrorKind, RequestFailed
from kfp_viz_server.forms import MAX_FIELDS, parse_form
from tornado.httputil import HTTPHeaders

URLENCODED = "application/x-www-form-urlencoded"


def parse(body: bytes, content_type: str = URLENCODED):
    return asyncio.run(parse_form(content_type, body, HTTPHeaders({"Content-Type": content_type})))


def test_fields_come_out_as_tornado_hands_them_to_a_handler():
    form = parse(b"type=test&source=%20a%01b%20&arguments=%7B%7D&type=table")
    assert form.fields == {"type": "table", "source": "a b", "arguments": "{}"}
    assert form.raw_sizes == {"type": 4, "source": 5, "arguments": 2}
    assert parse(b"type=test").fields["source"] is None


def test_a_large_form_is_parsed_off_the_loop_with_the_same_result():
    value = "é" * 100_000
    body = b"type=test&source=" + value.encode().replace(b"\xc3\xa9", b"%C3%A9")
    assert parse(body).fields["source"] == value


@pytest.mark.parametrize(
    "body,content_type,why",
    [
        (b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS + 1)), URLENCODED,
         "Max number of fields exceeded"),
        (b"x", "multipart/form-data", "multipart boundary not found"),
        (b"--b\r\nfoo: bar\r\n\r\nv\r\n--b--\r\n", "multipart/form-data; boundary=b",
         "Invalid multipart/form-data"),
        (b"type=%FF", URLENCODED, "Form field type is not UTF-8 text"),
    ],
)  # fmt: skip
def test_malformed_bodies_are_400s_saying_what_is_wrong(body, content_type, why):
    with pytest.raises(RequestFailed) as refused:
        parse(body, content_type)
    assert refused.value.kind is ErrorKind.INVALID and why in refused.value.message
