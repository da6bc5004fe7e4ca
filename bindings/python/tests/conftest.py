"""The suite runs against a real ``helix serve`` (with a real engine and dockerd) that
helix-server/tests/sdk_e2e.rs starts and describes in the environment:

- ``HELIX_URL``, ``HELIX_API_KEY``: the server and a user's key;
- ``HELIX_OTHER_API_KEY``: a second user's key;
- ``HELIX_CHAT_MODEL``: a model that answers;
- ``HELIX_SANDBOX_IMAGE``: an image sandboxes can run (busybox);
- ``HELIX_LOCAL_ROOTFS``: a root filesystem tarball for ``LocalSandboxes`` (which run
  sandboxes in the test process: root and Docker's binaries needed).

The embedded scheduler's tests need none of it.
"""

import os

import pytest

NEEDED = ["HELIX_URL", "HELIX_API_KEY", "HELIX_OTHER_API_KEY", "HELIX_CHAT_MODEL", "HELIX_SANDBOX_IMAGE"]
NEEDED_LOCAL = ["HELIX_LOCAL_ROOTFS"]


def pytest_collection_modifyitems(config, items):
    for fixture, needed in (("env", NEEDED), ("local_rootfs", NEEDED_LOCAL)):
        missing = [v for v in needed if not os.environ.get(v)]
        if not missing:
            continue
        if os.environ.get("HELIX_TEST_REQUIRE_SDK") == "1":
            raise pytest.UsageError(f"HELIX_TEST_REQUIRE_SDK=1 but {', '.join(missing)} not set")
        skip = pytest.mark.skip(reason=f"not described by the environment: {', '.join(missing)}")
        for item in items:
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture
def env():
    return {v: os.environ[v] for v in NEEDED}


@pytest.fixture
def local_rootfs():
    return os.environ["HELIX_LOCAL_ROOTFS"]
