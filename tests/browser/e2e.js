#!/usr/bin/env node
// Browser end-to-end test of the demo SPA against a running stack, driving
// Debian's chromium headless through playwright-core.
//
// It does not start anything: see run.sh for what must already be running.
// Output: one "ok - STEP" / "not ok - STEP: reason" line per step, "# ..."
// diagnostics, and a final "browser: N passed, N failed[, N skipped]" line.
// Exit status 0 only when every step passed.
//
// Environment (all optional):
//   SPA_URL        demo SPA origin                 (http://localhost:5173)
//   API_URL        sgid-fcgi API origin            (http://localhost:5001)
//   MOCKPASS_URL   MockPass origin                 (http://localhost:5156)
//   CHROMIUM       browser executable              (/usr/bin/chromium)
//   ARTIFACTS_DIR  screenshots and browser log     (tests/artifacts/browser)
//   PERSONA_NRIC   persona to pick on MockPass     (the second one listed)
//   MOCKPASS_DIR   installed @opengovsg/mockpass package directory, used to
//                  look up the persona's expected name (searched if unset)
//   STEP_TIMEOUT_MS   bound for every wait and every step (15000)
//   TOTAL_TIMEOUT_MS  bound for the whole run (240000)

'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const trimSlash = (s) => s.replace(/\/+$/, '');
const SPA_URL = trimSlash(process.env.SPA_URL || 'http://localhost:5173');
const API_URL = trimSlash(process.env.API_URL || 'http://localhost:5001');
const MOCKPASS_URL = trimSlash(process.env.MOCKPASS_URL || 'http://localhost:5156');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.resolve(process.env.ARTIFACTS_DIR ||
  path.join(__dirname, '..', 'artifacts', 'browser'));
const PERSONA_NRIC = (process.env.PERSONA_NRIC || '').trim().toUpperCase();
const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS) || 15000;
const TOTAL_TIMEOUT_MS = Number(process.env.TOTAL_TIMEOUT_MS) || 240000;

const ERROR_TEXT = "We couldn't complete your Singpass login";
const NRIC_RE = /[STFGM]\d{7}[A-Z]/;

// ---------------------------------------------------------------------------
// Reporting

const counts = { passed: 0, failed: 0, skipped: 0 };
let shot = 0;
let finished = false;

function diag(msg) {
  for (const line of String(msg).split('\n')) console.log('# ' + line);
}

function oneLine(err) {
  const msg = (err && err.message) || String(err);
  return msg.split('\n')[0].slice(0, 300);
}

