"""Who may publish into a run and who may read it: `AUTH=none` or `AUTH=kubeflow`.

- `OpenTenancy` (`none`, the default): no checks, as before: anyone who reaches the ports
  publishes into and reads any run, and the pages' streams allow any origin.
- `KubeflowTenancy` (`kubeflow`): Kubeflow's own conventions, as KFP's API server follows them.
  - A *publisher* (a pipeline step) presents a ServiceAccount token with the audience
    `TOKEN_AUDIENCE`, checked with a TokenReview; it publishes as its service account's
    namespace, whatever its events say.
  - A *reader* is the user the gateway names in `USERID_HEADER` (prefix `USERID_PREFIX`
    removed), or the user of a Bearer token; it may read a run when a SubjectAccessReview
    allows it `get` on `runs.pipelines.kubeflow.org` in the run's namespace.
  - No identity: 401 / UNAUTHENTICATED; not allowed: 403 / PERMISSION_DENIED.

Both answers are cached, bounded (`AUTH_CACHE_SIZE` each, least recently used first out):
a token's review until the token expires (its `exp`; a refusal for a few seconds, so a
flood of bad tokens costs the API server little), an access decision for
`ACCESS_REVIEW_TTL`. Concurrent requests with the same uncached question share one review.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cachetools import TLRUCache, TTLCache

from ..errors import ErrorKind, RequestFailed
from .credentials import Credentials, HeaderNames
from .reviews import Access, KubeReviews, ReviewedToken, Reviews, ReviewUnavailable

T = TypeVar("T")

REFUSED_TOKEN_SECONDS = 5.0
"""How long a token the API server refused stays refused without asking again."""
UNKNOWN_EXPIRY_SECONDS = 60.0
"""How long a review is reused when the token says nothing of its expiry (not a JWT)."""
SERVICE_ACCOUNT = "system:serviceaccount:"


@dataclass(frozen=True)
class Caller:
    """A reader as the Kubernetes API knows it: a user (and groups, from a token's review)."""

    user: str
    groups: tuple[str, ...] = ()

    @property
    def service_account_namespace(self) -> str:
        """The namespace of a ServiceAccount user (`system:serviceaccount:NS:NAME`), else ""."""
        if not self.user.startswith(SERVICE_ACCOUNT):
            return ""
        namespace, _, name = self.user[len(SERVICE_ACCOUNT) :].partition(":")
        return namespace if name else ""


ANYONE = Caller("")
"""The caller of an open server: no identity is asked for."""


class Tenancy(Protocol):
    """The checks every progress endpoint makes, whatever its protocol."""

    mode: str
    names: HeaderNames

    @property
    def open(self) -> bool:
        """True when nothing is checked (`AUTH=none`): pages may be read from any origin."""
        ...

    async def publisher(self, credentials: Credentials) -> str:
        """The namespace the sender publishes as ("" for an open server: any), or RequestFailed."""
        ...

    async def reader(self, credentials: Credentials) -> Caller:
        """Who reads, or RequestFailed(UNAUTHENTICATED)."""
        ...

    async def check_read(self, caller: Caller, namespace: str, what: str) -> None:
        """RequestFailed(FORBIDDEN) unless `caller` may read runs of `namespace`; `what`
        names the thing refused in the message (e.g. "run 1234")."""
        ...

    async def readable(self, caller: Caller, namespaces: Iterable[str]) -> set[str]:
        """The namespaces among `namespaces` whose runs `caller` may read."""
        ...

    def status(self) -> dict[str, Any]:
        """For /readyz: the mode, and the reviews asked of the Kubernetes API so far."""
        ...


class OpenTenancy:
    """`AUTH=none`: everyone may do everything (the server's behaviour before tenancy)."""

    mode = "none"

    def __init__(self, names: HeaderNames | None = None) -> None:
        self.names = names or HeaderNames()

    @property
    def open(self) -> bool:
        return True

    async def publisher(self, credentials: Credentials) -> str:
        return ""

    async def reader(self, credentials: Credentials) -> Caller:
        return ANYONE

    async def check_read(self, caller: Caller, namespace: str, what: str) -> None:
        return None

    async def readable(self, caller: Caller, namespaces: Iterable[str]) -> set[str]:
        return set(namespaces)

    def status(self) -> dict[str, Any]:
        return {"mode": self.mode}


class KubeflowTenancy:
    """`AUTH=kubeflow`: TokenReview for publishers, SubjectAccessReview for readers."""

    mode = "kubeflow"

    def __init__(
        self,
        reviews: Reviews,
        *,
        audience: str = "pipelines.kubeflow.org",
        names: HeaderNames | None = None,
        cache_size: int = 10_000,
        access_ttl: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.names = names or HeaderNames()
        self.audience = audience
        self._reviews = reviews
        self._clock = clock
        self._tokens: TLRUCache[str, tuple[ReviewedToken, float]] = TLRUCache(
            maxsize=cache_size, ttu=lambda _key, value, _now: value[1], timer=clock
        )
        self._access: TTLCache[Hashable, bool] = TTLCache(
            maxsize=cache_size, ttl=access_ttl, timer=clock
        )
        self._pending: dict[Hashable, asyncio.Future[Any]] = {}
        self.reviews_made = {"token": 0, "access": 0}
        """Reviews asked of the API server (cache misses), for /readyz and tests."""
        self.last_error = ""
        """Why the API server last gave no answer ("" once it answers again)."""

    @property
    def open(self) -> bool:
        return False

    def status(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "audience": self.audience,
            "reviews": dict(self.reviews_made),
            "cached": {"tokens": len(self._tokens), "access": len(self._access)},
            "last_error": self.last_error,
        }

    # -- publishers -------------------------------------------------------------------

    async def publisher(self, credentials: Credentials) -> str:
        if credentials.problem:
            raise _unauthenticated(credentials.problem)
        if not credentials.token:
            raise _unauthenticated(
                "publishing needs a ServiceAccount token: send `Authorization: Bearer <token>` "
                f"with audience {self.audience} (the SDK reads KF_PIPELINES_SA_TOKEN_PATH)"
            )
        reviewed = await self._review(credentials.token)
        namespace = Caller(reviewed.user).service_account_namespace
        if not namespace:
            raise RequestFailed(
                ErrorKind.FORBIDDEN,
                f"only a ServiceAccount's token may publish (a pipeline step's); this token is "
                f"user {reviewed.user!r}'s",
            )
        return namespace

    # -- readers ----------------------------------------------------------------------

    async def reader(self, credentials: Credentials) -> Caller:
        if credentials.problem:
            raise _unauthenticated(credentials.problem)
        if credentials.userid:
            return Caller(credentials.userid)
        if credentials.token:
            reviewed = await self._review(credentials.token)
            return Caller(reviewed.user, reviewed.groups)
        raise _unauthenticated(
            f"no identity: open this through Kubeflow's gateway (it sets "
            f"{self.names.userid_header}) or send `Authorization: Bearer <token>` with "
            f"audience {self.audience}"
        )

    async def check_read(self, caller: Caller, namespace: str, what: str) -> None:
        if not await self._may_read(caller, namespace):
            raise RequestFailed(
                ErrorKind.FORBIDDEN,
                f"{caller.user} may not read {what}: reading needs `get` on "
                "runs.pipelines.kubeflow.org in its namespace",
            )

    async def readable(self, caller: Caller, namespaces: Iterable[str]) -> set[str]:
        unique = sorted(set(namespaces))
        answers = await asyncio.gather(*(self._may_read(caller, ns) for ns in unique))
        return {ns for ns, allowed in zip(unique, answers, strict=True) if allowed}

    async def _may_read(self, caller: Caller, namespace: str) -> bool:
        if not namespace:
            return False  # a run no namespace owns is nobody's to read here
        key = (caller.user, caller.groups, namespace)
        found = self._access.get(key)
        if found is not None:
            return found
        allowed: bool = await self._shared(
            ("access", key),
            lambda: self._reviews.allowed(caller.user, caller.groups, Access(namespace)),
        )
        self.reviews_made["access"] += 1
        self._access[key] = allowed
        return allowed

    # -- tokens -----------------------------------------------------------------------

    async def _review(self, token: str) -> ReviewedToken:
        """The token's review (cached), or RequestFailed(UNAUTHENTICATED) when refused."""
        key = hashlib.sha256(token.encode()).hexdigest()  # no token kept as a key
        cached = self._tokens.get(key)
        if cached is None:
            reviewed: ReviewedToken = await self._shared(
                ("token", key), lambda: self._reviews.review_token(token, self.audience)
            )
            self.reviews_made["token"] += 1
            cached = (reviewed, self._expiry(token, reviewed))
            self._tokens[key] = cached
        reviewed = cached[0]
        if not reviewed.authenticated:
            raise _unauthenticated(f"the token was not accepted: {reviewed.error or 'refused'}")
        if self.audience not in reviewed.audiences:
            raise _unauthenticated(
                f"the token's audiences {list(reviewed.audiences)} do not include {self.audience}"
            )
        return reviewed

    def _expiry(self, token: str, reviewed: ReviewedToken) -> float:
        now = self._clock()
        if not reviewed.authenticated:
            return now + REFUSED_TOKEN_SECONDS
        expires = token_expiry(token)
        return expires if expires is not None else now + UNKNOWN_EXPIRY_SECONDS

    async def _shared(self, key: Hashable, review: Callable[[], Awaitable[T]]) -> T:
        """One review per question in flight; every asker gets its answer (or its failure)."""
        pending = self._pending.get(key)
        if pending is not None:
            result: T = await asyncio.shield(pending)
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            answer = await review()
            self.last_error = ""
        except ReviewUnavailable as error:
            self.last_error = str(error)
            failure = RequestFailed(ErrorKind.UNAVAILABLE, f"cannot check the caller: {error}")
            future.set_exception(failure)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise failure from None
        else:
            future.set_result(answer)
            return answer
        finally:
            del self._pending[key]


def token_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (seconds since the epoch), unverified: it only bounds how long
    the API server's review of the token is reused; the review itself decides."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def _unauthenticated(problem: str) -> RequestFailed:
    return RequestFailed(ErrorKind.UNAUTHENTICATED, f"Unauthenticated: {problem}")


def tenancy_from_config(config: Any, reviews: Reviews | None = None) -> Tenancy:
    """The tenancy `AUTH` asks for (server/config.py's AuthConfig)."""
    names = HeaderNames(config.userid_header, config.userid_prefix)
    if config.auth == "none":
        return OpenTenancy(names)
    return KubeflowTenancy(
        reviews or KubeReviews(),
        audience=config.token_audience,
        names=names,
        cache_size=config.auth_cache_size,
        access_ttl=config.access_review_ttl,
    )
