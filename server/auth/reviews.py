"""TokenReview and SubjectAccessReview: the Kubernetes API decides, as it does for KFP.

KFP's API server authenticates a pod's Bearer token with a TokenReview (audience
`pipelines.kubeflow.org`) and authorizes a user with a SubjectAccessReview on
`pipelines.kubeflow.org` resources in the namespace; Kubeflow's profiles grant those
through RoleBindings to `kubeflow-edit` / `kubeflow-view`. Asking the same questions of
the same API keeps one source of truth for who may see a namespace's runs.

`Reviews` is what the tenancy needs; `KubeReviews` asks a real API server with the
`kubernetes` client (blocking, so each call runs in a thread); unit tests inject fakes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ReviewedToken:
    """What the API server said of a token."""

    authenticated: bool
    user: str = ""
    groups: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class Access:
    """One question for a SubjectAccessReview: may the user `verb` `resource` in `namespace`?"""

    namespace: str
    verb: str = "get"
    resource: str = "runs"
    group: str = "pipelines.kubeflow.org"


class ReviewUnavailable(Exception):
    """The Kubernetes API did not answer (or refused our own service account): no decision."""


class Reviews(Protocol):
    async def review_token(self, token: str, audience: str) -> ReviewedToken: ...

    async def allowed(self, user: str, groups: tuple[str, ...], access: Access) -> bool: ...


class KubeReviews:
    """Reviews on the Kubernetes API the server runs against (server/kube_api.py)."""

    def __init__(self, api_client: Any = None) -> None:
        self._api_client = api_client

    def _client(self) -> Any:
        if self._api_client is None:
            from ..kube_api import kube_client

            self._api_client = kube_client()
        return self._api_client

    async def review_token(self, token: str, audience: str) -> ReviewedToken:
        return await asyncio.to_thread(self._review_token, token, audience)

    async def allowed(self, user: str, groups: tuple[str, ...], access: Access) -> bool:
        return await asyncio.to_thread(self._allowed, user, groups, access)

    def _review_token(self, token: str, audience: str) -> ReviewedToken:
        from kubernetes import client

        spec = client.V1TokenReviewSpec(token=token, audiences=[audience])
        api = client.AuthenticationV1Api(self._client())
        reviewed = self._call(lambda: api.create_token_review(client.V1TokenReview(spec=spec)))
        status = reviewed.status
        user = status.user
        return ReviewedToken(
            authenticated=bool(status.authenticated),
            user=(user.username or "") if user else "",
            groups=tuple((user.groups or ()) if user else ()),
            audiences=tuple(status.audiences or ()),
            error=status.error or "",
        )

    def _allowed(self, user: str, groups: tuple[str, ...], access: Access) -> bool:
        from kubernetes import client

        body = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=user,
                groups=list(groups) or None,
                resource_attributes=client.V1ResourceAttributes(
                    namespace=access.namespace, verb=access.verb,
                    group=access.group, resource=access.resource,
                ),
            )
        )  # fmt: skip
        api = client.AuthorizationV1Api(self._client())
        reviewed = self._call(lambda: api.create_subject_access_review(body))
        return bool(reviewed.status.allowed)

    @staticmethod
    def _call(request: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return request()
        except ApiException as error:
            raise ReviewUnavailable(
                f"the Kubernetes API refused the review ({error.status} {error.reason}); "
                "does the server's ServiceAccount have the tenancy component's ClusterRole?"
            ) from None
        except Exception as error:  # connection refused, TLS, timeouts
            raise ReviewUnavailable(f"the Kubernetes API did not answer: {error}") from None