function finish(code) {
  if (finished) return;
  finished = true;
  console.log(`browser: ${counts.passed} passed, ${counts.failed} failed` +
    (counts.skipped ? `, ${counts.skipped} skipped` : ''));
  process.exitCode = code !== undefined ? code
    : (counts.failed > 0 || counts.passed === 0 ? 1 : 0);
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// A flow is a list of dependent steps: after one fails, the rest are skipped.
// pageOf() gives the page to photograph when a step fails.
function flow(name, pageOf = () => null) {
  let broken = null;
  return async function step(title, fn, { timeout = 3 * STEP_TIMEOUT_MS } = {}) {
    if (broken) {
      counts.skipped++;
      console.log(`ok - ${title} # SKIP ${name}: "${broken}" failed`);
      return undefined;
    }
    try {
      const result = await withTimeout(Promise.resolve().then(fn), timeout, title);
      counts.passed++;
      console.log(`ok - ${title}`);
      return result;
    } catch (err) {
      counts.failed++;
      broken = title;
      console.log(`not ok - ${title}: ${oneLine(err)}`);
      const page = pageOf();
      if (page && !page.isClosed()) {
        diag(`page was at ${page.url().split('?')[0]}`);
        await screenshot(page, 'FAILED');
      }
      return undefined;
    }
  };
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// ---------------------------------------------------------------------------
// Helpers

async function screenshot(page, name) {
  shot++;
  const file = path.join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled', timeout: STEP_TIMEOUT_MS });
  } catch (err) {
    diag(`screenshot ${name} failed: ${oneLine(err)}`);
  }
}

function samePage(base, pathname) {
  const want = new URL(base);
  return (url) => {
    const u = new URL(url);
    return u.origin === want.origin && u.pathname === pathname;
  };
}

// Credentialed GET of /api/userinfo from inside the page (origin SPA_URL),
// exactly as the SPA does it.
function apiUserinfo(page) {
  return page.evaluate(async (api) => {
    const r = await fetch(api + '/api/userinfo', { credentials: 'include' });
    const body = await r.text();
    let json = null;
    try { json = JSON.parse(body); } catch (e) { json = null; }
    return { status: r.status, json, body: body.slice(0, 200) };
  }, API_URL);
}

// Expected display name of a MockPass persona, from the installed MockPass
// package's persona data set; null when that package cannot be found.
function loadPersonaNames() {
  const roots = [];
  if (process.env.MOCKPASS_DIR) roots.push(process.env.MOCKPASS_DIR);
  const repo = path.resolve(__dirname, '..', '..');
  const search = [path.join(repo, 'tests', 'mockpass'), __dirname, repo,
    path.join(repo, 'tests', 'integration'), path.join(repo, 'deploy')];
  for (const dir of search) {
    try {
      const pkg = require.resolve('@opengovsg/mockpass/package.json', { paths: [dir] });
      roots.push(path.dirname(pkg));
    } catch (e) { /* not there */ }
  }
  for (const root of roots) {
    const file = path.join(root, 'static', 'myinfo', 'v3.json');
    try {
      const personas = JSON.parse(fs.readFileSync(file, 'utf8')).personas || {};
      const names = {};
      for (const [nric, p] of Object.entries(personas)) {
        if (p && p.name && typeof p.name.value === 'string') names[nric] = p.name.value;
      }
      return { names, source: root };
    } catch (e) { /* try the next one */ }
  }
  return null;
}

// On the MockPass login page: choose a persona through the option that
// carries data-asserturl, the way a person does (MockPass navigates to it).
async function pickPersona(page) {
  await page.waitForSelector('option[data-asserturl]', { state: 'attached' });
  const options = await page.$$eval('option[data-asserturl]', (els) => els.map((o) => ({
    value: o.value,
    label: (o.textContent || '').trim(),
    assertUrl: o.dataset.asserturl || '',
    inSelect: !!o.closest('select'),
    listId: o.parentElement && o.parentElement.tagName === 'DATALIST' ? o.parentElement.id : '',
  })));
  const usable = options.filter((o) => o.assertUrl);
  check(usable.length > 0, 'no persona option with data-asserturl on the MockPass page');
  const nricOf = (o) => ((o.value + ' ' + o.label).match(NRIC_RE) || [''])[0];
  // Not the first persona by default: MockPass logs in as that one when it
  // skips its picker, so choosing another proves the choice is carried through.
  let persona = usable[1] || usable[0];
  if (PERSONA_NRIC) {
    persona = usable.find((o) => nricOf(o) === PERSONA_NRIC);
    check(persona, `persona ${PERSONA_NRIC} is not offered by MockPass`);
  }
  const chosen = { nric: nricOf(persona), label: persona.label || persona.value,
    assertUrl: persona.assertUrl };

  const picker = persona.inSelect
    ? page.locator('select', { has: page.locator('option[data-asserturl]') }).first()
    : persona.listId ? page.locator(`input[list="${persona.listId}"]`).first() : null;
  if (picker && !(await picker.isVisible())) {
    // MockPass keeps the picker in a dialog behind its "Login" button.
    const opener = page.locator('button:visible', { hasText: /^\s*Log\s?in\b/i }).first();
    if (await opener.count()) await opener.click();
    await picker.waitFor({ state: 'visible' });
  }
  await screenshot(page, 'mockpass-picker');
  const navigated = page.waitForURL((u) => !String(u).startsWith(MOCKPASS_URL),
    { timeout: STEP_TIMEOUT_MS, waitUntil: 'commit' }).then(() => true, () => false);
  if (persona.inSelect) {
    await picker.selectOption(persona.value);
  } else if (picker) {
    await picker.fill(persona.value);
  } else {
    await page.goto(persona.assertUrl, { waitUntil: 'commit' });
  }
  if (!(await navigated)) {
    // The picker did not navigate by itself: follow the option's URL.
    diag('MockPass picker did not navigate; following data-asserturl directly');
    await page.goto(persona.assertUrl, { waitUntil: 'commit' });
  }
  return chosen;
}

// The network is closed: names other than the stack's own (MockPass pulls in
// web fonts, for one) fail at once instead of waiting for a DNS timeout.
function hostResolverRules() {
  const hosts = new Set(['localhost']);
  for (const u of [SPA_URL, API_URL, MOCKPASS_URL]) hosts.add(new URL(u).hostname);
  const rules = ['MAP * ~NOTFOUND'];
  for (const h of hosts) rules.push(`EXCLUDE ${h}`);
  return `--host-resolver-rules=${rules.join(', ')}`;
}

// ---------------------------------------------------------------------------
// The test

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) {
    if (/\.(png|log)$/.test(f)) fs.rmSync(path.join(ARTIFACTS, f), { force: true });
  }
  const browserLog = fs.createWriteStream(path.join(ARTIFACTS, 'browser.log'));
  diag(`SPA ${SPA_URL}, API ${API_URL}, MockPass ${MOCKPASS_URL}, artifacts ${ARTIFACTS}`);

  const setup = flow('setup');
  await setup('stack is reachable (SPA, API, MockPass)', async () => {
    const get = async (url) => {
      try {
        const r = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
        await r.arrayBuffer();
        return r.status;
      } catch (err) {
        const why = (err.cause && (err.cause.code || err.cause.message)) || err.message;
        throw new Error(`GET ${url}: ${why}`);
      }
    };
    const spa = await get(SPA_URL + '/');
    check(spa === 200, `GET ${SPA_URL}/ gave ${spa}`);
    const api = await get(API_URL + '/api/userinfo');
    check(api === 401, `GET ${API_URL}/api/userinfo without a cookie gave ${api}, want 401`);
    const mp = await get(MOCKPASS_URL + '/v2/.well-known/openid-configuration');
    check(mp === 200, `GET MockPass openid-configuration gave ${mp}`);
  });
  if (counts.failed) return;

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgid-e2e-chromium-'));
  let context = null;
  try {
    await setup('chromium starts', async () => {
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        timeout: STEP_TIMEOUT_MS * 2,
        viewport: { width: 1280, height: 800 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync',
          hostResolverRules()],
      });
      context.setDefaultTimeout(STEP_TIMEOUT_MS);
      context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
    });
    if (!context) return;
    context.on('page', (p) => watch(p, browserLog));
    for (const p of context.pages()) watch(p, browserLog);

    await happyPath(context);
    await errorPath(context);
    await twoTabs(context);
    await narrowScreen(context);
  } finally {
    if (context) await withTimeout(context.close(), STEP_TIMEOUT_MS, 'closing chromium').catch((e) => diag(oneLine(e)));
    fs.rmSync(userDataDir, { recursive: true, force: true });
    browserLog.end();
  }
}

