"""The official `openai` Python package, used unchanged, against Helix's OpenAI-compatible /v1.

Run by tests/clients/run.sh (normally from a Rust end-to-end test that starts Helix in front of a
real llama-server with a tiny random-weight model). Required environment:

    HELIX_BASE_URL     e.g. http://127.0.0.1:PORT/v1
    HELIX_API_KEY      a valid Helix API key (hx-...)
    HELIX_CHAT_MODEL   a chat model name, e.g. llama/tiny
    HELIX_EMBED_MODEL  an embeddings model name, e.g. llama-embed/tiny

The tiny model writes gibberish: these tests check protocol and shape, never wording.
Nothing is skipped: a missing variable fails every test with a clear message.
"""

from __future__ import annotations

import asyncio
import math
import os

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

# Generous per-request timeout so a hung stream fails the test instead of stalling CI.
TIMEOUT_S = 60.0
MAX_TOKENS = 8
PROMPT = [{"role": "user", "content": "Say hello."}]


def env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(
            f"environment variable {name} is not set: run these tests through "
            "tests/clients/run.sh with HELIX_BASE_URL, HELIX_API_KEY, HELIX_CHAT_MODEL "
            "and HELIX_EMBED_MODEL set",
            pytrace=False,
        )
    return value


def make_client(api_key: str | None = None) -> OpenAI:
    # max_retries=0: a failure must surface at once, not after the client's silent retries.
    return OpenAI(
        base_url=env("HELIX_BASE_URL"),
        api_key=api_key if api_key is not None else env("HELIX_API_KEY"),
        timeout=TIMEOUT_S,
        max_retries=0,
    )


@pytest.fixture
def client():
    c = make_client()
    yield c
    c.close()


def unknown_model() -> str:
    # A known provider with a model it does not serve: Helix checks the provider's own
    # model list (llama-server itself would answer for any name).
    return env("HELIX_CHAT_MODEL") + "-helix-client-test-does-not-exist"


def check_chunks(chunks) -> str:
    """Checks a list of streamed ChatCompletionChunk objects; returns the concatenated text."""
    assert chunks, "the stream yielded no chunk"
    with_delta = [c for c in chunks if c.choices and c.choices[0].delta is not None]
    assert with_delta, f"no chunk carried choices[0].delta: {chunks!r}"
    ids = {c.id for c in chunks}
    assert len(ids) == 1, f"chunks of one stream should share one id, got {ids}"
    for c in chunks:
        assert c.object == "chat.completion.chunk", c
    text = "".join(c.choices[0].delta.content or "" for c in with_delta)
    assert isinstance(text, str)
    finishes = [c.choices[0].finish_reason for c in with_delta if c.choices[0].finish_reason]
    assert finishes, "no chunk carried a finish_reason"
    assert finishes[-1] in ("stop", "length"), finishes
    return text


def check_error_envelope(err: openai.APIStatusError) -> None:
    """Helix errors are OpenAI's {"error": {"message", "type", "param", "code"}}; the client
    unwraps "error" into err.body and exposes its fields as attributes."""
    body = err.body
    assert isinstance(body, dict), f"error body is not the OpenAI error object: {body!r}"
    assert {"message", "type", "param", "code"} <= body.keys(), body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(err.type, str) and err.type, body
    assert body["message"] in err.message, (err.message, body)


def test_models_list_contains_chat_model(client):
    models = list(client.models.list())
    ids = [m.id for m in models]
    assert all(isinstance(i, str) and i for i in ids), ids
    assert env("HELIX_CHAT_MODEL") in ids, f"{env('HELIX_CHAT_MODEL')!r} not in {ids}"


def test_chat_completion_plain(client):
    resp = client.chat.completions.create(
        model=env("HELIX_CHAT_MODEL"), messages=PROMPT, max_tokens=MAX_TOKENS
    )
    assert resp.object == "chat.completion"
    assert isinstance(resp.id, str) and resp.id
    assert len(resp.choices) >= 1
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length"), choice.finish_reason
    assert resp.usage is not None, "no usage in the response"
    assert resp.usage.total_tokens > 0
    assert resp.usage.prompt_tokens > 0
    # max_tokens is passed through to the engine.
    assert resp.usage.completion_tokens <= MAX_TOKENS, resp.usage


def test_chat_completion_sampling_params_accepted(client):
    # Common OpenAI fields must be accepted and passed through, not rejected.
    resp = client.chat.completions.create(
        model=env("HELIX_CHAT_MODEL"),
        messages=[{"role": "system", "content": "Be brief."}, *PROMPT],
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        top_p=0.9,
        seed=42,
        stop=["\n\n"],
    )
    assert isinstance(resp.choices[0].message.content, str)
    assert resp.usage.completion_tokens <= MAX_TOKENS, resp.usage


