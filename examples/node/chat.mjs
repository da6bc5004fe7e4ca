// Chat with a model through a Helix server, printing the answer as it is written.
//
//   npm install ./helix-sdk-*.tgz   # bindings/node (see bindings/README.md)
//   HELIX_URL=http://localhost:8080 HELIX_API_KEY=hx-... node chat.mjs MODEL "Hello!"

import { Helix, HelixError } from '@helix/sdk'

const [model, ...messages] = process.argv.slice(2)
if (!model) {
  console.error('usage: chat.mjs MODEL [MESSAGE...]')
  process.exit(2)
}
const client = new Helix() // HELIX_URL / HELIX_API_KEY
try {
  const session = await client.createSession({ model, name: 'chat.mjs' })
  for (const message of messages.length ? messages : ['Say hello in five words.']) {
    console.log(`> ${message}`)
    const start = performance.now()
    let first = null
    let pieces = 0
    const stream = await client.chat(session.id, message)
    for await (const text of stream) {
      first ??= performance.now() - start
      pieces += 1
      process.stdout.write(text)
    }
    const tokens = stream.interaction.usage?.completion_tokens ?? '?'
    console.log(`\n[${pieces} pieces, first after ${Math.round(first ?? 0)} ms, ${tokens} tokens]`)
  }
  const kept = await client.getSession(session.id)
  console.log(`session ${session.id}: ${kept.interactions.length} messages`)
  await client.deleteSession(session.id)
} catch (e) {
  if (!(e instanceof HelixError)) throw e
  console.error(`error: ${e.code} (${e.status}): ${e.message}`)
  process.exit(1)
}
