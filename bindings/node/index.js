'use strict'
// @helix/sdk: a thin facade over the native addon (native.js, built from src/ with napi-rs).
// Every call runs in the Rust helix-client crate; this file maps errors to classes, makes
// streams async-iterable and gives sandboxes the E2B shape (commands.run, files.*).

const native = require('./native.js')
const { version } = require('./package.json')

class HelixError extends Error {
  constructor(message, code, status) {
    super(message)
    this.name = new.target.name
    /** Stable error code: the server's own when it answered with one. */
    this.code = code
    /** HTTP status, or null. */
    this.status = status
  }
}
class ConnectionError extends HelixError {}
class InvalidRequestError extends HelixError {}
class AuthenticationError extends HelixError {}
class PermissionDeniedError extends HelixError {}
class NotFoundError extends HelixError {}
class ConflictError extends HelixError {}
class RateLimitError extends HelixError {}
class ServerError extends HelixError {}
class StreamError extends HelixError {}

function errorClass(code, status) {
  if (code === 'connection_error') return ConnectionError
  if (code === 'stream_error' || code === 'generation_failed') return StreamError
  if (code === 'invalid_argument' || status === 400 || status === 413 || status === 422) return InvalidRequestError
  if (status === 401) return AuthenticationError
  if (status === 403) return PermissionDeniedError
  if (status === 404) return NotFoundError
  if (status === 409) return ConflictError
  if (status === 429) return RateLimitError
  if (status >= 500) return ServerError
  return HelixError
}

/** The native error's `{code, status, message}` as its class; other errors as they are. */
function fromNative(err) {
  let detail
  try {
    detail = JSON.parse(err.message)
  } catch {
    return err
  }
  if (!detail || typeof detail.code !== 'string') return err
  const Cls = errorClass(detail.code, detail.status)
  return new Cls(detail.message, detail.code, detail.status ?? null)
}

async function call(promise) {
  try {
    return await promise
  } catch (e) {
    throw fromNative(e)
  }
}

function now(f) {
  try {
    return f()
  } catch (e) {
    throw fromNative(e)
  }
}

/** The values `next()` resolves to, up to the first null. */
async function* items(next) {
  for (;;) {
    const item = await next()
    if (item === null) return
    yield item
  }
}

/** An answer being written: `for await (const text of stream)`. */
class ChatStream {
  constructor(n) {
    this._n = n
  }
  /** The next piece of text; null once the answer is complete. */
  nextText() {
    return call(this._n.nextText())
  }
  /** The next event; null after the last. */
  nextEvent() {
    return call(this._n.nextEvent())
  }
  /** Reads to the end; the finished answer. */
  finish() {
    return call(this._n.finish())
  }
  /** The finished answer once the stream has ended, else null. */
  get interaction() {
    return this._n.interaction
  }
  [Symbol.asyncIterator]() {
    return items(() => this.nextText())
  }
}

/** A running command: `for await (const event of stream)`. */
class ExecStream {
  constructor(n) {
    this._n = n
  }
  nextEvent() {
    return call(this._n.nextEvent())
  }
  /** Reads to the end: `{stdout, stderr, exitCode, timedOut}`. */
  wait() {
    return call(this._n.wait())
  }
  [Symbol.asyncIterator]() {
    return items(() => this.nextEvent())
  }
}

/** The workspace's output: `for await (const chunk of stream)` yields Buffers. */
class LogStream {
  constructor(n) {
    this._n = n
  }
  /** The next piece; null at the end. */
  nextChunk() {
    return call(this._n.nextChunk())
  }
  [Symbol.asyncIterator]() {
    return items(() => this.nextChunk())
  }
}

function sandboxSpec(image, opts = {}) {
  const spec = { image }
  if (opts.timeout !== undefined) spec.timeout = opts.timeout
  if (opts.env !== undefined) spec.env = opts.env
  if (opts.labels !== undefined) spec.labels = opts.labels
  const limits = {}
  if (opts.cpus !== undefined) limits.cpus = opts.cpus
  if (opts.memoryBytes !== undefined) limits.memory_bytes = opts.memoryBytes
  if (Object.keys(limits).length) spec.limits = limits
  return spec
}

