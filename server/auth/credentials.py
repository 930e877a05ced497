"""What a request says about who sends it, read once, the same way from HTTP and from gRPC.

Kubeflow's two conventions (those KFP's API server follows):
- a pod sends `Authorization: Bearer <token>`, a projected ServiceAccount token;
- the gateway (oauth2-proxy / dex behind Istio) sets the user it authenticated in a
  header, `kubeflow-userid` in Kubeflow's manifests, maybe behind a prefix
  (`accounts.google.com:` for Google's IAP).
gRPC carries both as metadata under the same (lower-case) keys.

Nothing here decides anything: `Credentials` only says what was presented, and why an
`Authorization` header could not be read. The tenancy (tenancy.py) checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

AUTHORIZATION = "authorization"
BEARER = "bearer "


@dataclass(frozen=True)
class HeaderNames:
    """Where the gateway's user id is (USERID_HEADER) and the prefix it carries (USERID_PREFIX)."""

    userid_header: str = "kubeflow-userid"
    userid_prefix: str = ""


@dataclass(frozen=True)
class Credentials:
    """A request's bearer token and gateway user id, as presented (none checked yet)."""

    token: str = ""
    userid: str = ""
    """The user id with its prefix removed."""
    problem: str = ""
    """Why a presented credential could not be read ("" when there was none, or it was read)."""

    @property
    def presented(self) -> bool:
        return bool(self.token or self.userid or self.problem)

    @classmethod
    def read(cls, values: Callable[[str], list[str]], names: HeaderNames) -> Credentials:
        """From a lookup of every value of a (lower-case) header name."""
        token, problem = _bearer(values(AUTHORIZATION))
        userid, userid_problem = _userid(values(names.userid_header), names)
        return cls(token, userid, problem or userid_problem)

    @classmethod
    def from_http(cls, headers: Any, names: HeaderNames) -> Credentials:
        """From Tornado's `HTTPHeaders` (case-insensitive, repeated headers kept apart)."""
        return cls.read(headers.get_list, names)

    @classmethod
    def from_grpc(cls, metadata: Sequence[tuple[str, str | bytes]] | None,
                  names: HeaderNames) -> Credentials:  # fmt: skip
        """From a call's invocation metadata (keys are lower-case on the wire)."""
        pairs = [(key.lower(), value) for key, value in metadata or ()]

        def values(name: str) -> list[str]:
            return [v if isinstance(v, str) else "" for k, v in pairs if k == name]

        return cls.read(values, names)


def _bearer(values: list[str]) -> tuple[str, str]:
    """(token, problem) of the Authorization header's values."""
    if not values:
        return "", ""
    if len(values) > 1:
        return "", "more than one Authorization header"
    value = values[0].strip()
    if not value.lower().startswith(BEARER) or not value[len(BEARER) :].strip():
        return "", "the Authorization header is not `Bearer <token>`"
    return value[len(BEARER) :].strip(), ""


def _userid(values: list[str], names: HeaderNames) -> tuple[str, str]:
    """(user id, problem) of the gateway's header's values."""
    if not values:
        return "", ""
    if len(values) > 1:
        return "", f"more than one {names.userid_header} header"
    value = values[0].strip()
    if not value.startswith(names.userid_prefix):
        return "", f"the {names.userid_header} header lacks its prefix {names.userid_prefix!r}"
    user = value[len(names.userid_prefix) :]
    if not user or not user.isprintable():
        return "", f"the {names.userid_header} header names no user"
    return user, ""
