"""Receiving kernel output: signed, whole, and with at most two copies of a large output alive."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tracemalloc
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
import zmq
import zmq.asyncio
from jupyter_client.session import Session
from kfp_viz_kernels.kernel import _decode, _receive_iopub

KEY = b"a key only the server and its kernels know"


@contextlib.asynccontextmanager
async def kernel_link() -> AsyncIterator[tuple[zmq.asyncio.Socket, SimpleNamespace]]:
    """A real zmq socket pair: the kernel's end (PUSH), and a client whose iopub is the other."""
    context = zmq.asyncio.Context()
    pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push.connect(f"tcp://127.0.0.1:{port}")
    client = SimpleNamespace(session=Session(key=KEY), iopub_channel=SimpleNamespace(socket=pull))
    try:
        yield push, client
    finally:
        push.close(0)
        pull.close(0)
        context.term()


ROOM = 2**40


def receive(*sends: tuple[bytes, dict], room: int = ROOM) -> list:
    """Send display_data messages, signed with the given keys, over a real zmq socket pair.

    Each is received with `_receive_iopub`: (message, peak of new allocations), or the error.
    """

    async def run() -> list:
        results = []
        async with kernel_link() as (push, client):
            for key, content in sends:
                # Waiting before the message arrives, as a render does: the frames then come
                # through a future that outlives the receive for a moment.
                receiving = asyncio.ensure_future(_receive_iopub(client, room))
                await asyncio.sleep(0.05)
                Session(key=key).send(push, "display_data", content)  # not counted: the kernel's
                tracemalloc.start()
                try:
                    message, _ = await receiving
                    results.append((message, tracemalloc.get_traced_memory()[1]))
                except ValueError as error:
                    results.append(error)
                finally:
                    tracemalloc.stop()
        return results

    return asyncio.run(run())


def test_a_large_output_arrives_whole_holding_two_copies_at_most():
    html = "<pre>" + "0123456789abcdef\n" * 1_200_000 + "</pre>"  # 20 MB
    ((message, peak),) = receive((KEY, {"data": {"text/html": html}, "metadata": {}}))
    assert message["msg_type"] == "display_data"
    assert message["content"]["data"]["text/html"] == html
    size = len(html.encode())
    # The received bytes and the text decoded from them, or that text and the parsed one; never
    # all three (jupyter_client's get_msg peaks at three). The parser's own pieces for the
    # escaped newlines take the rest.
    assert peak < 2.4 * size, f"{peak / size:.2f} copies"


def test_non_ascii_output_is_decoded_in_slices_without_a_third_copy():
    for tail in ("é", "€", "😀"):  # texts of 1, 2 and 4 bytes a character in memory
        html = "<pre>" + "0123456789abcdef" * 1_200_000 + tail + "</pre>"
        ((message, peak),) = receive((KEY, {"data": {"text/html": html}, "metadata": {}}))
        assert message["content"]["data"]["text/html"] == html
        copies = peak / max(len(html.encode()), sys.getsizeof(html))  # bytes or text, the larger
        assert copies < 2.2, f"{tail}: {copies:.2f} copies"


def test_bytes_that_are_not_utf8_are_replaced_as_jupyter_client_does():
    assert _decode(b"ok \xff " + "é".encode() * 3_000_000) == "ok \ufffd " + "é" * 3_000_000
    split = "€".encode() * 2_000_000  # slices cut through characters
    assert _decode(split) == "€" * 2_000_000


def test_a_message_signed_with_another_key_is_refused():
    (error,) = receive((b"someone else", {"data": {"text/plain": "forged"}}))
    assert isinstance(error, ValueError) and "Invalid Signature" in str(error)


def test_a_replayed_message_is_refused():
    async def run() -> list:
        frames = Session(key=KEY).serialize(Session(key=KEY).msg("stream", {"text": "once"}))
        async with kernel_link() as (push, client):
            await push.send_multipart(frames)
            await push.send_multipart(frames)
            first, _ = await _receive_iopub(client, ROOM)
            with pytest.raises(ValueError, match="Duplicate Signature"):
                await _receive_iopub(client, ROOM)
            return first

    assert asyncio.run(run())["content"] == {"text": "once"}


def test_an_output_past_the_room_left_is_not_decoded():
    """A render over its output cap: the message's header is read, its content never is."""
    html = "<pre>" + "0123456789abcdef\n" * 1_200_000 + "</pre>"  # 20 MB
    ((message, peak),) = receive((KEY, {"data": {"text/html": html}, "metadata": {}}), room=1000)
    assert message["msg_type"] == "display_data" and message["content"] is None
    assert message["parent_header"] == {}
    assert peak < 2**20, f"{peak} bytes allocated for a message that is dropped"
