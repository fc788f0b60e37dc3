#!/usr/bin/env node
// Headless Chromium through the nginx gateway (deploy/gateway/nginx.conf.example
// in front of tests/gateway/app.js), driven by playwright-core from
// tests/browser/node_modules. tests/gateway/run.sh starts the stack and runs
// this; it starts nothing itself.
//
// A person's visit: open the protected page, get sent to Singpass (MockPass's
// persona page), pick a persona, land back on the same page greeted by name;
// reload; a script on the page fetches JSON with the session; log out through
// the page's link; the page's fetch is 401 now, and the protected page sends
// the browser to Singpass again.
//
// Output: "ok - STEP" / "not ok - STEP: why" per step (after a failure the
// rest are skipped), last "gateway-browser: N passed, N failed". Screenshots:
// ARTIFACTS_DIR (tests/artifacts/gateway).
//
// Environment: GATEWAY_URL (http://localhost:5001), MOCKPASS_URL
// (http://localhost:5156), PROTECTED_PATH (/protected/page?x=1&y=2),
// PERSONA_NRIC and PERSONA_NAME (required), CHROMIUM (/usr/bin/chromium),
// ARTIFACTS_DIR, STEP_TIMEOUT_MS (15000).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'browser', 'node_modules', 'playwright-core'));

const GW = process.env.GATEWAY_URL || 'http://localhost:5001';
const MOCKPASS = process.env.MOCKPASS_URL || 'http://localhost:5156';
const PROT = process.env.PROTECTED_PATH || '/protected/page?x=1&y=2';
const NRIC = process.env.PERSONA_NRIC || '';
const NAME = process.env.PERSONA_NAME || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.resolve(process.env.ARTIFACTS_DIR || path.join(__dirname, '..', 'artifacts', 'gateway'));
const TIMEOUT = Number(process.env.STEP_TIMEOUT_MS) || 15000;

let passed = 0;
let failed = 0;
let broken = '';
let page = null;
let shots = 0;

async function shot(name) {
  const file = path.join(OUT, `${String(++shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: TIMEOUT }).catch((e) =>
    console.log(`# screenshot ${name}: ${e.message.split('\n')[0]}`));
}

// step TITLE FN: one test point; once one fails the rest are skipped.
async function step(title, fn) {
  if (broken) {
    console.log(`ok - ${title} # SKIP after "${broken}"`);
    return;
  }
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, no) => {
      timer = setTimeout(() => no(new Error(`timed out after ${2 * TIMEOUT} ms`)), 2 * TIMEOUT);
    })]);
    passed++;
    console.log(`ok - ${title}`);
  } catch (e) {
    failed++;
    broken = title;
    console.log(`not ok - ${title}: ${String(e.message || e).split('\n')[0].slice(0, 300)}`);
    if (page) {
      console.log(`# the page was at ${page.url().split('?')[0]}`);
      await shot('FAILED');
    }
  } finally {
    clearTimeout(timer);
  }
}

function expect(cond, why) {
  if (!cond) throw new Error(why);
}

// A script on the page asks for JSON with the session (credentials: same-origin).
function pageFetch(url) {
  return page.evaluate(async (u) => {
    const r = await fetch(u, { headers: { Accept: 'application/json' }, redirect: 'manual' });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
    return { status: r.status, json };
  }, url);
}

const greeting = () => page.locator('#greeting').innerText();
const atMockPass = (u) => String(u).startsWith(MOCKPASS + '/');

// Choose NRIC in MockPass's picker as a person does: its "Select Username"
// field offers the personas (a datalist); entering one navigates away.
async function pickPersona() {
  const option = page.locator(`datalist option[data-asserturl][value^="${NRIC}"]`).first();
  await option.waitFor({ state: 'attached' });
  const list = await option.evaluate((o) => o.parentElement.id);
  const field = page.locator(`input[list="${list}"]`).first();
  if (!(await field.isVisible())) {
    const opener = page.locator('button:visible', { hasText: /^\s*Log\s?in\b/i }).first();
    if (await opener.count()) await opener.click();
    await field.waitFor({ state: 'visible' });
  }
  await shot('mockpass-picker');
  const left = page.waitForURL((u) => !atMockPass(u), { waitUntil: 'commit' });
  await field.fill(await option.getAttribute('value'));
  await left;
}

