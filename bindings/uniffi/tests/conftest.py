"""The uniffi bindings' suite runs against a real ``helix serve`` (a real engine, real
dockerd) that helix-server/tests/sdk_e2e.rs starts and describes in the environment:

- ``HELIX_URL``, ``HELIX_API_KEY``: the server and a user's key;
- ``HELIX_OTHER_API_KEY``: a second user's key;
- ``HELIX_CHAT_MODEL``: a model that answers;
- ``HELIX_SANDBOX_IMAGE``: an image sandboxes can run (busybox).

``helix_uniffi`` is the module uniffi-bindgen generated from the built library, with the
library beside it (bindings/uniffi/build.sh; bindings/run-tests.sh puts it on PYTHONPATH).
Without a server the tests skip, unless ``HELIX_TEST_REQUIRE_SDK=1``: then they fail.
"""

import os

import pytest

NEEDED = ["HELIX_URL", "HELIX_API_KEY", "HELIX_OTHER_API_KEY", "HELIX_CHAT_MODEL", "HELIX_SANDBOX_IMAGE"]


def pytest_collection_modifyitems(config, items):
    missing = [v for v in NEEDED if not os.environ.get(v)]
    if missing:
        if os.environ.get("HELIX_TEST_REQUIRE_SDK") == "1":
            raise pytest.UsageError(f"HELIX_TEST_REQUIRE_SDK=1 but {', '.join(missing)} not set")
        skip = pytest.mark.skip(reason=f"no Helix server described (missing {', '.join(missing)})")
        for item in items:
            item.add_marker(skip)


@pytest.fixture
def env():
    return {v: os.environ[v] for v in NEEDED}
