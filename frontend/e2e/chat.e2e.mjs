// End to end in a real browser (Debian's Chromium, driven by playwright-core) against a
// real `helix serve` with a real engine: register the first user, chat with streamed
// tokens, reload and find the session, and watch a second page see it.
//   node e2e/chat.e2e.mjs BASE_URL SCREENSHOT_DIR
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [given, shots] = process.argv.slice(2);
if (!given || !shots) {
  console.error("usage: node e2e/chat.e2e.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
// The server's public URL is http://localhost:PORT: live updates check the origin.
const base = given.replace("127.0.0.1", "localhost");
const answer = "Hello from tiny llama!";

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
  await page.getByLabel("Base URL").fill("http://127.0.0.1:9/v1");
  await page.locator("input[type=password]").fill("sk-test-secret");
  // A loopback upstream is for site admins' global endpoints only.
  await page.getByLabel("Who may use it").first().click();
  await page.getByRole("option", { name: "Everyone" }).click();
  await page.getByRole("button", { name: "Add provider" }).click();
  await page.getByRole("cell", { name: "stored" }).waitFor();
  if ((await page.locator("input[type=password]").inputValue()) !== "") throw new Error("the key stayed in the form");
  if ((await page.content()).includes("sk-test-secret")) throw new Error("the key is on the page");
  await page.screenshot({ path: `${shots}/07-providers.png` });

  step("create an app and chat with it");
  await page.getByRole("link", { name: "Apps" }).click();
  await page.getByRole("heading", { name: "Apps" }).waitFor();
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("Greeter");
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

  step("delete a chat");
  await page.getByRole("link", { name: "Chat" }).click();
  await page.getByRole("button", { name: "Actions for Greetings" }).click();
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
}