def test_chat_completion_stream(client):
    stream = client.chat.completions.create(
        model=env("HELIX_CHAT_MODEL"), messages=PROMPT, max_tokens=MAX_TOKENS, stream=True
    )
    chunks = []
    for chunk in stream:  # must terminate on `data: [DONE]`
        chunks.append(chunk)
        assert len(chunks) < 1000, "stream did not terminate"
    check_chunks(chunks)


def test_chat_completion_stream_raw_sse(client):
    # The clients stop at end of body even without `data: [DONE]`, so check the wire format
    # through the client's raw streaming response.
    with client.chat.completions.with_streaming_response.create(
        model=env("HELIX_CHAT_MODEL"), messages=PROMPT, max_tokens=MAX_TOKENS, stream=True
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers.get("content-type", "").startswith("text/event-stream"), resp.headers
        lines = [line for line in resp.iter_lines() if line.strip()]
    data = [line[len("data:"):].strip() for line in lines if line.startswith("data:")]
    assert len(data) >= 2, lines
    assert data[-1] == "[DONE]", data[-3:]
    assert data.count("[DONE]") == 1, data


def test_chat_completion_stream_helper(client):
    # The client's higher-level stream helper, which reassembles the message from the deltas.
    # Its get_final_completion() raises LengthFinishReasonError when finish_reason is "length"
    # (the usual case with a tiny max_tokens), so read the reassembled text from the events.
    with client.chat.completions.stream(
        model=env("HELIX_CHAT_MODEL"), messages=PROMPT, max_tokens=MAX_TOKENS
    ) as stream:
        events = list(stream)
    types = [e.type for e in events]
    assert "chunk" in types, types
    done = [e for e in events if e.type == "content.done"]
    assert len(done) == 1, types
    assert isinstance(done[0].content, str)
    deltas = [e for e in events if e.type == "content.delta"]
    if deltas:
        assert deltas[-1].snapshot == done[0].content


def test_embeddings(client):
    resp = client.embeddings.create(
        model=env("HELIX_EMBED_MODEL"), input=["hello world", "a second input"]
    )
    assert len(resp.data) == 2
    assert sorted(d.index for d in resp.data) == [0, 1]
    dims = {len(d.embedding) for d in resp.data}
    assert len(dims) == 1, f"vectors of different lengths: {dims}"
    assert dims.pop() > 0
    for d in resp.data:
        assert all(isinstance(x, float) and math.isfinite(x) for x in d.embedding)


def test_embeddings_float_format(client):
    resp = client.embeddings.create(
        model=env("HELIX_EMBED_MODEL"), input="just one input", encoding_format="float"
    )
    assert len(resp.data) == 1
    assert len(resp.data[0].embedding) > 0
    assert all(isinstance(x, float) for x in resp.data[0].embedding)


def test_wrong_api_key_raises_authentication_error():
    bad = make_client(api_key="hx-this-key-is-wrong")
    try:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(
                model=env("HELIX_CHAT_MODEL"), messages=PROMPT, max_tokens=MAX_TOKENS
            )
        assert info.value.status_code == 401
        check_error_envelope(info.value)
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
    finally:
        bad.close()


def test_unknown_model_raises_not_found(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model=unknown_model(), messages=PROMPT, max_tokens=MAX_TOKENS)
    assert info.value.status_code == 404
    check_error_envelope(info.value)


def test_unknown_model_stream_raises_not_found(client):
    # The error must come back as an HTTP 404 before any SSE, so create() itself raises.
    with pytest.raises(openai.NotFoundError):
        stream = client.chat.completions.create(
            model=unknown_model(), messages=PROMPT, max_tokens=MAX_TOKENS, stream=True
        )
        for _ in stream:
            pass


def test_async_client_stream():
    async def run():
        client = AsyncOpenAI(
            base_url=env("HELIX_BASE_URL"),
            api_key=env("HELIX_API_KEY"),
            timeout=TIMEOUT_S,
            max_retries=0,
        )
        try:
            stream = await client.chat.completions.create(
                model=env("HELIX_CHAT_MODEL"), messages=PROMPT, max_tokens=MAX_TOKENS, stream=True
            )
            chunks = []
            async for chunk in stream:
                chunks.append(chunk)
                assert len(chunks) < 1000, "stream did not terminate"
            plain = await client.chat.completions.create(
                model=env("HELIX_CHAT_MODEL"), messages=PROMPT, max_tokens=MAX_TOKENS
            )
            return chunks, plain
        finally:
            await client.close()

    chunks, plain = asyncio.run(asyncio.wait_for(run(), timeout=2 * TIMEOUT_S))
    check_chunks(chunks)
    assert isinstance(plain.choices[0].message.content, str)
