"""`python -m kfp_viz_server` runs the server, like the `kfp-viz-server` command."""

from .cli import main

raise SystemExit(main())
