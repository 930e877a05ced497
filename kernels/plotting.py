"""Plotting from custom code: the settings that make figures reach the page, offline.

matplotlib, plotly (with nbformat, which it needs to emit its figures) and bokeh are
installed, but nothing imports them until a cell does, so kernels that never plot
pay nothing for them: the kernel factory does not preload them (see `kfp_viz_kernels.zygote`).
Their settings are environment variables, read when the library is first imported:

- matplotlib: IPython's inline backend, which renders with Agg and shows each figure
  as a PNG when the cell ends (`plt.show()` is optional); its font cache and settings
  go to the kernel's HOME, which is its own writable folder (kernels/zygote.py), so
  the first plot of a kernel builds the cache there (about a second).
- plotly: figures are sent as their JSON (`application/vnd.plotly.v1+json`); the
  page exporter (`kfp_viz_kernels.page`) draws them with the plotly.js the package ships,
  inlined once per page, never from a CDN.
- bokeh (as the stock server's image had): after `output_notebook()`, BokehJS comes
  inline with the first output (BOKEH_RESOURCES=inline) instead of from a CDN, and
  `show()` draws each plot with it.
Pages follow the reader's dark mode: a matplotlib figure is shown as a light and a dark
PNG that the browser picks from (`register_dark_figures`), and the page restyles plotly
figures itself (kernels/page.py).
An operator's own values for these variables (passed to kernels with --kernel-env) win.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def environment() -> dict[str, str]:
    """Kernel environment defaults for the plotting libraries."""
    return {
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PLOTLY_RENDERER": "plotly_mimetype",
        "BOKEH_RESOURCES": "inline",
    }


# The page's background and text colours in dark mode (kernels/assets/viz.css, page.html).
DARK_BACKGROUND = "#1f1f1f"
DARK_FOREGROUND = "#e8eaed"


def register_dark_figures(shell: Any) -> None:
    """Have every matplotlib figure shown as HTML that follows the reader's colour scheme.

    Registered by name, so nothing imports matplotlib until a cell does, and for Figure's
    base class: the inline backend, when pyplot is imported, removes every formatter of
    Figure itself before adding its PNG one, and lookups walk the class's bases. The page
    shows a figure's HTML before its PNG (kernels/page.py), and the inline backend's PNG
    stays in the output for any other client.
    """
    html = shell.display_formatter.formatters["text/html"]
    html.for_type_by_name("matplotlib.figure", "FigureBase", figure_html)


def figure_html(figure: Any) -> str | None:
    """The figure as a light PNG and a dark one, in a `<picture>` the browser picks from by
    `prefers-color-scheme`: the dark one is drawn with near-white parts (backgrounds)
    turned to the dark page's background and near-black ones (text, axes, black lines)
    to its text colour; coloured lines and areas keep their colours."""
    from IPython.core import pylabtools

    print_figure: Callable[..., bytes | None] = pylabtools.print_figure
    try:
        light = print_figure(figure, "png", bbox_inches="tight")
        if not light:
            return None
        undo = _recolour_for_dark(figure)
        try:
            dark = print_figure(figure, "png", bbox_inches="tight")
        finally:
            for restore in reversed(undo):
                restore()
    except Exception:  # a figure the PNG path cannot draw: the other formats still show
        return None
    if not dark:
        return None
    light_src, dark_src = _data_url(light), _data_url(dark)
    return (
        f'<picture class="kv-figure-image"><source media="(prefers-color-scheme: dark)" '
        f'srcset="{dark_src}"><img src="{light_src}" alt="matplotlib figure"></picture>'
    )


def _data_url(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _recolour_for_dark(figure: Any) -> list[Callable[[], None]]:
    """Turn near-white and near-black colours of every artist to the dark page's; return
    the calls that put them back."""
    from matplotlib import colors
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.text import Text

    undo: list[Callable[[], None]] = []

    def swap(value: Any) -> Any:
        """The dark-mode colour for `value`, or None to keep it."""
        try:
            rgba = colors.to_rgba(value)
        except (TypeError, ValueError):
            return None
        if rgba[3] == 0:
            return None
        r, g, b = rgba[:3]
        lightness = 0.2126 * r + 0.7152 * g + 0.0722 * b
        if lightness > 0.92:
            return colors.to_rgba(DARK_BACKGROUND, rgba[3])
        if lightness < 0.2 and max(r, g, b) - min(r, g, b) < 0.1:
            return colors.to_rgba(DARK_FOREGROUND, rgba[3])
        return None

    def change(get: Callable[[], Any], put: Callable[[Any], Any]) -> None:
        before = get()
        after = swap(before)
        if after is not None:
            put(after)
            undo.append(lambda: put(before))

    def change_many(get: Callable[[], Any], put: Callable[[Any], Any]) -> None:
        before = get()
        if not len(before):
            return
        after = [swap(c) or tuple(c) for c in before]
        if any(swap(c) is not None for c in before):
            put(after)
            undo.append(lambda: put(before))

    for artist in set(figure.findobj()):  # each artist once (the figure's patch included)
        if isinstance(artist, Text):
            change(artist.get_color, artist.set_color)
        elif isinstance(artist, Line2D):
            change(artist.get_color, artist.set_color)
            change(artist.get_markerfacecolor, artist.set_markerfacecolor)
            change(artist.get_markeredgecolor, artist.set_markeredgecolor)
        elif isinstance(artist, Patch):
            change(artist.get_facecolor, artist.set_facecolor)
            change(artist.get_edgecolor, artist.set_edgecolor)
        elif isinstance(artist, Collection):
            change_many(artist.get_facecolor, artist.set_facecolor)
            change_many(artist.get_edgecolor, artist.set_edgecolor)
    return undo