function execSpec(cmd, opts = {}) {
  const spec = { cmd: typeof cmd === 'string' ? ['sh', '-c', cmd] : [...cmd] }
  if (opts.cwd !== undefined) spec.cwd = opts.cwd
  if (opts.env !== undefined) spec.env = opts.env
  if (opts.user !== undefined) spec.user = opts.user
  if (opts.timeout !== undefined) spec.timeout = opts.timeout
  return spec
}

/** A sandbox: `commands.run`, `files.*`, `getHost`, `setTimeout`, `kill`. */
class Sandbox {
  constructor(n) {
    this._n = n
    const sbx = this
    this.commands = {
      /** Runs to the end; output goes to `onStdout` / `onStderr` as it comes. A string
       * runs through `sh -c`. */
      async run(cmd, opts = {}) {
        const stream = await sbx.run(execSpec(cmd, opts))
        if (!opts.onStdout && !opts.onStderr) return stream.wait()
        const out = []
        const err = []
        for await (const ev of stream) {
          if (ev.type === 'stdout') {
            out.push(ev.data)
            if (opts.onStdout) await opts.onStdout(ev.data)
          } else if (ev.type === 'stderr') {
            err.push(ev.data)
            if (opts.onStderr) await opts.onStderr(ev.data)
          } else if (ev.type === 'exit') {
            return { stdout: out.join(''), stderr: err.join(''), exitCode: ev.code, timedOut: ev.timed_out }
          }
        }
        throw new StreamError('the command stream ended without an exit status', 'stream_error', null)
      },
      /** Starts a command; iterate the result for its events. */
      stream(cmd, opts = {}) {
        return sbx.run(execSpec(cmd, opts))
      },
    }
    this.files = {
      read: (path) => this.readFile(path),
      write: (path, data) => this.writeFile(path, data),
      list: (path) => this.listDir(path),
    }
  }

  /** A new sandbox on the server of `HELIX_URL` / `HELIX_API_KEY` (or `opts.baseUrl`,
   * `opts.apiKey`). */
  static create(image, opts = {}) {
    return new Helix(opts.baseUrl, opts.apiKey).createSandbox(image, opts)
  }

  get id() {
    return this._n.id
  }
  get info() {
    return this._n.info
  }
  refresh() {
    return call(this._n.refresh())
  }
  async run(spec) {
    return new ExecStream(await call(this._n.run(spec)))
  }
  async readFile(path) {
    return call(this._n.readFile(path))
  }
  writeFile(path, data) {
    return call(this._n.writeFile(path, typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)))
  }
  listDir(path) {
    return call(this._n.listDir(path))
  }
  /** Whether this process runs it (`LocalSandboxes`). */
  get isLocal() {
    return this._n.isLocal
  }
  /** The URL at which HTTP reaches `port`: the control plane's relay (send the API key),
   * or the sandbox's own address when it is local. */
  getHost(port) {
    return call(this._n.host(port))
  }
  host(port) {
    return this.getHost(port)
  }
  setTimeout(seconds) {
    return call(this._n.setTimeout(seconds))
  }
  logs() {
    return call(this._n.logs())
  }
  /** The workspace's output as it comes (`follow`: until the sandbox stops). */
  async logsStream(follow = false) {
    return new LogStream(await call(this._n.logsStream(follow)))
  }
  kill() {
    return call(this._n.kill())
  }
}

/** What a server client and a local host share: making and finding sandboxes. */
class SandboxSource {
  /** A sandbox running `image` (opts: `timeout` seconds, `env`, `labels`, `cpus`,
   * `memoryBytes`). */
  async createSandbox(image, opts = {}) {
    return new Sandbox(await call(this._n.createSandbox(sandboxSpec(image, opts))))
  }
  async connectSandbox(sandboxId) {
    return new Sandbox(await call(this._n.connectSandbox(sandboxId)))
  }
  listSandboxes() {
    return call(this._n.listSandboxes())
  }
}

