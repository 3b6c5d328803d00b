// The wallboard in a real headless Chromium, for crates/cli/tests/peers_browser.rs.
//
//   node wallboard.mjs WALLBOARD_URL SCREENSHOT.png
//
// The Rust test drives calls and agents over gRPC; this script asks it for each step by
// printing `do <step>` and waiting for `ok` on stdin, then checks that the page shows the
// change within two seconds. It ends by printing `pass`, or `fail: ...` and exit 1.

import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import readline from "node:readline";

const [url, screenshot] = process.argv.slice(2);
const input = readline.createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

async function ask(step) {
  console.log(`do ${step}`);
  const { value } = await lines.next();
  if (value !== "ok") throw new Error(`${step}: the test answered ${value}`);
}

// Waits until `check` (run in the page) is true; `what` names it when it never is.
async function until(page, what, check, arg, timeout = 2000) {
  try {
    await page.waitForFunction(check, arg, { timeout, polling: 50 });
  } catch (e) {
    const seen = await page.evaluate(() => document.querySelector("main").innerText);
    throw new Error(`${what} not seen within ${timeout} ms; the page showed:\n${seen}`);
  }
}

const field = (sel, name) => `${sel} [data-field="${name}"]`;
const text = (selector) => document.querySelector(selector)?.textContent ?? null;

const context = await chromium.launchPersistentContext(
  mkdtempSync(join(tmpdir(), "switchboard-chromium-")),
  {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1920, height: 1080 },
  },
);

try {
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await until(page, "the snapshot with the operator queue",
    () => document.querySelector('[data-queue="operator"]') !== null);
  await until(page, "the feed marked live",
    () => document.getElementById("status").dataset.state === "live");

  await ask("login ann");
  await until(page, "Ann available",
    (s) => (document.querySelector(s)?.textContent ?? "").startsWith("available"),
    field('[data-agent="ann"]', "state"));
  await until(page, "one agent available in the operators' queue",
    (s) => document.querySelector(s)?.textContent === "1",
    field('[data-queue="operator"]', "available"));

  await ask("call tom");
  await until(page, "Ann ringing with Tom's call",
    (s) => (document.querySelector(s)?.textContent ?? "").startsWith("reserved"),
    field('[data-agent="ann"]', "state"));
  await until(page, "Tom's call on Ann's row",
    (s) => (document.querySelector(s)?.textContent ?? "").includes("t1 (operator)"),
    field('[data-agent="ann"]', "call"));

  await ask("connect");
  await until(page, "Ann on the call",
    (s) => (document.querySelector(s)?.textContent ?? "").startsWith("on call"),
    field('[data-agent="ann"]', "state"));
  await until(page, "one call answered in the operators' queue",
    (s) => document.querySelector(s)?.textContent === "1",
    field('[data-queue="operator"]', "answered"));
  await until(page, "the standard tier met in the operators' queue",
    () => document.querySelector('[data-queue="operator"] [data-tier="standard"] [data-field="window"] [data-verdict]')
      ?.dataset.verdict === "met");

  // The connection is cut and the floor changes meanwhile: the browser reconnects by
  // itself with Last-Event-ID and applies the changes it missed, without a snapshot.
  const before = await page.evaluate(() => ({ ...window.wallboard.seen }));
  if (before.snapshots !== 1) throw new Error(`expected one snapshot so far, saw ${before.snapshots}`);
  await ask("cut and end the call");
  await until(page, "Ann in wrap-up after the reconnect",
    (s) => (document.querySelector(s)?.textContent ?? "").startsWith("wrap up"),
    field('[data-agent="ann"]', "state"), 5000);
  const after = await page.evaluate(() => ({ ...window.wallboard.seen }));
  if (after.snapshots !== 1) {
    throw new Error(`the reconnect started over with a snapshot instead of resuming (${JSON.stringify(after)})`);
  }
  if (after.lastId === before.lastId) throw new Error("no event after the reconnect");
  await ask("check resumed");

  // A busy floor for the picture: more agents, calls waiting, a queue closed.
  await ask("populate");
  await until(page, "calls waiting in billing",
    (s) => Number(document.querySelector(s)?.textContent ?? 0) >= 3,
    field('[data-queue="billing"]', "waiting"));
  await until(page, "the closed queue marked",
    (s) => document.querySelector(s) !== null,
    field('[data-queue="concierge"]', "closed"));
  await page.waitForTimeout(1200);
  await page.screenshot({ path: screenshot, fullPage: true });
  if (errors.length > 0) throw new Error(`the page threw: ${errors.join("; ")}`);
  console.log("pass");
} catch (e) {
  console.log(`fail: ${String(e.stack ?? e).replaceAll("\n", "\n      ")}`);
  process.exitCode = 1;
} finally {
  input.close();
  await context.close();
}