async function main() {
  expect(NRIC && NAME, 'PERSONA_NRIC and PERSONA_NAME must be set');
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of fs.readdirSync(OUT)) if (f.endsWith('.png')) fs.rmSync(path.join(OUT, f));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sgid-gateway-chromium-'));
  const hosts = new Set(['localhost', new URL(GW).hostname, new URL(MOCKPASS).hostname]);
  let context = null;
  try {
    await step('chromium starts', async () => {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        timeout: 2 * TIMEOUT,
        viewport: { width: 1100, height: 760 },
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync',
          // Only the stack's own names resolve (MockPass's page asks for web fonts).
          `--host-resolver-rules=MAP * ~NOTFOUND, ${[...hosts].map((h) => `EXCLUDE ${h}`).join(', ')}`],
      });
      context.setDefaultTimeout(TIMEOUT);
      context.setDefaultNavigationTimeout(TIMEOUT);
      // MockPass shows its persona page only when asked.
      await context.setExtraHTTPHeaders({ 'X-Show-Login-Page': 'true' });
      page = context.pages()[0] || await context.newPage();
    });

    await step(`opening ${PROT} without a session leads to Singpass (MockPass's persona page)`, async () => {
      await page.goto(GW + PROT, { waitUntil: 'load' });
      expect(atMockPass(page.url()), `ended on ${page.url().split('?')[0]}`);
      await shot('singpass');
    });

    await step(`picking ${NRIC} lands back on exactly ${PROT}, greeted as ${NAME}`, async () => {
      await pickPersona();
      await page.waitForURL(GW + PROT);
      const g = await greeting();
      expect(g === `Hello, ${NAME}`, `greeting "${g}"`);
      await shot('protected-page');
    });

    let sub = '';
    await step('the app got the same sub as /api/userinfo', async () => {
      const shown = JSON.parse(await page.locator('#identity').innerText());
      const api = await pageFetch('/api/userinfo');
      expect(api.status === 200 && api.json, `/api/userinfo gave ${api.status}`);
      sub = api.json.sub;
      expect(shown.identity.sub.value === sub, `the app shows sub ${shown.identity.sub.value}`);
      expect(shown.uri === PROT, `the app saw ${shown.uri}`);
    });

    await step('reload: still logged in, same page', async () => {
      await page.reload({ waitUntil: 'load' });
      expect(page.url() === GW + PROT, `reload ended on ${page.url()}`);
      expect(await greeting() === `Hello, ${NAME}`, 'greeting changed');
      await shot('reloaded');
    });

    await step("a fetch from the page with the session: 200 JSON with the user's sub", async () => {
      const r = await pageFetch('/protected/data.json');
      expect(r.status === 200 && r.json && r.json.identity.sub.value === sub, `gave ${r.status}`);
    });

    await step('"Log out" ends on /public/bye, anonymous', async () => {
      await page.locator('#logout').click();
      await page.waitForURL(GW + '/public/bye');
      const g = await greeting();
      expect(g === 'Hello, anonymous visitor', `greeting "${g}"`);
      await shot('logged-out');
    });

    await step('after logout a fetch from the page: 401', async () => {
      const r = await pageFetch('/protected/data.json');
      expect(r.status === 401, `gave ${r.status}`);
    });

    await step(`after logout ${PROT} leads to Singpass again`, async () => {
      await page.goto(GW + PROT, { waitUntil: 'load' });
      expect(atMockPass(page.url()), `ended on ${page.url().split('?')[0]}`);
      await shot('singpass-again');
    });
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main()
  .catch((e) => {
    failed++;
    console.log(`not ok - browser test crashed: ${String(e.message || e).split('\n')[0]}`);
  })
  .finally(() => {
    console.log(`gateway-browser: ${passed} passed, ${failed} failed`);
    process.exitCode = failed || !passed ? 1 : 0;
  });