function watch(page, log) {
  const w = (line) => log.write(`${new Date().toISOString()} ${line}\n`);
  page.on('console', (m) => w(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => w(`pageerror: ${oneLine(e)}`));
  page.on('requestfailed', (r) => w(`requestfailed: ${r.method()} ${r.url().split('?')[0]} ${r.failure() && r.failure().errorText}`));
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) w(`navigated: ${f.url().split('?')[0]}`); });
}

async function happyPath(context) {
  const page = context.pages()[0] || await context.newPage();
  const step = flow('login', () => page);
  let persona = null;

  await step('home page shows the ice-cream choice and the login button', async () => {
    await page.goto(SPA_URL + '/');
    await page.getByRole('button', { name: 'Login with Singpass' }).waitFor();
    for (const flavour of ['Vanilla', 'Chocolate', 'Strawberry']) {
      check(await page.getByRole('radio', { name: flavour }).count() === 1, `no ${flavour} choice`);
    }
    await screenshot(page, 'home');
  });

  await step('choose Chocolate', async () => {
    await page.locator('label', { hasText: 'Chocolate' }).click();
    check(await page.getByRole('radio', { name: 'Chocolate' }).isChecked(), 'Chocolate is not selected');
    await screenshot(page, 'home-chocolate');
  });

  await step('"Login with Singpass" leads to the MockPass persona page', async () => {
    await page.getByRole('button', { name: 'Login with Singpass' }).click();
    await page.waitForURL((u) => String(u).startsWith(MOCKPASS_URL + '/'));
    await page.waitForSelector('option[data-asserturl]', { state: 'attached' });
    await page.waitForLoadState('load');
    await screenshot(page, 'mockpass-personas');
  });

  await step('picking a persona lands on /logged-in', async () => {
    persona = await pickPersona(page);
    diag(`persona: ${persona.label}`);
    await page.waitForURL(samePage(SPA_URL, '/logged-in'));
    await page.getByRole('heading', { name: "You're logged in" }).waitFor();
    await screenshot(page, 'logged-in');
  });

  await step("/logged-in shows the persona's name and Chocolate", async () => {
    const field = (f) => page.locator(`[data-field="${f}"]`).innerText();
    const [name, iceCream, sub] = [await field('name'), await field('icecream'), await field('sub')];
    check(iceCream === 'Chocolate', `ice cream shown is "${iceCream}"`);
    check(name && name !== '—', 'no name shown');
    check(sub && sub !== '—', 'no sub shown');
    const api = await apiUserinfo(page);
    check(api.status === 200 && api.json, `userinfo gave ${api.status}`);
    check(api.json.sub === sub, 'shown sub differs from /api/userinfo');
    check(api.json.data && api.json.data['myinfo.name'] === name, 'shown name differs from /api/userinfo');
    const nricFromApi = api.json.data['myinfo.nric_number'];
    if (persona.nric && nricFromApi !== undefined) {
      check(nricFromApi === persona.nric, `API has NRIC ${nricFromApi}, persona picked was ${persona.nric}`);
    }
    const table = loadPersonaNames();
    if (table && persona.nric && table.names[persona.nric]) {
      check(name === table.names[persona.nric],
        `name shown "${name}", MockPass persona ${persona.nric} is "${table.names[persona.nric]}"`);
      diag(`name "${name}" matches MockPass persona ${persona.nric}`);
    } else {
      diag('MockPass persona data not found (set MOCKPASS_DIR): name checked against the API only');
    }
  });

  await step('reload keeps the user logged in', async () => {
    const before = await page.locator('[data-field="name"]').innerText();
    await page.reload();
    await page.getByRole('heading', { name: "You're logged in" }).waitFor();
    check(new URL(page.url()).pathname === '/logged-in', `reload ended on ${page.url()}`);
    const after = await page.locator('[data-field="name"]').innerText();
    check(after === before, `name after reload is "${after}"`);
    await screenshot(page, 'logged-in-reloaded');
  });

  await step('"Log out" returns to the home page', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(samePage(SPA_URL, '/'));
    await page.getByRole('button', { name: 'Login with Singpass' }).waitFor();
    await screenshot(page, 'logged-out');
  });

  await step('after logout /api/userinfo from the page is 401', async () => {
    const api = await apiUserinfo(page);
    check(api.status === 401, `userinfo gave ${api.status}: ${api.body}`);
  });

  await step('/logged-in without a session goes back to home', async () => {
    await page.goto(SPA_URL + '/logged-in');
    await page.waitForURL(samePage(SPA_URL, '/'));
    await page.getByRole('button', { name: 'Login with Singpass' }).waitFor();
  });
}

