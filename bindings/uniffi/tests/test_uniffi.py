"""The uniffi bindings end to end: the Python module that uniffi-bindgen generated from
the built ``libhelix_uniffi``, against a real Helix server (see conftest.py).

Every exported call is async (a coroutine in Python, ``suspend`` in Kotlin, ``async`` in
Swift); each test runs its calls on one asyncio loop.
"""

import asyncio
import json

import pytest

import helix_uniffi as hx


def run(coro):
    return asyncio.run(coro)


def client(env, key="HELIX_API_KEY"):
    return hx.Client(env["HELIX_URL"], env[key])


async def read_answer(stream):
    """Text pieces as next_chunk hands them out, then the finished answer."""
    pieces = []
    while True:
        chunk = await stream.next_chunk()
        assert chunk is not None, "the stream ended without the finished answer"
        if chunk.is_text():
            pieces.append(chunk.text)
        else:
            assert chunk.is_done()
            return pieces, chunk.interaction


def test_models_list_the_engine(env):
    async def main():
        models = await client(env).list_models()
        assert env["HELIX_CHAT_MODEL"] in [m.id for m in models]
        assert all(isinstance(m, hx.ModelInfo) and m.owned_by for m in models)

    run(main())


def test_streamed_chat_is_kept_in_the_session(env):
    async def main():
        c = client(env)
        session = await c.create_session(hx.NewSession(model=env["HELIX_CHAT_MODEL"], name="uniffi"))
        assert session.id.startswith("ses_") and session.name == "uniffi"
        stream = await c.chat(session.id, "Say hello")
        pieces, answer = await read_answer(stream)
        # One piece per delta the server sent, not one blob at the end.
        assert len(pieces) >= 2, pieces
        assert answer.state == "complete" and answer.role == "assistant"
        assert answer.content == "".join(pieces)
        assert "Hello" in answer.content
        assert await stream.next_chunk() is None
        # finish() after reading it all gives the same answer.
        assert await stream.finish() == answer

        # Every event of a second turn, in order, with offsets that add up.
        stream = await c.chat(session.id, "again")
        events = []
        while (ev := await stream.next_event()) is not None:
            events.append(ev)
        assert events[0].is_interaction_created() and events[0].interaction.role == "user"
        assert events[-1].is_completed()
        deltas = [e for e in events if e.is_delta()]
        assert len(deltas) >= 2
        offset = 0
        for d in deltas:
            assert d.offset == offset, (d.offset, offset)
            offset += len(d.text)
        assert "".join(d.text for d in deltas) == events[-1].interaction.content

        # The server kept all four messages.
        kept = await c.get_session(session.id)
        assert kept.session.id == session.id
        assert [i.role for i in kept.interactions] == ["user", "assistant", "user", "assistant"]
        assert kept.interactions[1].content == answer.content
        assert [i.seq for i in kept.interactions] == [0, 1, 2, 3]
        assert session.id in [s.id for s in await c.list_sessions()]
        await c.delete_session(session.id)
        with pytest.raises(hx.HelixError.NotFound) as e:
            await c.get_session(session.id)
        assert (e.value.code, e.value.status) == ("not_found", 404)

    run(main())


def test_two_answers_at_once_on_one_loop(env):
    async def main():
        c = client(env)
        s1 = await c.create_session(hx.NewSession(model=env["HELIX_CHAT_MODEL"]))
        s2 = await c.create_session(hx.NewSession(model=env["HELIX_CHAT_MODEL"]))
        a, b = await asyncio.gather(
            (await c.chat(s1.id, "hi")).finish(),
            (await c.chat(s2.id, "hello")).finish(),
        )
        assert a.state == b.state == "complete"
        assert (a.session_id, b.session_id) == (s1.id, s2.id)
        await asyncio.gather(c.delete_session(s1.id), c.delete_session(s2.id))

    run(main())


