// End to end in a real browser (Debian's Chromium, driven by playwright-core) against a
// real `helix serve` with a real engine: register the first user, chat with streamed
// tokens, reload and find the session, watch a second page see it, edit and resend,
// then every page: API keys, providers, apps, runners and their tokens, usage, orgs,
// admin, sandboxes; and a user of another org sees none of it.
//   node e2e/chat.e2e.mjs BASE_URL SCREENSHOT_DIR [SANDBOX_IMAGE]
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

// SANDBOX_IMAGE: the server runs sandboxes with this image (their steps run only then).
const [given, shots, sandboxImage] = process.argv.slice(2);
if (!given || !shots) {
  console.error("usage: node e2e/chat.e2e.mjs BASE_URL SCREENSHOT_DIR [SANDBOX_IMAGE]");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
// The server's public URL is http://localhost:PORT: live updates check the origin.
const base = given.replace("127.0.0.1", "localhost");
const answer = "Hello from tiny llama!";

// A slow OpenAI-compatible upstream (model `slow`: a word every 150 ms, 200 words) that
// notes when Helix hangs up on it: the Stop button must stop the engine, not just the page.
const upstream = { calls: 0, hungUp: 0, sent: 0 };
const slow = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/v1/models") {
    res.setHeader("content-type", "application/json");
    return res.end(JSON.stringify({ object: "list", data: [{ id: "slow", object: "model" }] }));
  }
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
    res.statusCode = 404;
    return res.end();
  }
  upstream.calls += 1;
  res.setHeader("content-type", "text/event-stream");
  let i = 0;
  const timer = setInterval(() => {
    if (i === 200) {
      clearInterval(timer);
      res.end("data: [DONE]\n\n");
      return;
    }
    const chunk = { object: "chat.completion.chunk", model: "slow", choices: [{ index: 0, delta: { content: `w${i} ` } }] };
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    upstream.sent = ++i;
  }, 150);
  res.on("close", () => {
    if (i < 200) upstream.hungUp += 1;
    clearInterval(timer);
  });
});
await new Promise((ok) => slow.listen(0, "127.0.0.1", ok));
const slowUrl = `http://127.0.0.1:${slow.address().port}/v1`;