async function errorPath(context) {
  await context.clearCookies();
  const page = await context.newPage();
  const step = flow('tampered state', () => page);
  let tampered = 0;

  await step('a login whose state was tampered with ends on /error', async () => {
    // Change one character of `state` on the way from MockPass to the API.
    await page.route((u) => u.origin === new URL(API_URL).origin && u.pathname === '/api/redirect',
      async (route) => {
        const url = route.request().url();
        const m = url.match(/([?&]state=)([^&#]*)/);
        if (!m || !m[2]) return route.continue();
        const s = m[2];
        const flipped = s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
        tampered++;
        return route.continue({ url: url.replace(m[0], m[1] + flipped) });
      });
    await page.goto(SPA_URL + '/');
    await page.getByRole('button', { name: 'Login with Singpass' }).click();
    await page.waitForURL((u) => String(u).startsWith(MOCKPASS_URL + '/'));
    await pickPersona(page);
    await page.waitForURL(samePage(SPA_URL, '/error'));
    check(tampered === 1, `the redirect to the API was intercepted ${tampered} times`);
    await page.getByRole('heading', { name: "Login didn't work" }).waitFor();
    const text = await page.locator('main').innerText();
    check(text.includes(ERROR_TEXT), 'the plain-words error message is missing');
    await screenshot(page, 'error');
  });

  await step('tampered login left no session (/api/userinfo is 401)', async () => {
    const api = await apiUserinfo(page);
    check(api.status === 401, `userinfo gave ${api.status}: ${api.body}`);
  });

  await step('"Back to home" on the error page returns home', async () => {
    await page.getByRole('button', { name: 'Back to home' }).click();
    await page.waitForURL(samePage(SPA_URL, '/'));
    await page.getByRole('button', { name: 'Login with Singpass' }).waitFor();
    await screenshot(page, 'error-back-home');
  });
  await page.close();
}

// Two tabs (issue 14): the login started in two tabs of one browser, each
// with its own ice cream; the first one opened is finished after the second
// started, and logs in with the first tab's choice.
async function twoTabs(context) {
  await context.clearCookies();
  const first = await context.newPage();
  let current = first;
  const step = flow('two tabs', () => current);
  const start = async (page, flavour) => {
    await page.goto(SPA_URL + '/');
    await page.locator('label', { hasText: flavour }).click();
    await page.getByRole('button', { name: 'Login with Singpass' }).click();
    await page.waitForURL((u) => String(u).startsWith(MOCKPASS_URL + '/'));
    await page.waitForSelector('option[data-asserturl]', { state: 'attached' });
  };
  let second = null;
  await step('tab 1 (Vanilla) and then tab 2 (Strawberry) reach MockPass', async () => {
    await start(first, 'Vanilla');
    second = await context.newPage();
    current = second;
    await start(second, 'Strawberry');
    await screenshot(second, 'two-tabs-second');
  });
  await step('finishing tab 1, the first one opened, logs in with Vanilla', async () => {
    current = first;
    await first.bringToFront();
    await pickPersona(first);
    await first.waitForURL(samePage(SPA_URL, '/logged-in'));
    await first.getByRole('heading', { name: "You're logged in" }).waitFor();
    const iceCream = await first.locator('[data-field="icecream"]').innerText();
    check(iceCream === 'Vanilla', `ice cream shown is "${iceCream}"`);
    await screenshot(first, 'two-tabs-first-logged-in');
  });
  await step('"Log out" in tab 1', async () => {
    await first.getByRole('button', { name: 'Log out' }).click();
    await first.waitForURL(samePage(SPA_URL, '/'));
  });
  if (second) await second.close();
  await first.close();
}

async function narrowScreen(context) {
  const page = await context.newPage();
  const step = flow('narrow screen', () => page);
  await page.setViewportSize({ width: 360, height: 740 });
  await step('home page fits a 360 px wide screen', async () => {
    await page.goto(SPA_URL + '/');
    await page.getByRole('button', { name: 'Login with Singpass' }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `page is ${overflow} px wider than the screen`);
    await screenshot(page, 'home-narrow');
  });
  await page.close();
}

const overall = setTimeout(() => {
  counts.failed++;
  console.log(`not ok - whole run finished within ${TOTAL_TIMEOUT_MS} ms`);
  finish(1);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

main().then(() => {
  clearTimeout(overall);
  finish();
}, (err) => {
  clearTimeout(overall);
  counts.failed++;
  console.log(`not ok - test harness: ${oneLine(err)}`);
  finish(1);
});