/** A Helix server reached with an API key (`HELIX_URL` / `HELIX_API_KEY` by default). */
class Helix extends SandboxSource {
  constructor(baseUrl, apiKey) {
    super()
    const url = baseUrl || process.env.HELIX_URL || 'http://localhost:8080'
    const key = apiKey || process.env.HELIX_API_KEY || ''
    this._n = now(() => new native.Client(url, key, `helix-node/${version}`))
  }
  get baseUrl() {
    return this._n.baseUrl
  }
  listModels() {
    return call(this._n.listModels())
  }
  usage(days) {
    return call(this._n.usage(days))
  }
  listOrgs() {
    return call(this._n.listOrgs())
  }
  listSessions() {
    return call(this._n.listSessions())
  }
  createSession(options = {}) {
    return call(this._n.createSession(options))
  }
  getSession(sessionId) {
    return call(this._n.getSession(sessionId))
  }
  deleteSession(sessionId) {
    return call(this._n.deleteSession(sessionId))
  }
  /** Sends a message; `for await` over the result yields the answer's text. */
  async chat(sessionId, message) {
    return new ChatStream(await call(this._n.chat(sessionId, message)))
  }
  listApps(orgId) {
    return call(this._n.listApps(orgId))
  }
  createApp(options) {
    return call(this._n.createApp(options))
  }
  getApp(appId) {
    return call(this._n.getApp(appId))
  }
  deleteApp(appId) {
    return call(this._n.deleteApp(appId))
  }
}

/** Sandboxes run by this process, no server: a dockerd of their own each (needs root
 * and Docker's binaries). Made with `await LocalSandboxes.start({...})`; hands out the
 * same `Sandbox` objects as a server. */
class LocalSandboxes extends SandboxSource {
  constructor(n) {
    super()
    this._n = n
  }
  /** Starts the host. `opts`: `stateDir`, `images` (`{"name:tag": "rootfs.tar"}`),
   * `prefix`, `uplinkPool`, `containerPool`, `maxSandboxes`, `diskBytes`, `warm`. */
  static async start(opts = {}) {
    const cfg = {}
    const keys = {
      stateDir: 'state_dir', prefix: 'prefix', uplinkPool: 'uplink_pool', containerPool: 'container_pool',
      maxSandboxes: 'max_sandboxes', diskBytes: 'disk_bytes', warm: 'warm',
    }
    for (const [js, rust] of Object.entries(keys)) if (opts[js] !== undefined) cfg[rust] = opts[js]
    if (opts.images) cfg.images = Object.entries(opts.images)
    return new LocalSandboxes(await call(native.LocalSandboxes.start(cfg)))
  }
  /** Kills every sandbox of this host and stops it. */
  shutdown() {
    return call(this._n.shutdown())
  }
  async [Symbol.asyncDispose]() {
    await this.shutdown()
  }
}

/** Helix's GPU scheduler in this process: JSON in, actions out, no I/O. `at` is seconds
 * since it was made (left out: the real clock). */
class Scheduler {
  constructor(config) {
    this._n = now(() => new native.Scheduler(config))
  }
  now() {
    return this._n.now()
  }
  runnerConnected(report, at) {
    return now(() => this._n.runnerConnected(report, at))
  }
  runnerHeartbeat(runner, gpus, instances, at) {
    return now(() => this._n.runnerHeartbeat(runner, gpus, instances, at))
  }
  runnerDisconnected(runner, at) {
    return now(() => this._n.runnerDisconnected(runner, at))
  }
  instanceStatus(runner, status, at) {
    return now(() => this._n.instanceStatus(runner, status, at))
  }
  /** Queues a request (`opts`: `priority`, `deadlineSecs`, `at`); its ticket number. */
  enqueue(owner, model, opts = {}) {
    const req = { owner, model }
    if (opts.priority !== undefined) req.priority = opts.priority
    if (opts.deadlineSecs !== undefined) req.deadline_secs = opts.deadlineSecs
    return now(() => this._n.enqueue(req, opts.at))
  }
  cancel(ticket, at) {
    return now(() => this._n.cancel(ticket, at))
  }
  release(ticket, at) {
    return now(() => this._n.release(ticket, at))
  }
  /** Decides: actions to carry out in order. */
  tick(at) {
    return now(() => this._n.tick(at))
  }
  view(at) {
    return now(() => this._n.view(at))
  }
}

module.exports = {
  Helix,
  Sandbox,
  LocalSandboxes,
  Scheduler,
  ChatStream,
  ExecStream,
  LogStream,
  HelixError,
  ConnectionError,
  InvalidRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  RateLimitError,
  ServerError,
  StreamError,
  version,
}
