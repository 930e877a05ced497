"""Tenancy at the edge: who is asking, and may they (Kubeflow's own conventions).

credentials.py  the Bearer token and the gateway's user id, read once from HTTP or gRPC
reviews.py      TokenReview and SubjectAccessReview on the Kubernetes API (the client injected)
tenancy.py      `AUTH=none` (open) and `AUTH=kubeflow`, with their bounded caches
"""

from .credentials import Credentials, HeaderNames
from .tenancy import ANYONE, Caller, KubeflowTenancy, OpenTenancy, Tenancy, tenancy_from_config

__all__ = [
    "ANYONE",
    "Caller",
    "Credentials",
    "HeaderNames",
    "KubeflowTenancy",
    "OpenTenancy",
    "Tenancy",
    "tenancy_from_config",
]
