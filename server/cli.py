"""The `kfp-viz-server` command (also `python -m kfp_viz_server`)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from .config import ConfigError, build_parser, load_config


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load_config(argv)
    except ConfigError as error:
        build_parser().error(str(error))  # prints usage and the message, exits 2
    _configure_logging(config.log_level)
    from .app import serve  # after logging is set up: importing the app loads grpc and zmq

    try:
        asyncio.run(serve(config))
    except OSError as error:
        logging.getLogger("kfp_viz_server").error("cannot start: %s", error)
        return 1
    return 0


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if level != "DEBUG":
        # Every probe and render would otherwise log twice; renders get one line of our own.
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
