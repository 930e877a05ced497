"""Client side of kfp-viz-server: what pipeline steps and gRPC users import.

Kept apart from `server/` (the process) and `kernels/` (execution) so a pipeline step can use it
without the server's dependencies; each module imports only what its own job needs.
"""
