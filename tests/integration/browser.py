"""Headless Chromium (Debian's package) driven by Playwright, showing pages the way KFP's UI does.

The KFP UI puts a visualization's HTML into `<iframe sandbox="allow-scripts" srcdoc=...>`:
scripts run, the origin is opaque, nothing else is allowed. `show_in_kfp_iframe` does the same
inside a blank host page and records console errors and uncaught exceptions, so a test can assert
there were none.

An offline browser sends every request, loopback included, to a proxy that is not there, so any
fetch fails with net::ERR_PROXY_CONNECTION_FAILED (which shows as a console error). That is done
with launch flags because Playwright's request routing does not see a sandboxed srcdoc frame's
requests.

`axe_violations` runs axe-core (from npm, installed by scripts/lib/deps.sh) in a frame and
returns its serious and critical findings, the ones a page for people must not have.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Frame, Page, Playwright

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

HOST_PAGE = (
    "<!doctype html><html><body style='margin:0'>"
    "<iframe id='viz' sandbox='allow-scripts' style='width:{width}px;height:{height}px;border:0'>"
    "</iframe></body></html>"
)


OFFLINE_FLAGS = ["--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
BLOCKED = "net::ERR_PROXY_CONNECTION_FAILED"


def launch_chromium(playwright: Playwright, offline: bool = True) -> Browser:
    """Debian's Chromium at $KFP_VIZ_CHROMIUM (default /usr/bin/chromium), never a download."""
    path = os.environ.get("KFP_VIZ_CHROMIUM", "/usr/bin/chromium")
    assert os.path.exists(path), f"{path} missing: run ./scripts/test (scripts/lib/deps.sh)"
    flags = CHROMIUM_FLAGS + (OFFLINE_FLAGS if offline else [])
    return playwright.chromium.launch(executable_path=path, args=flags)


@dataclass
class ShownPage:
    """The host page, the visualization's frame inside it, and what went wrong while showing it."""

    page: Page
    frame: Frame
    errors: list[str] = field(default_factory=list)


def show_in_kfp_iframe(
    browser: Browser,
    html: str,
    timeout_ms: float = 60_000,
    *,
    width: int = 1200,
    height: int = 900,
    color_scheme: str = "light",
) -> ShownPage:
    """Load `html` by `srcdoc` into a sandboxed iframe of `width` x `height` CSS pixels (KFP's
    UI gives about 1200 x 900 on a laptop) and wait for its load event. `color_scheme` is what
    `prefers-color-scheme` answers ("light" or "dark").

    The caller closes `shown.page.context` (or lets the `browser` fixture's teardown do it).
    """
    context = browser.new_context(
        viewport={"width": width + 80, "height": height + 100}, color_scheme=color_scheme
    )
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.set_content(HOST_PAGE.format(width=width, height=height))
    srcdoc = lambda frame: frame.url == "about:srcdoc"  # noqa: E731
    with page.expect_event("framenavigated", predicate=srcdoc, timeout=timeout_ms) as navigated:
        page.evaluate("html => { document.getElementById('viz').srcdoc = html; }", html)
    frame = navigated.value
    frame.wait_for_load_state("load")
    return ShownPage(page, frame, errors)


AXE_IMPACTS = ("serious", "critical")


@functools.cache
def _axe_source() -> str:
    path = os.environ.get("KFP_VIZ_AXE", "")
    assert path and Path(path).is_file(), (
        f"axe-core missing ({path or 'KFP_VIZ_AXE unset'}): run ./scripts/test (deps.sh)"
    )
    return Path(path).read_text()


def axe_violations(frame: Frame, impacts: tuple[str, ...] = AXE_IMPACTS) -> list[dict]:
    """axe-core's violations of `impacts` in `frame`'s document: rule id, impact, help, and the
    selectors of the offending nodes. Nested frames are left out (run it in each frame)."""
    if not frame.evaluate("() => typeof window.axe === 'object'"):
        frame.evaluate(_axe_source())
    found = frame.evaluate(
        """async impacts => {
          const result = await axe.run(document, {iframes: false, resultTypes: ["violations"]});
          return result.violations.filter(v => impacts.includes(v.impact)).map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary),
          }));
        }""",
        list(impacts),
    )
    return found


def wait_in(target: Page | Frame, expression: str, arg: object = None, timeout: float = 30_000):
    """Wait until `expression` (a JS expression, or a function of `arg`) is truthy in the page,
    polling it with `evaluate` from here; `timeout` in milliseconds, as Playwright's.

    Playwright's own `wait_for_function` polls inside the page by evaluating a string, which
    our progress pages forbid: their policy runs only their own scripts (no `eval`), and the
    tests keep that policy on, so a script it would block fails them."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = target.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout / 1000:g} s: {expression}")
        time.sleep(0.05)
