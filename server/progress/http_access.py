"""What every progress HTTP handler shares: JSON errors, the tenancy's checks, and CORS.

The wildcard `Access-Control-Allow-Origin` is sent only while nothing is checked
(`AUTH=none`): the KFP UI's sandboxed iframe, whose origin is opaque, then reads events
cross-origin. With tenancy on, pages read runs as their user, from the server's own origin.
"""

from __future__ import annotations

from collections.abc import Callable

from ..http_base import EdgeHandler
from ..http_limits import own_page_policy, page_nonce
from .access import RunAccess


class ProgressHandler(EdgeHandler):
    """What every progress endpoint shares: JSON errors, the tenancy's checks, and the
    wildcard CORS header only while nothing is checked (`AUTH=none`)."""

    json_errors = True
    _access: RunAccess

    def set_default_headers(self) -> None:
        # Also called again by send_error(); at construction, before initialize(), there is
        # no access yet, and initialize() calls this once it is set.
        access = getattr(self, "_access", None)
        if access is not None and access.open:
            self.set_header("Access-Control-Allow-Origin", "*")

    def use_access(self, access: RunAccess) -> None:
        self._access = access
        self.set_default_headers()

    async def reader_of(self, run_ids: list[str]) -> None:
        """RequestFailed unless the request's user may read every one of `run_ids`."""
        caller = await self._access.reader(self._access.credentials_from_http(self.request.headers))
        for run_id in run_ids:
            await self._access.check_read(caller, run_id)

    def finish_page(self, build: Callable[[str], str]) -> None:
        """Reply with a page of our own, its scripts marked with this response's nonce (the
        only scripts its policy lets run: http_limits.own_page_policy)."""
        nonce = page_nonce()
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", own_page_policy(nonce))
        self.finish(build(nonce))
