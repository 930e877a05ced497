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
An operator's own values for these variables (passed to kernels with --kernel-env) win.
"""

from __future__ import annotations

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def environment() -> dict[str, str]:
    """Kernel environment defaults for the plotting libraries."""
    return {
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PLOTLY_RENDERER": "plotly_mimetype",
        "BOKEH_RESOURCES": "inline",
    }
