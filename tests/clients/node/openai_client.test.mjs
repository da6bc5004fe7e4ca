// The official `openai` npm package, used unchanged, against Helix's OpenAI-compatible /v1.
//
// Run by tests/clients/run.sh (normally from a Rust end-to-end test that starts Helix in front
// of a real llama-server with a tiny random-weight model) with `node --test`. Required env:
//
//   HELIX_BASE_URL     e.g. http://127.0.0.1:PORT/v1
//   HELIX_API_KEY      a valid Helix API key (hx-...)
//   HELIX_CHAT_MODEL   a chat model name, e.g. llama/tiny
//   HELIX_EMBED_MODEL  an embeddings model name, e.g. llama-embed/tiny
//
// The tiny model writes gibberish: these tests check protocol and shape, never wording.
// Nothing is skipped: a missing variable fails every test with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

// Generous per-request timeout so a hung stream fails the test instead of stalling CI.
const TIMEOUT_MS = 60_000;
const MAX_TOKENS = 8;
const PROMPT = [{ role: 'user', content: 'Say hello.' }];

function env(name) {
  const value = (process.env[name] ?? '').trim();
  if (!value) {
    throw new Error(
      `environment variable ${name} is not set: run these tests through tests/clients/run.sh ` +
        'with HELIX_BASE_URL, HELIX_API_KEY, HELIX_CHAT_MODEL and HELIX_EMBED_MODEL set',
    );
  }
  return value;
}

// maxRetries: 0: a failure must surface at once, not after the client's silent retries.
function client(apiKey = env('HELIX_API_KEY')) {
  return new OpenAI({ baseURL: env('HELIX_BASE_URL'), apiKey, timeout: TIMEOUT_MS, maxRetries: 0 });
}

// A known provider with a model it does not serve: Helix checks the provider's own model
// list (llama-server itself would answer for any name).
const unknownModel = () => `${process.env.HELIX_CHAT_MODEL}-helix-client-test-does-not-exist`;

// Checks the chunks of one streamed chat completion; returns the concatenated text.
function checkChunks(chunks) {
  assert.ok(chunks.length > 0, 'the stream yielded no chunk');
  const withDelta = chunks.filter((c) => c.choices?.length && c.choices[0].delta);
  assert.ok(withDelta.length > 0, `no chunk carried choices[0].delta: ${JSON.stringify(chunks)}`);
  assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'chunks of one stream should share one id');
  for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
  const text = withDelta.map((c) => c.choices[0].delta.content ?? '').join('');
  assert.equal(typeof text, 'string');
  const finishes = withDelta.map((c) => c.choices[0].finish_reason).filter(Boolean);
  assert.ok(finishes.length > 0, 'no chunk carried a finish_reason');
  assert.ok(['stop', 'length'].includes(finishes.at(-1)), `finish_reason ${finishes.at(-1)}`);
  return text;
}

// Helix errors are OpenAI's {"error": {"message", "type", "param", "code"}}; the client puts
// the inner object in err.error and exposes its fields as attributes.
function checkErrorEnvelope(err) {
  const body = err.error;
  assert.ok(body && typeof body === 'object', `error body is not the OpenAI error object: ${body}`);
  for (const k of ['message', 'type', 'param', 'code']) assert.ok(k in body, `no ${k} in ${JSON.stringify(body)}`);
  assert.ok(typeof body.message === 'string' && body.message.length > 0, JSON.stringify(body));
  assert.ok(typeof err.type === 'string' && err.type.length > 0, JSON.stringify(body));
  assert.ok(err.message.includes(body.message), `${err.message} / ${body.message}`);
}

test('models.list contains the chat model', async () => {
  const ids = [];
  for await (const m of client().models.list()) ids.push(m.id);
  assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0), JSON.stringify(ids));
  assert.ok(ids.includes(env('HELIX_CHAT_MODEL')), `${env('HELIX_CHAT_MODEL')} not in ${JSON.stringify(ids)}`);
});

test('chat.completions.create (plain)', async () => {
  const resp = await client().chat.completions.create({
    model: env('HELIX_CHAT_MODEL'),
    messages: PROMPT,
    max_tokens: MAX_TOKENS,
  });
  assert.equal(resp.object, 'chat.completion');
  assert.ok(typeof resp.id === 'string' && resp.id.length > 0);
  assert.ok(resp.choices.length >= 1);
  const choice = resp.choices[0];
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), `finish_reason ${choice.finish_reason}`);
  assert.ok(resp.usage, 'no usage in the response');
  assert.ok(resp.usage.total_tokens > 0, JSON.stringify(resp.usage));
  assert.ok(resp.usage.prompt_tokens > 0, JSON.stringify(resp.usage));
  // max_tokens is passed through to the engine.
  assert.ok(resp.usage.completion_tokens <= MAX_TOKENS, JSON.stringify(resp.usage));
});

