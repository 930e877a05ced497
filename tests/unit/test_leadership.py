"""The Lease that decides which replica publishes (server/progress/leadership.py), against a
fake coordination API: taken when free, kept by renewing, not taken from a live holder, taken
over only after the holder stopped renewing for the Lease's duration (on this replica's
clock), and a lost race (409) is no leadership."""

from __future__ import annotations

import copy

import pytest
from kfp_viz_server.progress import leadership
from kfp_viz_server.progress.leadership import Lease
from kubernetes.client.exceptions import ApiException


class FakeCoordination:
    """One namespace's Leases with resourceVersion checks, as the API server keeps them."""

    def __init__(self) -> None:
        self.lease = None
        self.version = 0
        self.conflict_next = False

    def read_namespaced_lease(self, name, namespace):
        if self.lease is None:
            raise ApiException(status=404, reason="Not Found")
        return copy.deepcopy(self.lease)

    def create_namespaced_lease(self, namespace, body):
        if self.lease is not None:
            raise ApiException(status=409, reason="Conflict")
        self._store(body)

    def replace_namespaced_lease(self, name, namespace, body):
        if self.conflict_next or body.metadata.resource_version != str(self.version):
            self.conflict_next = False
            raise ApiException(status=409, reason="Conflict")
        self._store(body)

    def _store(self, body):
        self.version += 1
        body.metadata.resource_version = str(self.version)
        self.lease = copy.deepcopy(body)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(leadership.time, "monotonic", lambda: now[0])
    return now


def test_free_taken_renewed_then_taken_over_only_after_it_expires(clock):
    api = FakeCoordination()
    a, b = Lease(api, "ns", "l", "a"), Lease(api, "ns", "l", "b")
    assert a.try_hold() is True
    assert b.try_hold() is False  # a holds it and has just renewed
    clock[0] += 10
    assert a.try_hold() is True  # renewed: b saw the record change
    clock[0] += 10
    assert b.try_hold() is False  # 10 s since b saw a renew: not expired
    clock[0] += leadership.LEASE_SECONDS + 1  # a stopped renewing: 16 s since b saw it renew
    assert b.try_hold() is True
    assert api.lease.spec.holder_identity == "b"
    assert api.lease.spec.lease_transitions == 1
    assert a.try_hold() is False  # b renews from now on


def test_a_released_lease_is_taken_at_once_and_a_lost_race_is_no_leadership(clock):
    api = FakeCoordination()
    a, b = Lease(api, "ns", "l", "a"), Lease(api, "ns", "l", "b")
    assert a.try_hold() is True
    a.release()
    api.conflict_next = True  # another replica wrote between b's read and its write
    assert b.try_hold() is False
    assert b.try_hold() is True
