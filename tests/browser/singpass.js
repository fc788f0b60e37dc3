#!/usr/bin/env node
// Headless Chromium logs in to the demo SPA with Singpass: the SPA's "Login
// with Singpass" button, auth-url (one PAR), the Singpass stand-in
// (tests/singpass-op: no login UI, it logs its persona in at once), the
// callback, the logged-in page with the persona's name and sub, logout.
// Run by tests/singpass/run.sh (`make singpass`) against its stack; it starts
// nothing itself.
//
// Env: SPA_URL (http://localhost:5173), API_URL (http://localhost:5001),
// SINGPASS_URL (http://localhost:5158), CHROMIUM (/usr/bin/chromium),
// PERSONA_NAME (LIM YONG XIANG), PERSONA_SUB (the stand-in's default),
// STEP_TIMEOUT_MS (15000).
// Output: "ok - STEP" / "not ok - STEP" and "browser-singpass: N passed, N failed".
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const SPA_URL = process.env.SPA_URL || 'http://localhost:5173';
const API_URL = process.env.API_URL || 'http://localhost:5001';
const SINGPASS_URL = process.env.SINGPASS_URL || 'http://localhost:5158';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const NAME = process.env.PERSONA_NAME || 'LIM YONG XIANG';
const SUB = process.env.PERSONA_SUB || '5b4a9a37-5c9e-4a52-9d0f-2f3c9e1b7a64';
const STEP = Number(process.env.STEP_TIMEOUT_MS) || 15000;

let passed = 0;
let failed = 0;
let broken = false;
async function step(name, fn) {
  if (broken) {
    failed++;
    console.log(`not ok - ${name} (an earlier step failed)`);
    return;
  }
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    broken = true;
    console.log(`not ok - ${name}`);
    console.log(`#   ${String((e && e.message) || e).split('\n')[0].slice(0, 300)}`);
  }
}
const samePage = (origin, p) => (u) => { const x = new URL(String(u)); return x.origin === origin && x.pathname === p; };

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgid-singpass-chromium-'));
  const hosts = ['localhost', ...[SPA_URL, API_URL, SINGPASS_URL].map((u) => new URL(u).hostname)];
  let context = null;
  const seen = [];
  try {
    await step('chromium starts', async () => {
      context = await chromium.launchPersistentContext(dir, {
        executablePath: CHROMIUM,
        headless: true,
        timeout: STEP * 2,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync',
          `--host-resolver-rules=MAP * ~NOTFOUND, ${[...new Set(hosts)].map((h) => `EXCLUDE ${h}`).join(', ')}`],
      });
      context.setDefaultTimeout(STEP);
      context.setDefaultNavigationTimeout(STEP);
    });
    const page = context ? await context.newPage() : null;
    // Every navigation request (the stand-in's pages are all redirects: no
    // frame ever commits there).
    if (page) page.on('request', (r) => { if (r.isNavigationRequest()) seen.push(r.url().split('?')[0]); });
    await step('the SPA shows "Login with Singpass"', async () => {
      await page.goto(SPA_URL + '/');
      await page.getByRole('button', { name: 'Login with Singpass' }).waitFor();
    });
    await step('the button leads through the Singpass stand-in back to /logged-in', async () => {
      await page.getByRole('button', { name: 'Login with Singpass' }).click();
      await page.waitForURL(samePage(SPA_URL, '/logged-in'), { timeout: 3 * STEP });
      if (!seen.some((u) => u.startsWith(SINGPASS_URL + '/fapi/auth'))) throw new Error(`never at ${SINGPASS_URL}/fapi/auth: ${seen.join(' ')}`);
    });
    await step(`the logged-in page shows ${NAME} and the Singpass sub`, async () => {
      await page.getByRole('heading', { name: "You're logged in" }).waitFor();
      const name = await page.locator('[data-field="name"]').innerText();
      const sub = await page.locator('[data-field="sub"]').innerText();
      if (name.trim() !== NAME || sub.trim() !== SUB) throw new Error(`name "${name}", sub "${sub}"`);
    });
    await step('"Log out" ends the session: back home, /logged-in sends home again', async () => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(samePage(SPA_URL, '/'));
      await page.goto(SPA_URL + '/logged-in');
      await page.waitForURL(samePage(SPA_URL, '/'));
      await page.getByRole('button', { name: 'Login with Singpass' }).waitFor();
    });
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { failed++; console.log(`not ok - browser test crashed: ${e && e.message}`); })
  .finally(() => {
    console.log(`browser-singpass: ${passed} passed, ${failed} failed`);
    process.exit(failed || !passed ? 1 : 0);
  });
