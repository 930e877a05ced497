"""Building blocks of the built-in types' pages: bundled assets, embedded data, display.

Pages must work with no network (air-gapped clusters, and the KFP UI's
sandboxed iframe), so every script and style a type needs is inlined from
`kernels/assets/`. The asset files are read once, when this module is imported
in the kernel factory, so a render only joins strings.

Data for client-side scripts travels once, as JSON inside
`<script type="application/json">`, with every `<` escaped so no value can
close the tag or open a comment.
"""

from __future__ import annotations

import difflib
import html
import json
import math
from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any

from IPython.display import HTML, display

# A script's styles: inlined just before it (the base style, viz.css, comes with every type).
STYLES = {
    "roc.js": ("controls.css", "series.css", "roc.css"),
    "table.js": ("controls.css", "table.css"),
    "confusion_matrix.js": ("controls.css", "confusion_matrix.css"),
    "tfdv.js": ("controls.css", "series.css", "tfdv.css"),
    "tfma.js": ("controls.css", "tfma.css"),
}
# Third-party libraries (kernels/assets/vendor/, fetched by scripts/vendor_assets.py): a
# name in `scripts()` stands for their files, style first.
LIBRARIES = {"uplot": ("vendor/uplot/uPlot.min.css", "vendor/uplot/uPlot.iife.min.js")}
ASSET_NAMES = (
    "viz.css",
    "markdown.css",
    "html.css",
    "common.js",
    "html.js",
    *STYLES,
    *{style for styles in STYLES.values() for style in styles},
    *(file for files in LIBRARIES.values() for file in files),
)
SERIES_COLOURS = 6
"""How many series colours series.css defines (--kv-s0 ...); more series cycle through them."""


def _load_assets() -> dict[str, str]:
    folder = resources.files(__package__).joinpath("assets")
    return {name: folder.joinpath(name).read_text("utf-8") for name in ASSET_NAMES}


ASSETS: dict[str, str] = _load_assets()
STYLE = f"<style>{ASSETS['viz.css']}</style>"


def assets_of(*names: str) -> list[str]:
    """What the named scripts (or libraries) need, in page order, each once: the shared
    helpers (common.js), then each one's styles and itself."""
    found = ["common.js"]
    for name in names:
        found.extend(LIBRARIES.get(name) or (*STYLES.get(name, ()), name))
    return list(dict.fromkeys(found))


def scripts(*names: str, skip: tuple[str, ...] | list[str] = ()) -> str:
    """The named scripts with what they need, inlined; `skip` lists assets the page already
    has (a page inlines each at most once)."""
    parts = []
    for asset in assets_of(*names):
        if asset not in skip:
            tag = "style" if asset.endswith(".css") else "script"
            parts.append(f"<{tag}>{ASSETS[asset]}</{tag}>")
    return "".join(parts)


def style(name: str) -> str:
    """One of the assets' styles, inlined (for pages with no script of their own)."""
    return f"<style>{ASSETS[name]}</style>"


def swatch(index: int) -> str:
    """A small square in series colour `index` (the colour a chart gives that series)."""
    return f'<span class="kv-swatch" style="background:var(--kv-s{index % SERIES_COLOURS})"></span>'


def json_script(data: Any, *, raw: str | None = None, cls: str = "kv-data") -> str:
    """`data` (or JSON text already made, `raw`) as an inert JSON block scripts can parse,
    found by its class `cls`."""
    text = raw if raw is not None else json.dumps(data, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c")  # "<" only occurs inside JSON strings
    return f'<script type="application/json" class="{cls}">{text}</script>'


PAGE_SIZES = (25, 100, 500, 1000)
DEFAULT_PAGE_SIZE = 100


def data_table(
    columns: list[str],
    formats: list[dict[str, Any]],
    rows: str,
    *,
    title: str = "",
    label: str = "Rows",
    extra: dict[str, Any] | None = None,
    skip: tuple[str, ...] | list[str] = (),
) -> str:
    """The table widget (table.js): `rows` is JSON text of a list of rows (lists of values,
    missing ones null); `formats` says per column what it holds and how to show it (see
    `kfp_viz_kernels.columns`); `extra` travels with them for a script that reads the same
    data (TFMA's intervals). `skip`: assets the page already has (see `scripts`)."""
    head = {"columns": columns, "formats": formats, **(extra or {})}
    text = json.dumps(head, separators=(",", ":"), allow_nan=False)
    data = json_script(None, raw=text[:-1] + ',"rows":' + rows + "}")
    sizes = "".join(
        f"<option{' selected' if s == DEFAULT_PAGE_SIZE else ''}>{s}</option>" for s in PAGE_SIZES
    )
    return (
        '<div class="kv-datatable">'
        + (f'<p class="kv-note">{esc(title)}</p>' if title else "")
        + '<div class="kv-bar"><input type="search" class="kv-search" placeholder="Search rows" '
        f'aria-label="Search rows"><span class="kv-count" aria-live="polite"></span>'
        '<button class="kv-prev" type="button">&lsaquo; Prev</button><span class="kv-page"></span>'
        '<button class="kv-next" type="button">Next &rsaquo;</button>'
        f'<label>rows per page <select class="kv-size">{sizes}</select></label>'
        '<button class="kv-summarize" type="button" aria-pressed="false">Column summaries'
        '</button><button class="kv-export" type="button" aria-expanded="false">Export CSV'
        "</button></div>"
        '<div class="kv-export-box" hidden><p class="kv-note kv-export-note"></p>'
        '<textarea class="kv-export-text" readonly rows="6" aria-label="Rows shown, as CSV">'
        '</textarea><div class="kv-bar"><button class="kv-copy" type="button">Copy</button>'
        '<a class="kv-download" download="rows.csv" href="#">Download rows.csv</a>'
        '<span class="kv-copied" aria-live="polite"></span></div></div>'
        f'<div class="kv-scroll" tabindex="0" role="region" aria-label="{esc(label)}">'
        '<table class="kv-pin"><thead></thead><tbody></tbody></table></div>'
        + data
        + scripts("table.js", skip=skip)
        + "</div>"
    )


def show(body: str, kind: str, *, notes: str = "") -> None:
    """Display one type's HTML, wrapped with the shared style; `notes` (HTML, e.g. from
    `unknown_arguments`) go above it."""
    display(HTML(f'{STYLE}<div class="kv kv-{kind}">{notes}{body}</div>'))


def unknown_arguments(variables: Mapping[str, object], known: Collection[str]) -> str:
    """A note naming each argument the type does not know (with the nearest known name),
    or "". The stock server ignores arguments it does not use, and so does every type here
    (the contract stays); but a typo such as `truecalss` would silently change nothing,
    so the page says so."""
    unknown = [name for name in variables if name not in known]
    if not unknown:
        return ""
    listed = ", ".join(f"<code>{esc(k)}</code>" for k in sorted(known)) or "none"
    items = []
    for name in unknown:
        close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
        hint = f" (did you mean <code>{esc(close[0])}</code>?)" if close else ""
        items.append(f"<code>{esc(name)}</code>{hint}")
    many = len(unknown) > 1
    return (
        f'<p class="kv-notice" role="note">Unknown argument{"s" if many else ""} '
        f"{', '.join(items)}: ignored. Known: {listed}.</p>"
    )


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any, digits: int = 4) -> str:
    """A number as people read it: integers whole, others to `digits` significant places."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN or infinity: such values travel as null."""
    return value if math.isfinite(value) else None