const browser = await chromium.launch({
  executablePath: process.env.HELIX_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const step = (name) => console.log(`e2e: ${name}`);
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);

  step("the sign-in page");
  await page.goto(base);
  await page.getByRole("heading", { name: "Sign in to Helix" }).waitFor();
  await page.screenshot({ path: `${shots}/01-sign-in.png` });

  step("register the first user");
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Email").fill("admin@example.com");
  await page.locator("input[type=password]").fill("correct horse battery");
  await page.screenshot({ path: `${shots}/02-register.png` });
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByTestId("signed-in-as").filter({ hasText: "admin@example.com" }).waitFor();

  step("start a chat and see the answer stream in");
  // The first model the user may use is preselected: the runner's.
  await page.locator('input[value="runners/tiny"]').first().waitFor();
  await page.screenshot({ path: `${shots}/03-new-chat.png` });
  await page.getByLabel("Message").fill("Say hello");
  await page.getByRole("button", { name: "Send" }).click();
  // While the answer streams the composer offers Stop; the answer then appears.
  await page.getByText("Say hello").waitFor();
  await page.getByTestId("assistant-message").filter({ hasText: answer }).waitFor();
  await page.screenshot({ path: `${shots}/04-chat.png` });
  const url = page.url();
  if (!/\/chat\/ses_/.test(url)) throw new Error(`expected a session URL, got ${url}`);

  step("reload and find the session");
  await page.reload();
  await page.getByTestId("assistant-message").filter({ hasText: answer }).waitFor();
  // The session is listed (its entry shows the model; the picker is gone in a session).
  await page.getByText("runners/tiny", { exact: true }).first().waitFor();

  step("a second page opens the same conversation and watches it grow live");
  const second = await context.newPage();
  await second.goto(url);
  await second.getByTestId("assistant-message").filter({ hasText: answer }).waitFor();
  await page.getByLabel("Message").fill("And again");
  await page.getByRole("button", { name: "Send" }).click();
  await second.getByText("And again").waitFor();
  await second.getByTestId("assistant-message").filter({ hasText: answer }).nth(1).waitFor();
  await second.screenshot({ path: `${shots}/04b-second-page-live.png` });

  step("regenerate, rename and delete");
  const regenerated = page.waitForResponse((r) => r.url().includes("/regenerate") && r.status() === 200);
  await page.getByRole("button", { name: "Regenerate" }).click();
  await regenerated;
  await page.getByTestId("assistant-message").filter({ hasText: answer }).nth(1).waitFor();
  await page.getByRole("button", { name: "Regenerate" }).waitFor();
  const answers = await page.getByTestId("assistant-message").count();
  if (answers !== 2) throw new Error(`regenerate replaces the last answer: ${answers} answers`);
  await page.getByRole("button", { name: "Actions for New chat" }).click();
  await page.getByRole("menuitem", { name: "Rename" }).click();
  await page.getByLabel("Chat name").fill("Greetings");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Greetings", { exact: true }).waitFor();
  await page.screenshot({ path: `${shots}/04c-renamed.png` });

  step("edit a message and resend it: a new chat from that point, the original kept");
  await page.getByRole("button", { name: "Edit", exact: true }).first().click();
  await page.getByLabel("Edited message").fill("Say hello again");
  await page.getByRole("button", { name: "Send edited" }).click();
  await page.waitForURL((u) => /\/chat\/ses_/.test(u.pathname) && !url.endsWith(u.pathname));
  await page.getByText("Say hello again").waitFor();
  await page.getByTestId("assistant-message").filter({ hasText: answer }).waitFor();
  await page.getByRole("button", { name: "Regenerate" }).waitFor();
  const edited = await page.getByTestId("conversation").locator("[data-role]").count();
  if (edited !== 2) throw new Error(`the edited chat holds the new message and its answer only: ${edited}`);
  await page.getByText("Greetings (fork)", { exact: true }).waitFor();
  await page.screenshot({ path: `${shots}/04d-edited-and-resent.png` });
  await page.goto(url);
  await page.getByText("And again").waitFor();

  step("create an API key (shown once) and revoke it");
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByRole("heading", { name: "API keys" }).waitFor();
  await page.getByLabel("Key name").fill("laptop");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = await page.getByTestId("new-key").textContent();
  if (!secret?.startsWith("hx-")) throw new Error(`unexpected key ${secret}`);
  await page.getByRole("cell", { name: "active" }).waitFor();
  await page.screenshot({ path: `${shots}/06-api-keys.png` });
  await page.getByRole("button", { name: "Revoke laptop" }).click();
  await page.getByRole("cell", { name: "revoked" }).waitFor();

  step("add a provider; its key is never shown again");
  await page.getByRole("link", { name: "Providers" }).click();
  await page.getByRole("heading", { name: "Providers" }).waitFor();
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("local");
  await page.getByLabel("Base URL").fill(slowUrl);
  await page.locator("input[type=password]").fill("sk-test-secret");
  // A loopback upstream is for site admins' global endpoints only.
  await page.getByLabel("Who may use it").first().click();
  await page.getByRole("option", { name: "Everyone" }).click();
  await page.getByRole("button", { name: "Add provider" }).click();
  await page.getByRole("cell", { name: "stored" }).waitFor();
  if ((await page.locator("input[type=password]").inputValue()) !== "") throw new Error("the key stayed in the form");
  if ((await page.content()).includes("sk-test-secret")) throw new Error("the key is on the page");
  step("its models: what the upstream offers; register one as the default for its name");
  await page.getByRole("button", { name: "Models of local" }).click();
  const models = page.getByTestId("models-of-local");
  await models.getByText("Offered by the upstream: slow").waitFor();
  await models.getByLabel("Model name").fill("slow");
  await models.getByLabel("Context (tokens)").fill("8192");
  await models.getByRole("button", { name: "Register model for local" }).click();
  const registered = page.getByRole("table", { name: "Registered models of local" });
  await registered.getByRole("cell", { name: "8192" }).waitFor();
  await registered.getByText("default for “slow”").waitFor();
  await page.screenshot({ path: `${shots}/07-providers.png` });

  step("stop a long answer: the engine stops, the text so far is kept");
  await page.getByRole("link", { name: "Chat" }).click();
  await page.getByRole("button", { name: "New chat" }).click();
  await page.getByLabel("Model", { exact: true }).first().click();
  await page.getByRole("option", { name: "local/slow" }).click();
  await page.getByLabel("Message").fill("Count slowly");
  await page.getByRole("button", { name: "Send" }).click();
  const streaming = page.getByTestId("assistant-message").filter({ hasText: "w3 " });
  await streaming.waitFor();
  await page.getByRole("button", { name: "Stop" }).click();
  await page.getByRole("button", { name: "Send" }).waitFor();
  const kept = (await page.getByTestId("assistant-message").last().textContent()).trim();
  for (let i = 0; i < 50 && upstream.hungUp === 0; i++) await page.waitForTimeout(100);
  if (upstream.hungUp !== 1) throw new Error(`the upstream was not stopped: ${JSON.stringify(upstream)}`);
  if (!/^w0 w1 w2 w3/.test(kept) || kept.includes("w199")) throw new Error(`kept: ${kept}`);
  await page.screenshot({ path: `${shots}/07b-stopped.png` });
  await page.reload();
  await page.getByTestId("assistant-message").filter({ hasText: kept }).waitFor();
  const stored = (await page.getByTestId("assistant-message").last().textContent()).trim();
  if (stored !== kept) throw new Error(`the server kept ${stored}, the page showed ${kept}`);

  step("create an app and chat with it");
  await page.getByRole("link", { name: "Apps" }).click();
  await page.getByRole("heading", { name: "Apps" }).waitFor();
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("Greeter");
  await page.getByLabel("Model", { exact: true }).first().click();
  await page.getByRole("option", { name: "runners/tiny" }).click();
  await page.getByLabel("System prompt").fill("You greet people.");
  await page.getByRole("button", { name: "Create app" }).click();
  await page.getByTestId("app-card").filter({ hasText: "Greeter" }).waitFor();
  await page.screenshot({ path: `${shots}/08-apps.png` });
  await page.getByRole("button", { name: "Chat with Greeter" }).click();
  await page.getByText("Chat with Greeter").waitFor();
  await page.getByLabel("Message").fill("Hi there");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByText("Hi there").waitFor();
  await page.getByTestId("assistant-message").filter({ hasText: answer }).waitFor();
  await page.screenshot({ path: `${shots}/09-app-chat.png` });

  step("runners (site admins): the in-process runner, its GPU and the instance");
  await page.getByRole("link", { name: "Runners" }).click();
  await page.getByTestId("runner-card").filter({ hasText: "tiny" }).waitFor();
  await page.getByLabel("GPU 0 memory").waitFor();
  await page.screenshot({ path: `${shots}/11-runners.png` });

  step("runner tokens: create one (shown once), revoke it");
  await page.getByLabel("Runner id").fill("gpu-node-1");
  await page.getByLabel("Note").fill("rack 3");
  await page.getByRole("button", { name: "Create token" }).click();
  const runnerToken = await page.getByTestId("new-runner-token").textContent();
  if (!runnerToken?.startsWith("hxr-")) throw new Error(`unexpected runner token ${runnerToken}`);
  await page.getByRole("table", { name: "Runner tokens" }).getByRole("cell", { name: "active" }).waitFor();
  await page.screenshot({ path: `${shots}/11b-runner-tokens.png`, fullPage: true });
  await page.getByRole("button", { name: "Revoke token of gpu-node-1" }).click();
  await page.getByRole("table", { name: "Runner tokens" }).getByRole("cell", { name: "revoked" }).waitFor();

  step("usage: the chats above, per day and per model");
  await page.getByRole("link", { name: "Usage" }).click();
  await page.getByRole("heading", { name: "Usage", exact: true }).waitFor();
  await page.getByRole("table", { name: "Usage per model" }).getByRole("cell", { name: "runners/tiny" }).waitFor();
  await page.getByTestId("usage-chart").locator(".recharts-bar-rectangle path").first().waitFor();
  await page.screenshot({ path: `${shots}/15-usage.png`, fullPage: true });

  step("a user of another org sees none of it");
  const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const stranger = await other.newPage();
  stranger.setDefaultTimeout(60_000);
  await stranger.goto(base);
  await stranger.getByRole("button", { name: "Create an account" }).click();
  await stranger.getByLabel("Email").fill("mallory@example.com");
  await stranger.locator("input[type=password]").fill("correct horse battery");
  await stranger.getByRole("button", { name: "Create account" }).click();
  await stranger.getByTestId("signed-in-as").filter({ hasText: "mallory@example.com" }).waitFor();
  await stranger.getByText("No chats yet").waitFor();
  await stranger.goto(url);
  await stranger.getByRole("alert").filter({ hasText: /not found/i }).waitFor();
  if ((await stranger.getByTestId("assistant-message").count()) !== 0) throw new Error("a stranger sees the conversation");
  await stranger.screenshot({ path: `${shots}/10-other-org-no-access.png` });
  await stranger.getByRole("link", { name: "Apps" }).click();
  await stranger.getByText("No apps yet").waitFor();
  if ((await stranger.getByRole("link", { name: "Runners" }).count()) !== 0) throw new Error("a non-admin sees Runners");
  await other.close();

  step("orgs: create one, add the other user, change their role, remove them");
  await page.getByRole("link", { name: "Orgs" }).click();
  await page.getByLabel("Org name").fill("Research");
  await page.getByRole("button", { name: "Create org" }).click();
  await page.getByLabel("Member email").fill("mallory@example.com");
  await page.getByLabel("Role", { exact: true }).selectOption("member");
  await page.getByRole("button", { name: "Add member" }).click();
  const role = page.getByLabel("Role of mallory@example.com");
  await role.waitFor();
  await role.selectOption("admin");
  await page.waitForResponse((r) => r.url().includes("/members/") && r.request().method() === "PATCH" && r.ok());
  await page.getByRole("table", { name: "Members of Research" }).waitFor();
  await page.screenshot({ path: `${shots}/16-orgs.png`, fullPage: true });
  await page.getByRole("button", { name: "Remove mallory@example.com" }).click();
  await role.waitFor({ state: "detached" });

  step("admin: users and roles, registration off");
  await page.getByRole("link", { name: "Admin" }).click();
  await page.getByRole("button", { name: "Make mallory@example.com an admin" }).click();
  await page.getByRole("button", { name: "Remove admin from mallory@example.com" }).click();
  await page.getByRole("button", { name: "Make mallory@example.com an admin" }).waitFor();
  await page.getByLabel("Anyone may register").uncheck({ force: true });
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Settings saved").waitFor();
  await page.screenshot({ path: `${shots}/17-admin.png`, fullPage: true });
  const closed = await browser.newContext();
  const visitor = await closed.newPage();
  await visitor.goto(base);
  await visitor.getByRole("heading", { name: "Sign in to Helix" }).waitFor();
  await visitor.getByRole("button", { name: "Sign in", exact: true }).waitFor();
  if ((await visitor.getByRole("button", { name: "Create an account" }).count()) !== 0) throw new Error("registration is still offered");
  await closed.close();

  if (sandboxImage) {
    step("sandboxes: create one, see it run, stop it");
    await page.getByRole("link", { name: "Sandboxes" }).click();
    await page.getByLabel("Image").fill(sandboxImage);
    await page.getByRole("button", { name: "Create sandbox" }).click();
    const row = page.getByTestId("sandbox-row").filter({ hasText: "running" });
    await row.waitFor();
    await page.screenshot({ path: `${shots}/18-sandboxes.png` });
    await row.getByRole("button", { name: /^Stop sbx_/ }).click();
    await row.waitFor({ state: "detached" });
  } else {
    console.log("e2e: sandboxes not enabled on this server: their steps were not run");
  }

  step("delete a chat");
  await page.getByRole("link", { name: "Chat" }).click();
  await page.getByRole("button", { name: "Actions for Greetings", exact: true }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByText("Greetings", { exact: true }).waitFor({ state: "detached" });

  step("dark mode");
  await page.getByRole("button", { name: /Use (dark|light) theme/ }).click();
  await page.screenshot({ path: `${shots}/05-chat-toggled-theme.png` });

  step("sign out");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to Helix" }).waitFor();
  console.log("e2e: ok");
} catch (e) {
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages[0]) await pages[0].screenshot({ path: `${shots}/failure.png` }).catch(() => {});
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
  slow.close();
  slow.closeAllConnections();
}
