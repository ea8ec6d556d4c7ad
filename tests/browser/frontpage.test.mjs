// The front page in a real browser: Debian's headless Chromium, driven by playwright-core
// (which downloads no browser of its own), against the real `mathapi` binary on a random
// port. Clicks through the calculators, an invalid input, the stepper and keyboard use,
// checks that the page loads nothing from elsewhere and logs no error (CSP violations
// included), and saves the README's screenshots.
//
// MATHAPI_BIN: the binary (default target/debug/mathapi); CHROMIUM: the browser (default
// /usr/bin/chromium, the path scripts/install-browser-tools.sh installs to and checks).
// Without a browser the test skips, except under CI=true, where it fails.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BINARY = process.env.MATHAPI_BIN ?? join(ROOT, "target/debug/mathapi");
const BROWSER = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOTS = join(ROOT, "docs");
// Every wait is bounded: a broken page fails in seconds, not at CI's time limit.
const WAIT_MS = 10_000;
// Steps of the shared sequence are durable (an fsync each): on a machine whose disk is busy
// with other work a queue of 20 can take many seconds. A deadline, not a timing check.
const STEP_WAIT_MS = 90_000;
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

const haveBrowser = existsSync(BROWSER);
if (!haveBrowser && process.env.CI === "true") {
  throw new Error(`${BROWSER} is missing: CI must install it (scripts/install-browser-tools.sh)`);
}
const skip = haveBrowser ? false : `no browser at ${BROWSER} (install chromium, or set CHROMIUM)`;

let server, origin, dataDir, browser;

