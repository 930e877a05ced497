"""Turn a kernel's IOPub messages for one execution into a list of outputs.

Outputs use nbformat's shapes (`stream`, `display_data`, `execute_result`,
`error`), which anyone who has read a notebook file knows. The collector
follows the Jupyter messaging rules a notebook front end follows: consecutive
writes to the same stream merge, `clear_output` (also with `wait=True`) clears,
and `update_display_data` replaces the display with the same id.
"""

from __future__ import annotations

from typing import Any

Output = dict[str, Any]


class OutputCollector:
    """Accumulates the outputs of one execution, message by message."""

    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self._clear_pending = False
        self._display_ids: dict[str, list[int]] = {}

    def add(self, msg_type: str, content: dict[str, Any]) -> None:
        """Apply one IOPub message (already known to belong to this execution)."""
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_pending = True
            else:
                self._clear()
            return
        if msg_type == "update_display_data":
            self._update_display(content)
            return
        output = _to_output(msg_type, content)
        if output is None:
            return
        if self._clear_pending:
            self._clear()
        self._append(output, content)

    def _append(self, output: Output, content: dict[str, Any]) -> None:
        previous = self.outputs[-1] if self.outputs else None
        if (
            output["output_type"] == "stream"
            and previous is not None
            and previous["output_type"] == "stream"
            and previous["name"] == output["name"]
        ):
            previous["text"] += output["text"]
            return
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id:
            self._display_ids.setdefault(display_id, []).append(len(self.outputs))
        self.outputs.append(output)

    def _update_display(self, content: dict[str, Any]) -> None:
        display_id = (content.get("transient") or {}).get("display_id")
        for index in self._display_ids.get(display_id, []):
            self.outputs[index]["data"] = content.get("data", {})
            self.outputs[index]["metadata"] = content.get("metadata", {})

    def _clear(self) -> None:
        self.outputs = []
        self._display_ids = {}
        self._clear_pending = False


def _to_output(msg_type: str, content: dict[str, Any]) -> Output | None:
    if msg_type == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if msg_type in ("display_data", "execute_result"):
        return {
            "output_type": msg_type,
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
        }
    if msg_type == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": content.get("traceback", []),
        }
    return None
