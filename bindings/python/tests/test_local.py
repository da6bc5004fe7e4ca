"""Without a server: sandboxes run by the test process (``LocalSandboxes``, a dockerd of
their own each) and the embedded GPU scheduler."""

import asyncio

import pytest

import helix
from helix import AsyncLocalSandboxes, LocalSandboxes, Scheduler

IMAGE = "hxtest/local:1"
# Its own names and address ranges, so it runs beside the suite's `helix serve`.
HOST = {"prefix": "tsl", "uplink_pool": "10.248.0.0/24", "container_pool": "10.208.0.0/16"}


def test_local_sandbox_lifecycle(local_rootfs, tmp_path):
    with LocalSandboxes(str(tmp_path / "state"), images={IMAGE: local_rootfs}, **HOST) as host:
        sbx = host.create_sandbox(IMAGE, timeout=120, labels={"job": "local"})
        assert sbx.is_local
        assert sbx.id.startswith("sbx_")
        assert sbx.info["state"] == "running" and sbx.info["labels"] == {"job": "local"}
        assert [s["id"] for s in host.list_sandboxes()] == [sbx.id]

        # Output streams while the command runs: it waits for a file written only after
        # the first line has arrived.
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

        sbx.files.write("/work/result.json", '{"passed": 3}')
        assert sbx.files.read("/work/result.json") == b'{"passed": 3}'
        assert "result.json" in [e["name"] for e in sbx.files.list("/work")]
        again = host.connect_sandbox(sbx.id)
        assert again.commands.run(["cat", "/work/result.json"])["stdout"] == '{"passed": 3}'
        assert sbx.get_host(8000).startswith("http://10.248.0.")

        # Errors are the same classes and codes as a server's.
        with pytest.raises(helix.NotFoundError) as e:
            sbx.files.read("/work/missing")
        assert (e.value.code, e.value.status) == ("file_not_found", 404)
        with pytest.raises(helix.InvalidRequestError) as e:
            sbx.files.read("relative/path")
        assert e.value.code == "invalid_path"
        with pytest.raises(helix.NotFoundError):
            host.create_sandbox("no/such-image:1")

        sbx.kill()
        assert sbx.info["state"] == "stopped"
        sbx.kill()  # again: nothing to do, no error (cleanup code may kill twice)
        with pytest.raises(helix.NotFoundError) as e:
            host.connect_sandbox(sbx.id)
        assert e.value.code == "sandbox_not_found"
        with pytest.raises(helix.NotFoundError):
            sbx.commands.run("true")

        left = host.create_sandbox(IMAGE, timeout=120)
        assert [s["id"] for s in host.list_sandboxes()] == [left.id]
    # Leaving the block killed what was left and stopped the host.
    assert host.list_sandboxes() == []
    with pytest.raises(helix.NotFoundError):
        left.files.read("/etc/hostname")
    with pytest.raises(helix.ServerError) as e:
        host.create_sandbox(IMAGE)
    assert e.value.code == "host_unavailable"


def test_local_sandboxes_async(local_rootfs, tmp_path):
    async def main():
        host = await AsyncLocalSandboxes.start(str(tmp_path / "state"), images={IMAGE: local_rootfs}, **HOST)
        async with host:
            async with await host.create_sandbox(IMAGE, timeout=120) as sbx:
                stream = await sbx.commands.stream("for i in 1 2 3; do echo $i; done")
                events = [ev async for ev in stream]
                assert "".join(ev["data"] for ev in events if ev["type"] == "stdout") == "1\n2\n3\n"
                assert events[-1] == {"type": "exit", "code": 0, "timed_out": False}
                assert (await sbx.get_host(80)).startswith("http://")
            assert sbx.info["state"] == "stopped"
            assert await host.list_sandboxes() == []

    asyncio.run(main())


def test_local_host_bad_settings(tmp_path):
    with pytest.raises(helix.InvalidRequestError) as e:
        LocalSandboxes(str(tmp_path), prefix="NOT-OK", uplink_pool="10.248.0.0/24")
    assert e.value.code == "invalid_request"
    with pytest.raises(helix.InvalidRequestError) as e:
        LocalSandboxes(str(tmp_path), uplink_pool="not a cidr")
    assert e.value.code == "invalid_argument"
    with pytest.raises(helix.InvalidRequestError):
        LocalSandboxes(str(tmp_path), images={"a:1": str(tmp_path / "missing.tar")})


GIB = 1 << 30


def runner(name="gpu-box"):
    return {
        "id": name,
        "name": name,
        "gpus": [{"index": 0, "name": "L4", "total_bytes": 24 * GIB, "free_bytes": 24 * GIB}],
        "offers": [
            {
                "name": "llama-8b",
                "runtime": "llama_cpp",
                "memory_bytes": 15 * GIB,
                "context_len": 8192,
                "parallel": 1,
                "embeddings": False,
                "max_gpus": 1,
            }
        ],
        "instances": [],
    }


def test_embedded_scheduler_places_grants_and_times_out():
    s = Scheduler({"max_instances_per_model": 1, "keep_alive_secs": 30})
    s.runner_connected(runner(), at=0)
    first = s.enqueue("team-a", "llama-8b", at=0)
    [start] = s.tick(at=0)
    assert start["type"] == "start_instance" and start["runner"] == "gpu-box"
    spec = start["spec"]
    assert spec["model"] == "llama-8b" and spec["gpus"] == [0]

    # One slot: the requests wait for it; the background one times out.
    second = s.enqueue("team-b", "llama-8b", priority="interactive", at=1)
    third = s.enqueue("team-c", "llama-8b", priority="background", deadline_secs=5, at=1)
    s.instance_status(
        "gpu-box",
        {"instance": spec["instance"], "model": "llama-8b", "gpus": [0], "state": "ready", "message": None},
        at=2,
    )
    # The interactive request goes first.
    assert s.tick(at=2) == [
        {"type": "grant", "ticket": second, "runner": "gpu-box", "instance": spec["instance"]}
    ]
    s.release(second, at=3)
    assert [a["ticket"] for a in s.tick(at=3)] == [first]
    [reject] = s.tick(at=7)
    assert (reject["type"], reject["ticket"], reject["code"]) == ("reject", third, "queue_timeout")

    view = s.view()
    assert view["runners"][0]["id"] == "gpu-box"
    assert [g["ticket"] for g in view["granted"]] == [first]
    assert s.now() >= 7


def test_embedded_scheduler_errors():
    s = Scheduler()
    with pytest.raises(helix.NotFoundError) as e:
        s.enqueue("a", "nobody-offers-this")
    assert e.value.code == "model_not_offered"
    with pytest.raises(helix.InvalidRequestError):
        s.enqueue("a", "m", priority="urgent")
    with pytest.raises(helix.InvalidRequestError) as e:
        Scheduler({"keep_alive": 3})
    assert "unknown field" in e.value.message
    with pytest.raises(helix.InvalidRequestError) as e:
        Scheduler({"keep_alive_secs": -1})
    assert e.value.code == "invalid_config"
    with pytest.raises(helix.InvalidRequestError):
        s.runner_connected({"id": "r"})
    assert not s.cancel(12345)