// Starts the binary on port 0 and resolves with its address from the `listening` log line.
function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), "mathapi-browser-"));
  server = spawn(BINARY, ["--host", "127.0.0.1", "--port", "0", "--sequence-data-dir", dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolveAddress, reject) => {
    const timer = setTimeout(() => reject(new Error("no `listening` line in time")), WAIT_MS);
    server.once("exit", (code) => reject(new Error(`mathapi exited (${code}) before listening`)));
    server.once("error", reject);
    createInterface({ input: server.stdout }).on("line", (line) => {
      let record;
      try { record = JSON.parse(line); } catch { return; }
      if (record.msg === "listening") {
        clearTimeout(timer);
        resolveAddress(`http://${record.address}`);
      }
    });
  });
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(BINARY), `${BINARY} is missing: build it with cargo build -p mathapi`);
  origin = await startServer();
  browser = await chromium.launch({ executablePath: BROWSER, args: FLAGS, timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// A fresh page whose every request must go to the server: anything else is recorded and
// refused, as it would fail offline. Console errors (CSP violations among them) recorded.
async function openPage(viewport) {
  const context = await browser.newContext({ viewport });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`)) return route.continue();
    problems.push(`request outside the server: ${url}`);
    return route.abort();
  });
  page.on("console", (message) => {
    // The browser logs every 4xx answer; the tests cause those on purpose.
    const expected = /^Failed to load resource: the server responded with a status of 4\d\d/;
    if (message.type() === "error" && !expected.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${origin}/`);
  await page.locator("#seq-index").filter({ hasText: /^\d+$/ }).waitFor();
  return { context, page, problems };
}

// The API's own answer, fetched outside the browser: the page must show what it says.
async function api(method, path) {
  const response = await fetch(`${origin}${path}`, { method });
  return { status: response.status, body: await response.json() };
}

async function compute(page, fn, values) {
  for (const [name, value] of Object.entries(values)) {
    await page.fill(`#${fn}-${name}`, value);
  }
  await page.click(`#${fn}-form button[type=submit]`);
}

async function seq(page) {
  return [await page.textContent("#seq-index"), await page.textContent("#seq-value")];
}

async function stepTo(page, button, expected) {
  await page.click(button);
  await page
    .locator("#seq-index")
    .filter({ hasText: new RegExp(`^${expected[0]}$`) })
    .waitFor({ timeout: STEP_WAIT_MS });
  assert.deepEqual(await seq(page), expected);
}

test("the front page in headless Chromium", { skip, timeout: 600_000 }, async (t) => {
  const { context, page, problems } = await openPage({ width: 1280, height: 900 });

  await t.test("is accessible: titled, every input labelled", async () => {
    assert.match(await page.title(), /mathapi/);
    const unlabelled = await page.locator("input").evaluateAll(
      (inputs) => inputs.filter((i) => i.labels.length === 0).map((i) => i.id),
    );
    assert.deepEqual(unlabelled, []);
    for (const label of ["Compute F(n)", "Compute n!", "Compute A(m, n)", "Next →", "Reset"]) {
      assert.equal(await page.getByRole("button", { name: label }).count(), 1, label);
    }
  });

  await t.test("computes exact values with their digit counts", async () => {
    await compute(page, "fibonacci", { n: "100" });
    await page.locator("#result-value").filter({ hasText: "354224848179261915075" }).waitFor();
    assert.equal(await page.textContent("#result-label"), "F(100)");
    assert.equal(await page.textContent("#result-digits"), "21 digits");

    await compute(page, "ackermann", { m: "3", n: "4" });
    await page.locator("#result-label").filter({ hasText: "A(3, 4)" }).waitFor();
    assert.equal(await page.textContent("#result-value"), "125");
    assert.equal(await page.textContent("#result-digits"), "3 digits");
  });

  await t.test("shows the problem document's detail for invalid input", async () => {
    const expected = await api("GET", "/fibonacci/-5/");
    assert.equal(expected.status, 400);
    await compute(page, "fibonacci", { n: "-5" });
    const error = page.locator("#result-error");
    await error.filter({ hasText: expected.body.detail }).waitFor();
    assert.equal(await error.textContent(), expected.body.detail);
    assert.equal(await page.isVisible("#result-body"), false);

    const tooBig = await api("GET", "/factorial/401/");
    await compute(page, "factorial", { n: "401" });
    await error.filter({ hasText: tooBig.body.detail }).waitFor();
  });

  await t.test("works from the keyboard", async () => {
    // Type into the factorial field and press Enter.
    await page.focus("#factorial-n");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("25");
    await page.keyboard.press("Enter");
    await page.locator("#result-label").filter({ hasText: "25!" }).waitFor();
    assert.equal(await page.textContent("#result-value"), "15511210043330985984000000");
    assert.equal(await page.isVisible("#result-error"), false);

    // Tab through the page until "Next" has focus, then press it with Enter and Space.
    await page.focus("#ackermann-n");
    let focused = "";
    for (let i = 0; i < 20 && focused !== "seq-next"; i += 1) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.activeElement?.id ?? "");
    }
    assert.equal(focused, "seq-next", "Tab never reached the Next button");
    const before = Number(await page.textContent("#seq-index"));
    await page.keyboard.press("Enter");
    await page.locator("#seq-index").filter({ hasText: String(before + 1) }).waitFor();
    await page.keyboard.press("Space");
    await page.locator("#seq-index").filter({ hasText: String(before + 2) }).waitFor();
    await stepTo(page, "#seq-reset", ["0", "0"]);
  });

  await t.test("steps the shared sequence with POSTs", async () => {
    await stepTo(page, "#seq-next", ["1", "1"]);
    await stepTo(page, "#seq-next", ["2", "1"]);
    await stepTo(page, "#seq-previous", ["1", "1"]);
    for (const expected of [["2", "1"], ["3", "2"], ["4", "3"], ["5", "5"]]) {
      await stepTo(page, "#seq-next", expected);
    }
    // The server agrees: the page changed the shared state, not just its own display.
    assert.deepEqual((await api("GET", "/fibonacci/current")).body, { index: 5, value: "5" });
    await stepTo(page, "#seq-reset", ["0", "0"]);
    await page.click("#seq-previous");
    await page.locator("#seq-error").filter({ hasText: "no previous step" }).waitFor();
    const conflict = await api("POST", "/fibonacci/previous");
    assert.equal(conflict.status, 409);
    assert.equal(await page.textContent("#seq-error"), conflict.body.detail);
    await stepTo(page, "#seq-current", ["0", "0"]);
    // The index was 0 already: wait for the answer to `current`, which clears the error.
    await page.locator("#seq-error").waitFor({ state: "hidden", timeout: STEP_WAIT_MS });
  });

  await t.test("queues at most 20 steps", async () => {
    // 25 clicks in one go: 20 are queued and taken in order, 5 refused with a message.
    // The message is read in the same turn as the clicks: the first answer clears it.
    const refusal = await page.evaluate(() => {
      for (let i = 0; i < 25; i += 1) document.getElementById("seq-next").click();
      return document.getElementById("seq-error").textContent;
    });
    assert.equal(refusal, "20 steps are still on their way; wait for them first.");
    await page.locator("#seq-index").filter({ hasText: /^20$/ }).waitFor({ timeout: STEP_WAIT_MS });
    assert.deepEqual((await api("GET", "/fibonacci/current")).body, { index: 20, value: "6765" });
    await stepTo(page, "#seq-reset", ["0", "0"]);
    assert.equal(await page.isVisible("#seq-error"), false);
  });

  await t.test("copies the whole number", async () => {
    await compute(page, "factorial", { n: "100" });
    await page.locator("#result-label").filter({ hasText: "100!" }).waitFor();
    assert.equal(await page.textContent("#result-digits"), "158 digits");
    await page.click("#copy");
    await page.locator("#copy-status").filter({ hasText: "Copied." }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, (await api("GET", "/factorial/100/")).body.result);
  });

  await t.test("desktop screenshot", async () => {
    await page.fill("#fibonacci-n", "100");
    // Ten quick clicks are ten steps: the page queues them in order.
    for (let i = 0; i < 10; i += 1) await page.click("#seq-next");
    await page.locator("#seq-index").filter({ hasText: /^10$/ }).waitFor({ timeout: STEP_WAIT_MS });
    await page.screenshot({ path: join(SCREENSHOTS, "screenshot-frontpage.png"), fullPage: true });
    await stepTo(page, "#seq-reset", ["0", "0"]);
  });

  await t.test("loads nothing from elsewhere and logs no error", () => {
    assert.deepEqual(problems, []);
  });
  await context.close();
});

test("the front page at phone width", { skip, timeout: 60_000 }, async () => {
  const { context, page, problems } = await openPage({ width: 390, height: 844 });
  await compute(page, "fibonacci", { n: "400" });
  await page.locator("#result-label").filter({ hasText: "F(400)" }).waitFor();
  assert.equal(await page.textContent("#result-digits"), "84 digits");
  // Long numbers wrap: nothing is wider than the screen.
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    result: document.getElementById("result-value").scrollWidth,
    screen: window.innerWidth,
  }));
  assert.ok(widths.page <= widths.screen, JSON.stringify(widths));
  assert.ok(widths.result <= widths.screen, JSON.stringify(widths));
  await page.screenshot({ path: join(SCREENSHOTS, "screenshot-frontpage-phone.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});
