'use strict'
// @helix/sdk against a real helix serve (engine + sandboxes) described in the environment
// by helix-server/tests/sdk_e2e.rs: HELIX_URL, HELIX_API_KEY, HELIX_OTHER_API_KEY,
// HELIX_CHAT_MODEL, HELIX_SANDBOX_IMAGE. Runs on the package as npm installed it.

const test = require('node:test')
const assert = require('node:assert/strict')
const sdk = require('@helix/sdk')
const { Helix, Sandbox } = sdk

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set (run through helix-server/tests/sdk_e2e.rs)`)
  return v
}

test('models list the engine', async () => {
  const client = new Helix(env('HELIX_URL'), env('HELIX_API_KEY'))
  const ids = (await client.listModels()).map((m) => m.id)
  assert.ok(ids.includes(env('HELIX_CHAT_MODEL')), ids.join(','))
})

test('streaming chat yields text before the answer is done', async () => {
  const client = new Helix(env('HELIX_URL'), env('HELIX_API_KEY'))
  const session = await client.createSession({ model: env('HELIX_CHAT_MODEL'), name: 'node' })
  const stream = await client.chat(session.id, 'Say hello')
  const chunks = []
  for await (const text of stream) chunks.push(text)
  // One piece per delta the server sent, not one blob at the end.
  assert.ok(chunks.length >= 2, JSON.stringify(chunks))
  assert.equal(stream.interaction.state, 'complete')
  assert.equal(stream.interaction.content, chunks.join(''))
  assert.deepEqual(await stream.finish(), stream.interaction)
  const kept = await client.getSession(session.id)
  assert.deepEqual(kept.interactions.map((i) => i.role), ['user', 'assistant'])
  await client.deleteSession(session.id)
  await assert.rejects(client.getSession(session.id), (e) => {
    assert.ok(e instanceof sdk.NotFoundError)
    assert.ok(e instanceof sdk.HelixError)
    assert.equal(e.code, 'not_found')
    assert.equal(e.status, 404)
    return true
  })
})

test('apps and usage', async () => {
  const client = new Helix(env('HELIX_URL'), env('HELIX_API_KEY'))
  const [org] = await client.listOrgs()
  const app = await client.createApp({ orgId: org.id, name: 'Greeter', model: env('HELIX_CHAT_MODEL'), systemPrompt: 'Greet.' })
  assert.equal((await client.getApp(app.id)).system_prompt, 'Greet.')
  assert.ok((await client.listApps(org.id)).some((a) => a.id === app.id))
  const session = await client.createSession({ appId: app.id })
  assert.equal((await (await client.chat(session.id, 'hi')).finish()).state, 'complete')
  await client.deleteApp(app.id)
  await assert.rejects(client.getApp(app.id), sdk.NotFoundError)
  const rows = await client.usage(1)
  assert.ok(rows.some((r) => r.model === env('HELIX_CHAT_MODEL') && r.calls >= 1), JSON.stringify(rows))
})

test('errors are the documented classes', async () => {
  await assert.rejects(new Helix(env('HELIX_URL'), 'hx-not-a-key').listSessions(), (e) => e instanceof sdk.AuthenticationError && e.status === 401)
  const client = new Helix(env('HELIX_URL'), env('HELIX_API_KEY'))
  await assert.rejects(client.getSession('../admin'), (e) => e instanceof sdk.InvalidRequestError && e.code === 'invalid_argument')
  await assert.rejects(client.createSession({}), sdk.InvalidRequestError)
  await assert.rejects(new Helix('http://127.0.0.1:9', 'hx-x').listModels(), (e) => e instanceof sdk.ConnectionError && e.code === 'connection_error')
  assert.throws(() => new Helix('ftp://nope', 'hx-x'), sdk.InvalidRequestError)
  await assert.rejects(client.createSandbox(env('HELIX_SANDBOX_IMAGE'), { timeout: -1 }), sdk.InvalidRequestError)
})

test('sandbox: create, streamed command, files, timeout, kill', async () => {
  process.env.HELIX_URL = env('HELIX_URL')
  process.env.HELIX_API_KEY = env('HELIX_API_KEY')
  const client = new Helix()
  const sbx = await Sandbox.create(env('HELIX_SANDBOX_IMAGE'), { timeout: 120, labels: { job: 'node' } })
  try {
    assert.match(sbx.id, /^sbx_/)
    assert.equal(sbx.info.state, 'running')
    assert.equal(sbx.info.labels.job, 'node')
    // The command waits for a file the test writes only once it has seen the first
    // line: a buffered answer would never finish.
    const seen = []
    const result = await sbx.commands.run(
      'echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done; echo oops >&2; exit 4',
      {
        timeout: 60,
        onStdout: async (data) => {
          seen.push(data)
          if (data.includes('ready')) await sbx.files.write('/tmp/go', '')
        },
      },
    )
    assert.deepEqual(result, { stdout: 'ready\ndone\n', stderr: 'oops\n', exitCode: 4, timedOut: false })
    assert.equal(seen.join(''), 'ready\ndone\n')
    assert.equal((await sbx.commands.run(['echo', 'a b'])).stdout, 'a b\n')
    const events = []
    for await (const ev of await sbx.commands.stream('echo x')) events.push(ev)
    assert.deepEqual(events.at(-1), { type: 'exit', code: 0, timed_out: false })

    const payload = Buffer.alloc(1024, 7)
    await sbx.files.write('/data/blob.bin', payload)
    assert.deepEqual(await sbx.files.read('/data/blob.bin'), payload)
    assert.deepEqual((await sbx.files.list('/data')).map((e) => e.name), ['blob.bin'])
    await assert.rejects(sbx.files.read('/data/missing'), (e) => e instanceof sdk.NotFoundError && e.code === 'file_not_found')

    const before = sbx.info.expires_at
    assert.ok((await sbx.setTimeout(600)).expires_at > before)
    assert.ok(sbx.info.expires_at > before)
    assert.ok((await sbx.getHost(8000)).endsWith(`/api/v1/sandboxes/${sbx.id}/ports/8000/`))
    const other = new Helix(env('HELIX_URL'), env('HELIX_OTHER_API_KEY'))
    await assert.rejects(other.connectSandbox(sbx.id), sdk.NotFoundError)
  } finally {
    await sbx.kill()
  }
  assert.ok(!(await client.listSandboxes()).some((s) => s.id === sbx.id))
  await assert.rejects(client.connectSandbox(sbx.id), (e) => e instanceof sdk.NotFoundError && e.code === 'sandbox_not_found')
})
