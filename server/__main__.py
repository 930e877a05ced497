"""`python -m server` runs the server, like the `kfp-viz-server` command."""

from .cli import main

raise SystemExit(main())
