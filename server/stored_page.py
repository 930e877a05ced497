"""A stored page: its reference (every way to name or open it) and the small page sent instead.

The small page always fits KFP's reply. With a payload (the full page gzip'd and
base64'd) it unpacks itself in the browser; without one it shows what was stored
and links to it. Either way the reference travels as JSON in
`<script type="application/json" id="kfp-viz-reference">`.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .store import CONTENT_TYPE

PAGE_ID = re.compile(r"^[0-9a-f]{64}$")


def valid_page_id(page_id: str) -> bool:
    """A page id is the 64 lowercase hex digits of its SHA-256: never a path, never a pattern."""
    return bool(PAGE_ID.match(page_id))


@dataclass(frozen=True)
class StoredPage:
    """A complete page in the store, and every way to name or open it."""

    id: str
    """The hex SHA-256 of the page's bytes."""
    uri: str
    size: int
    sha256: str
    content_type: str
    presigned_url: str | None
    presigned_expires: dt.datetime | None
    deduplicated: bool
    namespace: str = ""
    """The profile namespace whose page it is (--serve-profiles); "" = the server's own."""

    def http_url(self, base_url: str) -> str:
        """This server's address for the page; a namespace's page names its namespace, which
        the server reads it back with (its own prefix and keys)."""
        url = f"{base_url.rstrip('/')}/visualizations/{self.id}"
        return f"{url}?namespace={self.namespace}" if self.namespace else url

    def as_json(self, base_url: str, delivery: str) -> dict[str, Any]:
        return {
            "kind": "kfp-viz-stored-page",
            "delivery": delivery,
            "id": self.id,
            "namespace": self.namespace,
            "uri": self.uri,
            "size": self.size,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "http_url": self.http_url(base_url),
            "presigned_url": self.presigned_url,
            "presigned_url_expires": (
                self.presigned_expires.isoformat() if self.presigned_expires else None
            ),
        }


class StoredPageTemplate:
    """The small page sent in place of a stored one; parsed once, filled by joins."""

    def __init__(self, page: str, unpack_script: str) -> None:
        self._parts = re.split(r"\{\{(\w+)\}\}", page)
        self._unpack = f"<script>\n{unpack_script}</script>"

    @classmethod
    def default(cls) -> StoredPageTemplate:
        folder = resources.files(__package__).joinpath("templates")
        return cls(
            folder.joinpath("stored_page.html").read_text("utf-8"),
            folder.joinpath("unpack.js").read_text("utf-8"),
        )

    def render(self, page: StoredPage, base_url: str, payload: str = "") -> str:
        """The small page; with a payload (base64 of the gzip'd page) it unpacks itself."""
        delivery = "compressed" if payload else "reference"
        reference = json.dumps(page.as_json(base_url, delivery), sort_keys=True)
        size_text = f"{page.size:,} bytes ({page.size / 2**20:.1f} MiB)"
        if payload:
            status = f"Unpacking the visualization ({size_text})..."
        else:
            status = (
                f"This visualization is {size_text}, too large to show here; "
                "it was stored and can be opened with a link below."
            )
        presigned = ""
        if page.presigned_url and page.presigned_expires:
            expires = page.presigned_expires.strftime("%Y-%m-%d %H:%M UTC")
            url = html_lib.escape(page.presigned_url)
            presigned = (
                f"<p>Or straight from the object store (link valid until {expires}): "
                f'<a id="kfp-viz-presigned" href="{url}">{url}</a></p>'
            )
        values = {
            "title": "Stored visualization",
            "uri": html_lib.escape(page.uri),
            "reference": reference.replace("<", "\\u003c"),
            "status": html_lib.escape(status),
            "size": html_lib.escape(size_text),
            "sha256": page.sha256,
            "http_url": html_lib.escape(page.http_url(base_url)),
            "presigned": presigned,
            "payload": payload,
            "unpack": self._unpack if payload else "",
        }
        return "".join(
            values[part] if index % 2 else part for index, part in enumerate(self._parts)
        )


PLACEHOLDER = StoredPage(  # to measure the small page's shell before the real one exists
    id="0" * 64,
    uri="",
    size=0,
    sha256="0" * 64,
    content_type=CONTENT_TYPE,
    presigned_url=None,
    presigned_expires=None,
    deduplicated=False,
)
