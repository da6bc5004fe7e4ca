"""Chat, sessions, apps, models and usage through the Python SDK."""

import asyncio
import pickle

import pytest

import helix
from helix import AsyncHelix, Helix


def test_models_list_the_engine(env):
    client = Helix(env["HELIX_URL"], env["HELIX_API_KEY"])
    ids = [m["id"] for m in client.list_models()]
    assert env["HELIX_CHAT_MODEL"] in ids


def test_streaming_chat_yields_text_before_the_answer_is_done(env):
    client = Helix(env["HELIX_URL"], env["HELIX_API_KEY"])
    session = client.create_session(model=env["HELIX_CHAT_MODEL"], name="sdk sync")
    stream = client.chat(session["id"], "Say hello")
    chunks = []
    for text in stream:
        chunks.append(text)
    # One piece per delta the server sent, not one blob at the end.
    assert len(chunks) >= 2, chunks
    answer = stream.interaction
    assert answer["state"] == "complete"
    assert answer["content"] == "".join(chunks)
    assert "Hello" in answer["content"]
    # The server kept both messages.
    kept = client.get_session(session["id"])
    assert [i["role"] for i in kept["interactions"]] == ["user", "assistant"]
    assert kept["interactions"][1]["content"] == answer["content"]
    assert session["id"] in [s["id"] for s in client.list_sessions()]
    # finish() after reading it all gives the same answer.
    assert stream.finish().wait() == answer
    client.delete_session(session["id"])
    with pytest.raises(helix.NotFoundError) as e:
        client.get_session(session["id"])
    assert e.value.code == "not_found"
    assert e.value.status == 404


def test_async_chat_streams_too(env):
    async def main():
        client = AsyncHelix(env["HELIX_URL"], env["HELIX_API_KEY"])
        session = await client.create_session(model=env["HELIX_CHAT_MODEL"])
        stream = await client.chat(session["id"], "Say hello")
        chunks = [t async for t in stream]
        assert len(chunks) >= 2
        assert stream.interaction["content"] == "".join(chunks)
        # Two answers at once on one event loop.
        s2 = await client.create_session(model=env["HELIX_CHAT_MODEL"])
        a, b = await asyncio.gather(
            (await client.chat(session["id"], "again")).finish(),
            (await client.chat(s2["id"], "hi")).finish(),
        )
        assert a["state"] == b["state"] == "complete"
        await client.delete_session(session["id"])
        await client.delete_session(s2["id"])

    asyncio.run(main())


def test_apps_and_usage(env):
    client = Helix(env["HELIX_URL"], env["HELIX_API_KEY"])
    org = client.list_orgs()[0]
    app = client.create_app(
        org_id=org["id"],
        name="Greeter",
        model=env["HELIX_CHAT_MODEL"],
        system_prompt="Greet people.",
        settings={"temperature": 0},
    )
    assert client.get_app(app["id"])["system_prompt"] == "Greet people."
    assert app["id"] in [a["id"] for a in client.list_apps(org["id"])]
    session = client.create_session(app_id=app["id"])
    assert session["app_id"] == app["id"]
    assert client.chat(session["id"], "hi").finish().wait()["state"] == "complete"
    client.delete_app(app["id"])
    with pytest.raises(helix.NotFoundError):
        client.get_app(app["id"])
    rows = client.usage(days=1)
    assert any(r["model"] == env["HELIX_CHAT_MODEL"] and r["calls"] >= 1 for r in rows), rows


def test_errors_are_the_documented_classes(env):
    bad = Helix(env["HELIX_URL"], "hx-not-a-key")
    with pytest.raises(helix.AuthenticationError) as e:
        bad.list_sessions()
    assert e.value.status == 401
    assert isinstance(e.value, helix.HelixError)
    # The classes are importable by name, so errors cross process boundaries.
    assert type(pickle.loads(pickle.dumps(e.value))) is helix.AuthenticationError

    client = Helix(env["HELIX_URL"], env["HELIX_API_KEY"])
    with pytest.raises(helix.NotFoundError):
        client.chat("ses_01jzzzzzzzzzzzzzzzzzzzzzzz", "hi")
    with pytest.raises(helix.InvalidRequestError) as e:
        client.get_session("../admin")
    assert e.value.code == "invalid_argument"
    with pytest.raises(helix.InvalidRequestError):
        client.create_session()  # neither a model nor an app
    with pytest.raises(helix.ConnectionError) as e:
        Helix("http://127.0.0.1:9", "hx-x").list_models()
    assert e.value.code == "connection_error"

    # Another user's session does not exist for this one.
    other = Helix(env["HELIX_URL"], env["HELIX_OTHER_API_KEY"])
    theirs = other.create_session(model=env["HELIX_CHAT_MODEL"])
    with pytest.raises(helix.NotFoundError):
        client.get_session(theirs["id"])
    other.delete_session(theirs["id"])


def test_an_op_runs_once(env):
    client = Helix(env["HELIX_URL"], env["HELIX_API_KEY"])
    op = client._n.list_models()
    op.wait()
    with pytest.raises(RuntimeError):
        op.wait()
