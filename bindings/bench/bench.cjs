'use strict'
// The Node side of `helix bench sdk`: the same calls the Rust baseline makes, timed here;
// prints one JSON object. Usage: node bench.cjs SDK_DIR URL KEY MODEL CALLS STREAMS FFI_CALLS
// (SDK_DIR: a folder with @helix/sdk installed, as bindings/build.sh makes it).

const path = require('node:path')
const [sdkDir, url, key, model, ...nums] = process.argv.slice(2)
const [calls, streams, ffi] = nums.map(Number)
const { Helix, Scheduler } = require(path.join(path.resolve(sdkDir), 'node_modules/@helix/sdk'))

const us = (t) => Number(process.hrtime.bigint() - t) / 1000

async function main() {
  const client = new Helix(url, key)
  const out = {}

  // An in-process call with no I/O: what crossing into Rust and back costs.
  const s = new Scheduler()
  for (let i = 0; i < 1000; i++) s.now()
  let t = process.hrtime.bigint()
  for (let i = 0; i < ffi; i++) s.now()
  out.ffi_ns = Number(process.hrtime.bigint() - t) / ffi

  for (let i = 0; i < 50; i++) await client.listModels()
  out.call_us = []
  for (let i = 0; i < calls; i++) {
    t = process.hrtime.bigint()
    await client.listModels()
    out.call_us.push(us(t))
  }

  out.stream_us = []
  for (let i = 0; i < streams + 5; i++) {
    const session = await client.createSession({ model })
    t = process.hrtime.bigint()
    let n = 0
    for await (const _ of await client.chat(session.id, 'hi')) n++
    if (i >= 5) {
      out.stream_us.push(us(t))
      out.pieces = n
    }
  }
  console.log(JSON.stringify(out))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