test('chat.completions.create accepts common sampling parameters', async () => {
  const resp = await client().chat.completions.create({
    model: env('HELIX_CHAT_MODEL'),
    messages: [{ role: 'system', content: 'Be brief.' }, ...PROMPT],
    max_tokens: MAX_TOKENS,
    temperature: 0,
    top_p: 0.9,
    seed: 42,
    stop: ['\n\n'],
  });
  assert.equal(typeof resp.choices[0].message.content, 'string');
  assert.ok(resp.usage.completion_tokens <= MAX_TOKENS, JSON.stringify(resp.usage));
});

test('chat.completions.create with stream: true', async () => {
  const stream = await client().chat.completions.create({
    model: env('HELIX_CHAT_MODEL'),
    messages: PROMPT,
    max_tokens: MAX_TOKENS,
    stream: true,
  });
  const chunks = [];
  for await (const chunk of stream) {
    // must terminate on `data: [DONE]`
    chunks.push(chunk);
    assert.ok(chunks.length < 1000, 'stream did not terminate');
  }
  checkChunks(chunks);
});

test('stream: true is SSE ending with data: [DONE] (raw response)', async () => {
  // The client stops at end of body even without `data: [DONE]`, so check the wire format
  // through the client's raw response.
  const resp = await client()
    .chat.completions.create({ model: env('HELIX_CHAT_MODEL'), messages: PROMPT, max_tokens: MAX_TOKENS, stream: true })
    .asResponse();
  assert.equal(resp.status, 200);
  assert.ok((resp.headers.get('content-type') ?? '').startsWith('text/event-stream'), resp.headers.get('content-type'));
  const data = (await resp.text())
    .split(/\r?\n/)
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice('data:'.length).trim());
  assert.ok(data.length >= 2, JSON.stringify(data));
  assert.equal(data.at(-1), '[DONE]');
  assert.equal(data.filter((d) => d === '[DONE]').length, 1);
});

test('chat.completions.stream helper reassembles the message', async () => {
  const runner = client().chat.completions.stream({
    model: env('HELIX_CHAT_MODEL'),
    messages: PROMPT,
    max_tokens: MAX_TOKENS,
  });
  let chunks = 0;
  let snapshot = '';
  runner.on('chunk', () => chunks++);
  runner.on('content', (_delta, snap) => (snapshot = snap));
  const final = await runner.finalChatCompletion();
  assert.ok(chunks > 0, 'no chunk event');
  assert.equal(final.choices[0].message.role, 'assistant');
  const content = final.choices[0].message.content ?? '';
  assert.equal(typeof content, 'string');
  assert.equal(content, snapshot);
});

test('embeddings.create with two inputs', async () => {
  const resp = await client().embeddings.create({
    model: env('HELIX_EMBED_MODEL'),
    input: ['hello world', 'a second input'],
  });
  assert.equal(resp.data.length, 2);
  assert.deepEqual(resp.data.map((d) => d.index).sort(), [0, 1]);
  const dims = new Set(resp.data.map((d) => d.embedding.length));
  assert.equal(dims.size, 1, `vectors of different lengths: ${[...dims]}`);
  assert.ok([...dims][0] > 0);
  for (const d of resp.data) {
    assert.ok(Array.isArray(d.embedding), 'embedding is not an array of numbers');
    assert.ok(d.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)));
  }
});

test('embeddings.create with encoding_format float', async () => {
  const resp = await client().embeddings.create({
    model: env('HELIX_EMBED_MODEL'),
    input: 'just one input',
    encoding_format: 'float',
  });
  assert.equal(resp.data.length, 1);
  assert.ok(resp.data[0].embedding.length > 0);
  assert.ok(resp.data[0].embedding.every((x) => typeof x === 'number'));
});

test('a wrong API key raises AuthenticationError', async () => {
  const bad = client('hx-this-key-is-wrong');
  await assert.rejects(
    bad.chat.completions.create({ model: env('HELIX_CHAT_MODEL'), messages: PROMPT, max_tokens: MAX_TOKENS }),
    (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 401);
      checkErrorEnvelope(err);
      return true;
    },
  );
  await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
});

test('an unknown model raises NotFoundError', async () => {
  await assert.rejects(
    client().chat.completions.create({ model: unknownModel(), messages: PROMPT, max_tokens: MAX_TOKENS }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 404);
      checkErrorEnvelope(err);
      return true;
    },
  );
});

test('an unknown model with stream: true raises NotFoundError before any chunk', async () => {
  await assert.rejects(async () => {
    const stream = await client().chat.completions.create({
      model: unknownModel(),
      messages: PROMPT,
      max_tokens: MAX_TOKENS,
      stream: true,
    });
    for await (const _ of stream);
  }, OpenAI.NotFoundError);
});
