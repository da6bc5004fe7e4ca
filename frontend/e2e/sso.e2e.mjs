// Single sign-on in a real browser: Helix's "Sign in with SSO" through a real OpenID
// provider (npm oidc-provider, tests/oidc-provider, whose sign-in form asks for a user
// name) and back, signed in; a user the provider vouches for but Helix refuses is told
// why on the sign-in page.
//   node e2e/sso.e2e.mjs BASE_URL SCREENSHOT_DIR
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [given, shots] = process.argv.slice(2);
if (!given || !shots) {
  console.error("usage: node e2e/sso.e2e.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
// The redirect URI registered at the provider uses the server's public URL (localhost).
const base = given.replace("127.0.0.1", "localhost");

const browser = await chromium.launch({
  executablePath: process.env.HELIX_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const step = (name) => console.log(`e2e: ${name}`);

/** From Helix's sign-in page through the provider's form as `user`. */
async function ssoAs(page, user, shot) {
  await page.goto(base);
  await page.getByRole("heading", { name: "Sign in to Helix" }).waitFor();
  await page.getByRole("link", { name: "Sign in with SSO" }).click();
  await page.getByRole("heading", { name: "Sign in to the test identity provider" }).waitFor();
  if (shot) await page.screenshot({ path: `${shots}/${shot}` });
  await page.getByLabel("Username").fill(user);
  await page.getByRole("button", { name: "Continue" }).click();
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);

  step("alice signs in through the provider; her group makes her a site admin");
  await ssoAs(page, "alice", "12-sso-provider.png");
  await page.getByTestId("signed-in-as").filter({ hasText: "alice@example.com" }).waitFor();
  await page.getByRole("link", { name: "Admin" }).waitFor();
  await page.screenshot({ path: `${shots}/13-sso-signed-in.png` });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to Helix" }).waitFor();

  step("bob signs in the same way and is not an admin");
  await ssoAs(page, "bob");
  await page.getByTestId("signed-in-as").filter({ hasText: "bob@example.com" }).waitFor();
  await page.getByRole("link", { name: "Chat" }).waitFor();
  if ((await page.getByRole("link", { name: "Admin" }).count()) !== 0) throw new Error("bob sees Admin");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to Helix" }).waitFor();

  step("mallory (unverified email, another domain) is refused and told why");
  await ssoAs(page, "mallory");
  await page.getByRole("heading", { name: "Sign in to Helix" }).waitFor();
  await page.getByRole("alert").filter({ hasText: "Single sign-on failed" }).filter({ hasText: /email domain/ }).waitFor();
  await page.screenshot({ path: `${shots}/14-sso-refused.png` });
  if ((await page.getByTestId("signed-in-as").count()) !== 0) throw new Error("mallory got in");
  // The reason is shown once.
  await page.reload();
  await page.getByRole("heading", { name: "Sign in to Helix" }).waitFor();
  if ((await page.getByRole("alert").count()) !== 0) throw new Error("the SSO error stayed after a reload");
  console.log("e2e: ok");
} catch (e) {
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages[0]) await pages[0].screenshot({ path: `${shots}/sso-failure.png` }).catch(() => {});
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
