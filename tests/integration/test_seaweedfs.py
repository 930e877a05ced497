"""KFP's own object store since 2.15, SeaweedFS, as a profile namespace's server meets it.

The shared large-page and source tests run against SeaweedFS and MinIO alike (the
`object_store` fixture). What only SeaweedFS in KFP brings is tested here: a profile namespace's
own keys (made through SeaweedFS's IAM API as KFP's profile controller makes them) may use only
a few prefixes of the bucket, may not look at the bucket itself nor ask its region, nor set its
lifecycle rules. The server must still store and serve pages with them, under the prefix
deploy/kustomize/profile-namespace gives it, and say clearly when a prefix is not theirs.
"""

from __future__ import annotations

import pytest
import requests
from minio import Minio
from services import profile_namespace_keys
from stored_pages import reference_of
from support import custom_code, wait_until

pytestmark = pytest.mark.integration

NAMESPACE = "team-a"
LARGE = custom_code(
    "import base64, os",
    "from IPython.display import HTML, display",
    "display(HTML('<pre>' + base64.b64encode(os.urandom(4_500_000)).decode() + '</pre>'))",
)


@pytest.fixture(scope="module")
def keys(seaweedfs) -> dict:
    return profile_namespace_keys(seaweedfs, NAMESPACE)


def _env(seaweedfs, keys: dict, **extra: str) -> dict:
    env = seaweedfs.server_env("mlpipeline", keys["accesskey"], keys["secretkey"])
    return {**env, **extra}


def _large_page(server) -> requests.Response:
    return server.post(type="custom", source="x", arguments=LARGE, timeout=120)


def test_a_profile_namespace_server_stores_pages_under_its_own_prefix(
    start_server, seaweedfs, keys
):
    prefix = f"private-artifacts/{NAMESPACE}/visualizations/"
    env = _env(seaweedfs, keys, STORE_PREFIX=prefix, OBJECTSTORECONFIG_REGION="us-east-1")
    server = start_server("--pool-size", "1", "--allow-custom-visualizations", env=env)
    wait_until(lambda: server.ready()["store"]["ok"], timeout=20, what="store ok")

    reply = _large_page(server)
    assert reply.status_code == 200, reply.reason
    reference = reference_of(reply.text)
    assert reference["uri"] == f"s3://mlpipeline/{prefix}{reference['id']}.html"
    admin = Minio(seaweedfs.endpoint, seaweedfs.access_key, seaweedfs.secret_key, secure=False)
    assert (
        admin.stat_object("mlpipeline", f"{prefix}{reference['id']}.html").size
        == (reference["size"])
    )
    fetched = requests.get(f"{server.url}/visualizations/{reference['id']}", timeout=60)
    assert fetched.status_code == 200 and len(fetched.content) == reference["size"]
    presigned = requests.get(reference["presigned_url"], timeout=60)
    assert presigned.status_code == 200 and presigned.content == fetched.content

    # These keys may not set the bucket's lifecycle: said, not hidden, and nothing else fails.
    wait_until(lambda: server.ready()["store"]["retention"], timeout=20, what="retention")
    retention = server.ready()["store"]["retention"]
    assert "AccessDenied" in retention and prefix in retention, retention


def test_keys_used_outside_their_prefixes_are_refused_with_the_reason(
    start_server, seaweedfs, keys
):
    env = _env(seaweedfs, keys, OBJECTSTORECONFIG_REGION="us-east-1")  # default visualizations/
    server = start_server("--pool-size", "1", "--allow-custom-visualizations", env=env)
    wait_until(lambda: server.ready()["store"]["error"], timeout=20, what="store error")
    assert "AccessDenied" in server.ready()["store"]["error"]

    small = server.post(type="test", source="fine", arguments="{}")
    assert small.status_code == 200  # pages under the limit never need the store
    refused = _large_page(server)
    assert refused.status_code == 503
    assert seaweedfs.endpoint in refused.reason and "AccessDenied" in refused.reason


def test_without_a_region_the_refusal_says_which_setting_helps(start_server, seaweedfs, keys):
    prefix = f"private-artifacts/{NAMESPACE}/visualizations/"
    server = start_server("--pool-size", "1", env=_env(seaweedfs, keys, STORE_PREFIX=prefix))
    wait_until(lambda: server.ready()["store"]["error"], timeout=20, what="store error")
    assert "set OBJECTSTORECONFIG_REGION" in server.ready()["store"]["error"]