def test_apps_orgs_and_usage(env):
    async def main():
        c = client(env)
        org = (await c.list_orgs())[0]
        assert org.id.startswith("org_") and org.role in ("owner", "admin", "member")
        app = await c.create_app(
            hx.NewApp(
                org_id=org.id,
                name="Greeter",
                model=env["HELIX_CHAT_MODEL"],
                system_prompt="Greet people.",
                settings_json=json.dumps({"temperature": 0}),
            )
        )
        got = await c.get_app(app.id)
        assert (got.name, got.system_prompt, got.org_id) == ("Greeter", "Greet people.", org.id)
        assert json.loads(got.settings_json) == {"temperature": 0}
        assert app.id in [a.id for a in await c.list_apps(org.id)]
        assert app.id in [a.id for a in await c.list_apps()]
        session = await c.create_session(hx.NewSession(app_id=app.id))
        assert session.app_id == app.id
        assert (await (await c.chat(session.id, "hi")).finish()).state == "complete"
        await c.delete_session(session.id)
        await c.delete_app(app.id)
        with pytest.raises(hx.HelixError.NotFound) as e:
            await c.get_app(app.id)
        assert e.value.status == 404
        rows = await c.usage(days=1)
        assert any(r.model == env["HELIX_CHAT_MODEL"] and r.calls >= 1 for r in rows), rows
        assert all(len(r.day) == 10 for r in rows)

    run(main())


def test_errors_carry_code_and_status(env):
    async def main():
        with pytest.raises(hx.HelixError.Authentication) as e:
            await hx.Client(env["HELIX_URL"], "hx-not-a-key").list_sessions()
        assert e.value.status == 401 and e.value.code
        assert isinstance(e.value, hx.HelixError) and isinstance(e.value, Exception)

        c = client(env)
        with pytest.raises(hx.HelixError.NotFound) as e:
            await c.chat("ses_01jzzzzzzzzzzzzzzzzzzzzzzz", "hi")
        assert e.value.status == 404
        with pytest.raises(hx.HelixError.NotFound) as e:
            await c.get_app("app_01jzzzzzzzzzzzzzzzzzzzzzzz")
        assert (e.value.code, e.value.status) == ("not_found", 404)
        # Refused before any request: status 0.
        with pytest.raises(hx.HelixError.InvalidRequest) as e:
            await c.get_session("../admin")
        assert (e.value.code, e.value.status) == ("invalid_argument", 0)
        with pytest.raises(hx.HelixError.InvalidRequest) as e:
            hx.Client("ftp://nowhere", "hx-x")
        assert e.value.code == "invalid_argument"
        with pytest.raises(hx.HelixError.InvalidRequest):
            await c.create_app(hx.NewApp(org_id="org_x", name="n", model="m", settings_json="{not json"))
        # The server refuses a session with neither a model nor an app.
        with pytest.raises(hx.HelixError.InvalidRequest) as e:
            await c.create_session(hx.NewSession())
        assert e.value.status in (400, 422)
        with pytest.raises(hx.HelixError.Connection) as e:
            await hx.Client("http://127.0.0.1:9", "hx-x").list_models()
        assert (e.value.code, e.value.status) == ("connection_error", 0)

        # Another user's session does not exist for this one.
        other = client(env, "HELIX_OTHER_API_KEY")
        theirs = await other.create_session(hx.NewSession(model=env["HELIX_CHAT_MODEL"]))
        with pytest.raises(hx.HelixError.NotFound):
            await c.get_session(theirs.id)
        await other.delete_session(theirs.id)

    run(main())


def test_sandbox_lifecycle(env):
    async def main():
        c = client(env)
        spec = hx.SandboxSpec(
            image=env["HELIX_SANDBOX_IMAGE"],
            timeout=120,
            labels={"job": "uniffi"},
            command=["sh", "-c", "echo booted; exec sleep 3600"],
        )
        sbx = await c.create_sandbox(spec)
        try:
            await sandbox_checks(env, c, sbx)
        finally:
            await sbx.kill()
        # Gone after kill.
        assert sbx.info().state == hx.SandboxState.STOPPED
        assert sbx.id() not in [s.id for s in await c.list_sandboxes()]
        with pytest.raises(hx.HelixError.NotFound) as e:
            await c.connect_sandbox(sbx.id())
        assert (e.value.code, e.value.status) == ("sandbox_not_found", 404)
        with pytest.raises(hx.HelixError.NotFound):
            await (await sbx.run(hx.ExecSpec(cmd=["true"]))).wait()

    run(main())


