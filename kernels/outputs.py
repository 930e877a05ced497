"""Turn a kernel's IOPub messages for one execution into a list of outputs, within a size cap.

Outputs use nbformat's shapes (`stream`, `display_data`, `execute_result`,
`error`), which anyone who has read a notebook file knows. The collector
follows the Jupyter messaging rules a notebook front end follows: consecutive
writes to the same stream merge, `clear_output` (also with `wait=True`) clears,
and `update_display_data` replaces the display with the same id.

The output a render may hold is capped (`limit`, the server's --max-output-size):
a `print` loop or a flood of displays would otherwise grow the server without
bound. Past the cap the rest of the render's output is dropped (the kernel is
told the cap too and stops sending early, kernels/runtime.py) and the page says,
where the output stops, that it was cut. What is held is counted, not what was
sent: a progress display that clears and redraws itself never reaches the cap.
"""

from __future__ import annotations

import html
from typing import Any

Output = dict[str, Any]

DEFAULT_LIMIT = 32 * 2**20
CUT_MIME = "application/vnd.kfp-viz.output-cut+json"
"""What a kernel displays when it stopped sending output at the cap (kernels/runtime.py)."""
_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error", "update_display_data")


class OutputCollector:
    """Accumulates the outputs of one execution, message by message, up to `limit` bytes."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.held = 0
        self.cut = False
        self._outputs: list[Output] = []
        self._stream_parts: dict[int, list[str]] = {}
        """Stream outputs' text as pieces, joined once at the end (repeated `+=` on a
        growing text would copy it again for every message: quadratic)."""
        self._clear_pending = False
        self._display_ids: dict[str, list[int]] = {}

    @property
    def room(self) -> int:
        """Bytes of output the render may still hold."""
        return max(self.limit - self.held, 0)

    @property
    def outputs(self) -> list[Output]:
        """The outputs so far, with a note at the end when some were cut."""
        for index, parts in self._stream_parts.items():
            self._outputs[index]["text"] = "".join(parts)
            self._stream_parts[index] = [self._outputs[index]["text"]]
        if self.cut:
            return [*self._outputs, cut_note(self.limit)]
        return self._outputs

    def add(self, msg_type: str, content: dict[str, Any] | None, size: int = 0) -> None:
        """Apply one IOPub message (already known to belong to this execution).

        `content` None: a message too large for the room left, which was not decoded.
        """
        if msg_type == "clear_output":
            if (content or {}).get("wait"):
                self._clear_pending = True
            else:
                self._clear()
            return
        if msg_type not in _OUTPUT_TYPES:
            return
        if (
            self.cut
            or content is None
            or size > self.room
            or CUT_MIME in (content.get("data") or {})
        ):
            self.cut = True  # and stays cut: nothing after the cut point, until a clear
            return
        if msg_type == "update_display_data":
            self._update_display(content)
            return
        output = _to_output(msg_type, content)
        if self._clear_pending:
            self._clear()
        self.held += size
        self._append(output, content)

    def _append(self, output: Output, content: dict[str, Any]) -> None:
        last = len(self._outputs) - 1
        previous = self._outputs[last] if self._outputs else None
        if (
            output["output_type"] == "stream"
            and previous is not None
            and previous["output_type"] == "stream"
            and previous["name"] == output["name"]
        ):
            self._stream_parts.setdefault(last, [previous["text"]]).append(output["text"])
            return
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id:
            self._display_ids.setdefault(display_id, []).append(len(self._outputs))
        self._outputs.append(output)

    def _update_display(self, content: dict[str, Any]) -> None:
        display_id = (content.get("transient") or {}).get("display_id")
        for index in self._display_ids.get(display_id, []) if display_id else ():
            self._outputs[index]["data"] = content.get("data", {})
            self._outputs[index]["metadata"] = content.get("metadata", {})

    def _clear(self) -> None:
        self._outputs = []
        self._stream_parts = {}
        self._display_ids = {}
        self._clear_pending = False
        self.held = 0
        self.cut = False


def cut_note(limit: int) -> Output:
    """The note shown where a render's output was cut."""
    text = (
        f"Output cut here: this visualization produced more than {size_text(limit)} of "
        "output, the server's limit (--max-output-size, MAX_OUTPUT_SIZE); the rest was dropped."
    )
    return {
        "output_type": "display_data",
        "data": {
            "text/html": f'<p class="kfp-viz-cut" role="note">{html.escape(text)}</p>',
            "text/plain": text,
        },
        "metadata": {},
    }


def size_text(size: int) -> str:
    """`32 MiB`, `1.5 MiB`, `512 KiB`, `100 bytes`."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def _to_output(msg_type: str, content: dict[str, Any]) -> Output:
    if msg_type == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if msg_type == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": content.get("traceback", []),
        }
    return {
        "output_type": msg_type,
        "data": content.get("data", {}),
        "metadata": content.get("metadata", {}),
    }
