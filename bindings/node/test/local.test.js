'use strict'
// Without a server: sandboxes run by the test process (LocalSandboxes, a dockerd of their
// own each; root and Docker's binaries needed, HELIX_LOCAL_ROOTFS a rootfs tarball) and
// the embedded GPU scheduler (no environment needed).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const sdk = require('@helix/sdk')
const { LocalSandboxes, Scheduler } = sdk

const IMAGE = 'hxtest/local-node:1'
// Its own names and ranges, so it runs beside the suite's helix serve and the pytest host.
const HOST = { prefix: 'tsn', uplinkPool: '10.248.1.0/24', containerPool: '10.209.0.0/16' }

test('a local sandbox: streamed output, files, errors, kill, shutdown', async () => {
  const rootfs = process.env.HELIX_LOCAL_ROOTFS
  if (!rootfs) throw new Error('HELIX_LOCAL_ROOTFS is not set (run through helix-server/tests/sdk_e2e.rs)')
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'helix-local-'))
  const host = await LocalSandboxes.start({ stateDir, images: { [IMAGE]: rootfs }, ...HOST })
  try {
    const sbx = await host.createSandbox(IMAGE, { timeout: 120, labels: { job: 'node' } })
    assert.equal(sbx.isLocal, true)
    assert.deepEqual((await host.listSandboxes()).map((s) => s.id), [sbx.id])

    // Output streams: the command waits for a file written only after its first line.
    const seen = []
    const result = await sbx.commands.run(
      'echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done; exit 2',
      {
        onStdout: async (data) => {
          seen.push(data)
          if (data.includes('ready')) await sbx.files.write('/tmp/go', '')
        },
      },
    )
    assert.deepEqual(result, { stdout: 'ready\ndone\n', stderr: '', exitCode: 2, timedOut: false })
    assert.equal(seen.join(''), 'ready\ndone\n')

    await sbx.files.write('/work/out.txt', 'node data')
    assert.equal((await sbx.files.read('/work/out.txt')).toString(), 'node data')
    assert.ok((await sbx.files.list('/work')).some((e) => e.name === 'out.txt'))
    assert.match(await sbx.getHost(8080), /^http:\/\/10\.248\.1\.\d+:8080\/$/)
    await assert.rejects(sbx.files.read('/work/missing'), (e) => {
      assert.ok(e instanceof sdk.NotFoundError)
      assert.equal(e.code, 'file_not_found')
      assert.equal(e.status, 404)
      return true
    })

    await sbx.kill()
    assert.equal(sbx.info.state, 'stopped')
    await assert.rejects(host.connectSandbox(sbx.id), (e) => e instanceof sdk.NotFoundError && e.code === 'sandbox_not_found')
    await host.createSandbox(IMAGE, { timeout: 120 })
  } finally {
    await host.shutdown()
  }
  assert.deepEqual(await host.listSandboxes(), [])
  await assert.rejects(host.createSandbox(IMAGE), (e) => e instanceof sdk.ServerError && e.code === 'host_unavailable')
  fs.rmSync(stateDir, { recursive: true, force: true })
})

const GIB = 2 ** 30
const runner = {
  id: 'gpu-box',
  name: 'gpu-box',
  gpus: [{ index: 0, name: 'L4', total_bytes: 24 * GIB, free_bytes: 24 * GIB }],
  offers: [{ name: 'llama-8b', runtime: 'llama_cpp', memory_bytes: 15 * GIB, context_len: 8192, parallel: 1, embeddings: false, max_gpus: 1 }],
  instances: [],
}

test('the embedded scheduler places, grants by priority and times out', () => {
  const s = new Scheduler({ max_instances_per_model: 1 })
  s.runnerConnected(runner, 0)
  const first = s.enqueue('team-a', 'llama-8b', { at: 0 })
  const [start] = s.tick(0)
  assert.equal(start.type, 'start_instance')
  assert.deepEqual(start.spec.gpus, [0])
  const second = s.enqueue('team-b', 'llama-8b', { priority: 'interactive', at: 1 })
  const third = s.enqueue('team-c', 'llama-8b', { priority: 'background', deadlineSecs: 5, at: 1 })
  s.instanceStatus('gpu-box', { instance: start.spec.instance, model: 'llama-8b', gpus: [0], state: 'ready', message: null }, 2)
  assert.deepEqual(s.tick(2), [{ type: 'grant', ticket: second, runner: 'gpu-box', instance: start.spec.instance }])
  s.release(second, 3)
  assert.deepEqual(s.tick(3).map((a) => a.ticket), [first])
  const [reject] = s.tick(7)
  assert.deepEqual([reject.type, reject.ticket, reject.code], ['reject', third, 'queue_timeout'])
  assert.deepEqual(s.view().granted.map((g) => g.ticket), [first])
})

test('the embedded scheduler refuses bad input with error classes', () => {
  const s = new Scheduler()
  assert.throws(() => s.enqueue('a', 'nobody-offers-this'), (e) => e instanceof sdk.NotFoundError && e.code === 'model_not_offered')
  assert.throws(() => s.enqueue('a', 'm', { priority: 'urgent' }), (e) => e instanceof sdk.InvalidRequestError)
  assert.throws(() => new Scheduler({ keep_alive: 3 }), (e) => e instanceof sdk.InvalidRequestError && /unknown field/.test(e.message))
  assert.throws(() => new Scheduler({ keep_alive_secs: -1 }), (e) => e instanceof sdk.InvalidRequestError && e.code === 'invalid_config')
  assert.throws(() => s.runnerConnected({ id: 'r' }), (e) => e instanceof sdk.InvalidRequestError)
  assert.equal(s.cancel(12345), false)
})