async def sandbox_checks(env, c, sbx):
    info = sbx.info()
    assert sbx.id().startswith("sbx_") and info.id == sbx.id()
    assert info.state == hx.SandboxState.RUNNING and info.labels["job"] == "uniffi"
    assert info.image == env["HELIX_SANDBOX_IMAGE"]
    assert not sbx.is_local()
    assert sbx.id() in [s.id for s in await c.list_sandboxes()]

    # Output streams: the command waits for a file that the test writes only after it
    # has seen the first line, so an answer buffered to the end would never finish.
    stream = await sbx.run(
        hx.ExecSpec(
            cmd=["sh", "-c", "echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done; echo oops >&2; exit 4"],
            timeout=60,
        )
    )
    out, err, exit_ev = b"", b"", None
    while (ev := await asyncio.wait_for(stream.next_event(), 30)) is not None:
        if ev.is_stdout():
            out += ev.data
            if out == b"ready\n":
                await sbx.write_file("/tmp/go", b"")
        elif ev.is_stderr():
            err += ev.data
        else:
            exit_ev = ev
    assert (out, err) == (b"ready\ndone\n", b"oops\n")
    assert exit_ev.is_exit() and (exit_ev.code, exit_ev.timed_out) == (4, False)
    # wait() after reading it all still has the exit status (and no output left).
    assert await stream.wait() == hx.CommandResult(stdout=b"", stderr=b"", exit_code=4, timed_out=False)
    # wait() alone collects everything.
    r = await (await sbx.run(hx.ExecSpec(cmd=["sh", "-c", "echo hi; echo no >&2; exit 2"]))).wait()
    assert (r.stdout, r.stderr, r.exit_code, r.timed_out) == (b"hi\n", b"no\n", 2, False)
    r = await (await sbx.run(hx.ExecSpec(cmd=["sh", "-c", "echo $X in $(pwd)"], env={"X": "x"}, cwd="/tmp"))).wait()
    assert r.stdout == b"x in /tmp\n"

    # Files round-trip, binary included.
    payload = bytes(range(256)) * 4
    await sbx.write_file("/data/blob.bin", payload)
    assert await sbx.read_file("/data/blob.bin") == payload
    await sbx.write_file("/data/note.txt", b"text")
    entries = sorted(await sbx.list_dir("/data"), key=lambda e: e.name)
    assert [(e.name, e.path, e.kind, e.size) for e in entries] == [
        ("blob.bin", "/data/blob.bin", hx.FileKind.FILE, 1024),
        ("note.txt", "/data/note.txt", hx.FileKind.FILE, 4),
    ]
    r = await (await sbx.run(hx.ExecSpec(cmd=["sh", "-c", "wc -c < /data/blob.bin"]))).wait()
    assert r.stdout.strip() == b"1024"
    with pytest.raises(hx.HelixError.NotFound) as e:
        await sbx.read_file("/data/missing")
    assert (e.value.code, e.value.status) == ("file_not_found", 404)
    with pytest.raises(hx.HelixError.InvalidRequest):
        await sbx.read_file("relative/path")

    # Timeout, port URL, state, logs.
    before = sbx.info().expires_at
    assert (await sbx.set_timeout(600)).expires_at > before
    assert sbx.info().expires_at > before
    with pytest.raises(hx.HelixError.InvalidRequest):
        await sbx.set_timeout(-1)
    assert (await sbx.host(8000)).endswith(f"/api/v1/sandboxes/{sbx.id()}/ports/8000/")
    assert (await sbx.refresh()).state == hx.SandboxState.RUNNING
    logs = ""
    for _ in range(100):
        logs = await sbx.logs()
        if "booted" in logs:
            break
        await asyncio.sleep(0.1)
    assert "booted" in logs
    ls = await sbx.logs_stream(False)
    got = b""
    while (piece := await ls.next_chunk()) is not None:
        got += piece
    assert b"booted" in got

    # Another user cannot see it; this one can connect to it.
    with pytest.raises(hx.HelixError.NotFound):
        await client(env, "HELIX_OTHER_API_KEY").connect_sandbox(sbx.id())
    again = await c.connect_sandbox(sbx.id())
    assert again.id() == sbx.id() and again.info().labels["job"] == "uniffi"
