"""The tenancy's rules with a fake Kubernetes API: who is who, what is cached, for how long.

The real TokenReview and SubjectAccessReview are exercised on a real kube-apiserver in
tests/integration/test_tenancy.py; here the fake counts the reviews the rules ask for.
"""

from __future__ import annotations

import asyncio
import base64
import json

import grpc
import pytest
from kfp_viz_server.auth import Caller, Credentials, HeaderNames, KubeflowTenancy, OpenTenancy
from kfp_viz_server.auth.reviews import Access, ReviewedToken, ReviewUnavailable
from kfp_viz_server.auth.tenancy import token_expiry
from kfp_viz_server.errors import ErrorKind, RequestFailed
from tornado.httputil import HTTPHeaders

AUDIENCE = "pipelines.kubeflow.org"


def jwt(exp: float | None) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({} if exp is None else {'exp': exp})}.signature"


class FakeReviews:
    """Tokens and grants as a cluster would hold them; counts every question asked."""

    def __init__(self) -> None:
        self.tokens: dict[str, ReviewedToken] = {}
        self.grants: set[tuple[str, str]] = set()
        self.asked = {"token": 0, "access": 0}
        self.down = False
        self.delay = 0.0

    async def review_token(self, token: str, audience: str) -> ReviewedToken:
        self.asked["token"] += 1
        await asyncio.sleep(self.delay)
        if self.down:
            raise ReviewUnavailable("the Kubernetes API did not answer: refused")
        return self.tokens.get(token, ReviewedToken(False, error="invalid bearer token"))

    async def allowed(self, user: str, groups: tuple[str, ...], access: Access) -> bool:
        self.asked["access"] += 1
        await asyncio.sleep(self.delay)
        assert (access.verb, access.resource, access.group) == ("get", "runs", AUDIENCE)
        return (user, access.namespace) in self.grants


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def tenancy(reviews: FakeReviews, clock: Clock | None = None, **kwargs) -> KubeflowTenancy:
    return KubeflowTenancy(reviews, audience=AUDIENCE, clock=clock or Clock(), **kwargs)


def step_token(reviews: FakeReviews, namespace: str, exp: float = 2_000_000.0, **kw) -> str:
    token = jwt(exp) + namespace
    user = f"system:serviceaccount:{namespace}:default-editor"
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
    reviews.tokens[token] = ReviewedToken(True, user, groups, kw.get("audiences", (AUDIENCE,)))
    return token


def refusal(coroutine) -> RequestFailed:
    with pytest.raises(RequestFailed) as refused:
        asyncio.run(coroutine)
    return refused.value


# -- credentials ------------------------------------------------------------------------


def test_credentials_read_alike_from_http_headers_and_grpc_metadata():
    names = HeaderNames("kubeflow-userid", "accounts.google.com:")
    headers = HTTPHeaders(
        {"Authorization": "Bearer abc", "Kubeflow-Userid": "accounts.google.com:a@b.c"}
    )
    from_http = Credentials.from_http(headers, names)
    from_grpc = Credentials.from_grpc(
        (("authorization", "Bearer abc"), ("kubeflow-userid", "accounts.google.com:a@b.c")), names
    )
    assert from_http == from_grpc == Credentials("abc", "a@b.c", "")


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ([("Authorization", "Basic dXNlcjpwdw==")], "is not `Bearer <token>`"),
        ([("Authorization", "Bearer")], "is not `Bearer <token>`"),
        ([("Authorization", "Bearer a"), ("Authorization", "Bearer b")], "more than one"),
        ([("kubeflow-userid", "alice@example.com")], "lacks its prefix"),
        ([("kubeflow-userid", "p:")], "names no user"),
    ],
)
def test_unreadable_credentials_say_why(headers, problem):
    parsed = HTTPHeaders()
    for name, value in headers:
        parsed.add(name, value)
    credentials = Credentials.from_http(parsed, HeaderNames("kubeflow-userid", "p:"))
    assert problem in credentials.problem and not credentials.token and not credentials.userid


def test_token_expiry_is_read_from_a_jwt_and_nothing_else():
    assert token_expiry(jwt(1234.0)) == 1234.0
    assert token_expiry(jwt(None)) is None
    assert token_expiry("not-a-jwt") is None
    assert token_expiry("a.!!!.c") is None


# -- publishers -------------------------------------------------------------------------


def test_a_step_publishes_as_its_service_accounts_namespace():
    reviews = FakeReviews()
    token = step_token(reviews, "team-a")
    assert asyncio.run(tenancy(reviews).publisher(Credentials(token))) == "team-a"


@pytest.mark.parametrize(
    ("credentials", "words"),
    [
        (Credentials(), "publishing needs a ServiceAccount token"),
        (Credentials("forged"), "the token was not accepted: invalid bearer token"),
        (Credentials(problem="the Authorization header is not `Bearer <token>`"), "Bearer"),
    ],
)
def test_publishers_without_a_valid_token_are_unauthenticated(credentials, words):
    failure = refusal(tenancy(FakeReviews()).publisher(credentials))
    assert (failure.kind.http_status, failure.kind.grpc_code) == (
        401, grpc.StatusCode.UNAUTHENTICATED,
    )  # fmt: skip
    assert words in failure.message


def test_a_token_for_another_audience_is_unauthenticated():
    reviews = FakeReviews()
    token = step_token(reviews, "team-a", audiences=("https://kubernetes.default.svc",))
    failure = refusal(tenancy(reviews).publisher(Credentials(token)))
    assert failure.kind is ErrorKind.UNAUTHENTICATED and AUDIENCE in failure.message


