"""Sandboxes through the Python SDK, E2B-style: create, run with streamed output, files,
timeout, kill."""

import asyncio

import pytest

import helix
from helix import AsyncSandbox, Helix, Sandbox


def test_sandbox_lifecycle(env, monkeypatch):
    monkeypatch.setenv("HELIX_URL", env["HELIX_URL"])
    monkeypatch.setenv("HELIX_API_KEY", env["HELIX_API_KEY"])
    client = Helix()
    sbx = Sandbox.create(env["HELIX_SANDBOX_IMAGE"], timeout=120, labels={"job": "pytest"})
    try:
        assert sbx.id.startswith("sbx_")
        assert sbx.info["state"] == "running"
        assert sbx.info["labels"]["job"] == "pytest"
        assert sbx.id in [s["id"] for s in client.list_sandboxes()]

        # Output streams: the command waits for a file that the test writes only after
        # it has seen the first line, so a buffered answer would never finish.
        seen = []

        def on_stdout(data):
            seen.append(data)
            if "ready" in data:
                sbx.files.write("/tmp/go", b"")

        result = sbx.commands.run(
            "echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done; echo oops >&2; exit 4",
            on_stdout=on_stdout,
            timeout=60,
        )
        assert result == {"stdout": "ready\ndone\n", "stderr": "oops\n", "exit_code": 4, "timed_out": False}
        assert "".join(seen) == "ready\ndone\n"

        # Without callbacks, and a list runs without a shell.
        assert sbx.commands.run(["echo", "a b"])["stdout"] == "a b\n"
        events = list(sbx.commands.stream(["sh", "-c", "echo x"]))
        assert events[-1] == {"type": "exit", "code": 0, "timed_out": False}
        # wait() after reading it all still has the exit status.
        stream = sbx.commands.stream("echo y; exit 7")
        assert list(stream)[-1]["code"] == 7
        assert stream.wait().wait()["exit_code"] == 7

        # Files round-trip, binary included.
        payload = bytes(range(256)) * 4
        sbx.files.write("/data/blob.bin", payload)
        assert sbx.files.read("/data/blob.bin") == payload
        sbx.files.write("/data/note.txt", "text")
        names = sorted(e["name"] for e in sbx.files.list("/data"))
        assert names == ["blob.bin", "note.txt"]
        assert sbx.commands.run("wc -c < /data/blob.bin")["stdout"].strip() == "1024"
        with pytest.raises(helix.NotFoundError) as e:
            sbx.files.read("/data/missing")
        assert e.value.code == "file_not_found"
        with pytest.raises(helix.InvalidRequestError):
            sbx.files.read("relative/path")

        before = sbx.info["expires_at"]
        assert sbx.set_timeout(600)["expires_at"] > before
        assert sbx.info["expires_at"] > before
        assert sbx.get_host(8000).endswith(f"/api/v1/sandboxes/{sbx.id}/ports/8000/")

        # Another user cannot see it.
        other = Helix(env["HELIX_URL"], env["HELIX_OTHER_API_KEY"])
        with pytest.raises(helix.NotFoundError):
            other.connect_sandbox(sbx.id)
        assert client.connect_sandbox(sbx.id).id == sbx.id
    finally:
        sbx.kill()
    assert sbx.id not in [s["id"] for s in client.list_sandboxes()]
    with pytest.raises(helix.NotFoundError) as e:
        client.connect_sandbox(sbx.id)
    assert e.value.code == "sandbox_not_found"
    with pytest.raises(helix.NotFoundError):
        sbx.commands.run("true")


def test_async_sandbox(env):
    async def main():
        sbx = await AsyncSandbox.create(
            env["HELIX_SANDBOX_IMAGE"], base_url=env["HELIX_URL"], api_key=env["HELIX_API_KEY"]
        )
        async with sbx:
            got = []

            async def on_stdout(data):
                got.append(data)

            r = await sbx.commands.run("for i in 1 2 3; do echo $i; done", on_stdout=on_stdout)
            assert r["exit_code"] == 0
            assert "".join(got) == "1\n2\n3\n"
            await sbx.files.write("/tmp/a", b"async")
            assert await sbx.files.read("/tmp/a") == b"async"
            events = [e async for e in await sbx.commands.stream("echo z")]
            assert events[0] == {"type": "stdout", "data": "z\n"}
        # The context manager killed it.
        with pytest.raises(helix.NotFoundError):
            await sbx.refresh()

    asyncio.run(main())
