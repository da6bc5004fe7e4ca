"""The official `anthropic` Python client, unchanged, against Helix's /v1/messages.

Helix translates the Anthropic Messages API to whatever serves the model (here an
OpenAI-compatible llama-server), so agents built on Anthropic SDKs can use Helix as their
base URL. Same environment as test_openai_client.py.
"""

import os

import anthropic
import pytest

PROMPT = [{"role": "user", "content": "Say hello."}]


def env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(f"{name} is not set (tests/clients/run.sh sets it)")
    return value


def root_url() -> str:
    # The Anthropic client appends /v1/messages itself.
    base = env("HELIX_BASE_URL").rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def client(api_key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=root_url(), api_key=api_key or env("HELIX_API_KEY"), max_retries=0, timeout=60
    )


def test_messages_create():
    m = client().messages.create(
        model=env("HELIX_CHAT_MODEL"), max_tokens=16, system="Be brief.", messages=PROMPT
    )
    assert m.type == "message"
    assert m.role == "assistant"
    assert m.content and m.content[0].type == "text"
    assert isinstance(m.content[0].text, str) and m.content[0].text
    assert m.stop_reason in ("end_turn", "max_tokens")
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


def test_messages_stream():
    with client().messages.stream(
        model=env("HELIX_CHAT_MODEL"), max_tokens=16, messages=PROMPT
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text
    assert final.content[0].text == text
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert final.usage.output_tokens > 0


def test_async_messages_create():
    import asyncio

    async def run():
        async with anthropic.AsyncAnthropic(
            base_url=root_url(), api_key=env("HELIX_API_KEY"), max_retries=0, timeout=60
        ) as c:
            return await c.messages.create(
                model=env("HELIX_CHAT_MODEL"), max_tokens=8, messages=PROMPT
            )

    m = asyncio.run(run())
    assert m.content[0].text


def test_wrong_key_raises_authentication_error():
    with pytest.raises(anthropic.AuthenticationError):
        client("hx-not-a-real-key").messages.create(
            model=env("HELIX_CHAT_MODEL"), max_tokens=8, messages=PROMPT
        )


def test_unknown_model_raises_not_found():
    with pytest.raises(anthropic.NotFoundError):
        client().messages.create(
            model=env("HELIX_CHAT_MODEL") + "-helix-client-test-does-not-exist",
            max_tokens=8,
            messages=PROMPT,
        )