def test_a_users_token_may_not_publish():
    reviews = FakeReviews()
    reviews.tokens["t"] = ReviewedToken(True, "alice@example.com", (), (AUDIENCE,))
    failure = refusal(tenancy(reviews).publisher(Credentials("t")))
    assert failure.kind is ErrorKind.FORBIDDEN and "alice@example.com" in failure.message


def test_a_review_is_reused_until_the_token_expires_then_asked_again():
    reviews, clock = FakeReviews(), Clock()
    token = step_token(reviews, "team-a", exp=clock.now + 600)
    checks = tenancy(reviews, clock)

    async def publish_many() -> None:
        for _ in range(50):
            assert await checks.publisher(Credentials(token)) == "team-a"

    asyncio.run(publish_many())
    assert reviews.asked["token"] == 1
    clock.now += 601  # expired: the API server now refuses it, and is asked again
    reviews.tokens[token] = ReviewedToken(False, error="token has expired")
    for _ in range(10):
        assert "token has expired" in refusal(checks.publisher(Credentials(token))).message
    assert reviews.asked["token"] == 2


def test_a_refused_token_is_refused_again_without_asking_for_a_few_seconds():
    reviews, clock = FakeReviews(), Clock()
    checks = tenancy(reviews, clock)
    for _ in range(20):
        refusal(checks.publisher(Credentials("bad")))
    assert reviews.asked["token"] == 1
    clock.now += 6
    refusal(checks.publisher(Credentials("bad")))
    assert reviews.asked["token"] == 2


def test_concurrent_first_uses_of_a_token_share_one_review():
    reviews = FakeReviews()
    reviews.delay = 0.05
    token = step_token(reviews, "team-a")
    checks = tenancy(reviews)

    async def together() -> list[str]:
        return await asyncio.gather(*(checks.publisher(Credentials(token)) for _ in range(30)))

    assert asyncio.run(together()) == ["team-a"] * 30
    assert reviews.asked["token"] == 1


def test_an_api_server_that_does_not_answer_is_unavailable_and_nothing_is_cached():
    reviews = FakeReviews()
    token = step_token(reviews, "team-a")
    checks = tenancy(reviews)
    reviews.down = True
    failure = refusal(checks.publisher(Credentials(token)))
    assert failure.kind is ErrorKind.UNAVAILABLE and "did not answer" in failure.message
    reviews.down = False
    assert asyncio.run(checks.publisher(Credentials(token))) == "team-a"


def test_the_token_cache_is_bounded():
    reviews = FakeReviews()
    checks = tenancy(reviews, cache_size=10)
    tokens = [step_token(reviews, f"ns-{i}") for i in range(40)]

    async def all_of_them() -> None:
        for token in tokens:
            await checks.publisher(Credentials(token))

    asyncio.run(all_of_them())
    assert len(checks._tokens) == 10
    asyncio.run(all_of_them())
    assert reviews.asked["token"] == 80  # each evicted before it came round again


# -- readers ----------------------------------------------------------------------------


def test_readers_are_the_gateways_user_or_a_tokens_user_with_its_groups():
    reviews = FakeReviews()
    token = step_token(reviews, "team-a")
    checks = tenancy(reviews)
    assert asyncio.run(checks.reader(Credentials(userid="alice@example.com"))) == Caller(
        "alice@example.com"
    )
    caller = asyncio.run(checks.reader(Credentials(token)))
    assert caller.user == "system:serviceaccount:team-a:default-editor"
    assert "system:serviceaccounts:team-a" in caller.groups


def test_a_reader_with_no_identity_is_unauthenticated():
    failure = refusal(tenancy(FakeReviews()).reader(Credentials()))
    assert failure.kind is ErrorKind.UNAUTHENTICATED and "kubeflow-userid" in failure.message


def test_reading_is_a_subject_access_review_on_the_runs_namespace_cached_briefly():
    reviews, clock = FakeReviews(), Clock()
    reviews.grants.add(("alice", "team-a"))
    checks = tenancy(reviews, clock, access_ttl=10.0)
    alice = Caller("alice")

    async def reads() -> None:
        for _ in range(20):
            await checks.check_read(alice, "team-a", "run r")

    asyncio.run(reads())
    assert reviews.asked["access"] == 1
    failure = refusal(checks.check_read(alice, "team-b", "run r2"))
    assert failure.kind is ErrorKind.FORBIDDEN
    assert "alice may not read run r2" in failure.message and "team-b" not in failure.message
    clock.now += 11
    reviews.grants.discard(("alice", "team-a"))  # a RoleBinding removed: seen after the TTL
    assert refusal(checks.check_read(alice, "team-a", "run r")).kind is ErrorKind.FORBIDDEN


def test_a_run_no_namespace_owns_is_nobodys_to_read():
    reviews = FakeReviews()
    reviews.grants.add(("alice", ""))
    failure = refusal(tenancy(reviews).check_read(Caller("alice"), "", "run r"))
    assert failure.kind is ErrorKind.FORBIDDEN and reviews.asked["access"] == 0


def test_readable_namespaces_are_asked_once_each():
    reviews = FakeReviews()
    reviews.grants |= {("alice", "team-a"), ("alice", "team-c")}
    checks = tenancy(reviews)
    found = asyncio.run(checks.readable(Caller("alice"), ["team-a", "team-b", "team-a", "team-c"]))
    assert found == {"team-a", "team-c"} and reviews.asked["access"] == 3


def test_the_open_tenancy_allows_everything_and_asks_nothing():
    open_ = OpenTenancy()
    assert open_.open
    assert asyncio.run(open_.publisher(Credentials())) == ""
    asyncio.run(open_.check_read(asyncio.run(open_.reader(Credentials())), "any", "run r"))
    assert asyncio.run(open_.readable(Caller(""), ["a", "b"])) == {"a", "b"}
