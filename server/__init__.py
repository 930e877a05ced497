"""Edge of kfp-viz-server: configuration, HTTP and gRPC protocols, metrics, lifecycle.

The execution core lives in `kernels`; this package validates wire requests,
hands them to it, and maps its answers back onto each protocol.
"""
