// The dashboard in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core), against a running daemon; started by
// tests/e2e/dashboard.rs, which sets up the story and checks the simulators
// afterwards. Each step saves a screenshot into --out.
//
//   node dashboard.mjs --url http://127.0.0.1:PORT --token TOKEN --out DIR \
//        [--dead outbox:ID] [--discard notices:ID]
//        [--xss TEXT --xss-ticket CONNECTION:TICKET] [--escalations N]
//
// Steps: without a token only the login prompt shows (no figures, no API
// answer 200); a wrong token brings the prompt back; with the token the
// figures equal /api/v1/status; each pairing's open escalations (at least
// --escalations N of them) show both tickets, the owner and each target's
// outcome as /api/v1/pairings/{name}/escalations says; a hostile ticket
// title renders as text; a
// ticket's audit link shows its history; Discard asks first (Cancel keeps
// it); Retry on the dead letter answers 200 and the letter leaves the page;
// Discard (confirmed, with a reason) removes the other one.
// Exit 0 when every step passed, 1 with the reason otherwise.

import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    out: { type: 'string' },
    dead: { type: 'string' },
    discard: { type: 'string' },
    xss: { type: 'string' },
    'xss-ticket': { type: 'string' },
    escalations: { type: 'string', default: '0' },
    chromium: { type: 'string', default: process.env.PSA_CHROMIUM ?? '/usr/bin/chromium' },
  },
});
for (const name of ['url', 'token', 'out']) {
  if (!opt[name]) fail(`--${name} is required`);
}
if (!existsSync(opt.chromium)) fail(`${opt.chromium} is missing: run scripts/browser-deps.sh`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(`playwright-core is not installed in tests/browser (run scripts/browser-deps.sh): ${e.message}`);
}

const base = opt.url.replace(/\/$/, '');
mkdirSync(opt.out, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'psa-bridge-chromium-'));
let page;
let shot = 0;

function fail(message) {
  console.error(`dashboard.mjs: FAILED: ${message}`);
  process.exit(1);
}

function check(ok, message) {
  if (!ok) throw new Error(message);
}

async function screenshot(name) {
  shot += 1;
  const file = join(opt.out, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}

async function api(path, init = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${opt.token}`, ...(init.headers ?? {}) },
  });
  const text = await response.text();
  check(response.ok, `GET ${path}: HTTP ${response.status} ${text}`);
  return JSON.parse(text);
}

/** What the page shows under each `data-figure`. */
const figuresShown = () =>
  page.$$eval('[data-figure]', (nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.figure, n.textContent.trim()])));

/** The API's value of a figure key (see views.js), as the page shows it. */
function expected(status, health, key) {
  const parts = key.split('.');
  let value;
  if (parts[0] === 'connections' || parts[0] === 'pairings') {
    const row = status[parts[0]].find((r) => r.name === parts[1]);
    check(row, `${key}: no ${parts[0]} entry ${parts[1]} in /api/v1/status`);
    value = parts.slice(2).reduce((v, p) => v?.[p], row);
    if (parts[2] === 'up') value = value ? 'up' : 'down';
  } else if (key === 'health.status') {
    value = health.status;
  } else if (key === 'health.config') {
    // The rule the page follows (views.js `configState`), restated here.
    const last = health.config?.last_reload ?? null;
    value = health.config ? (!last ? 'loaded' : last.ok ? 'reloaded' : 'reload refused') : undefined;
  } else {
    value = parts.reduce((v, p) => v?.[p], status);
  }
  return value === null || value === undefined ? '–' : String(value);
}

/** Figures shown equal the API's: the API is read before and after the
 *  page refreshes, and each figure must equal one of the two readings
 *  (counters that move meanwhile, like calls in the last hour). */
async function compareFigures() {
  let problems = [];
  for (let attempt = 0; attempt < 8; attempt += 1) {
    const before = { status: await api('/api/v1/status'), health: await api('/healthz') };
    await page.evaluate(() => window.psaBridgeRefresh());
    const shown = await figuresShown();
    const after = { status: await api('/api/v1/status'), health: await api('/healthz') };
    problems = [];
    for (const [key, text] of Object.entries(shown)) {
      const candidates = [expected(before.status, before.health, key), expected(after.status, after.health, key)];
      if (!candidates.includes(text)) problems.push(`${key}: page shows ${text}, API says ${candidates.join(' then ')}`);
    }
    const keys = Object.keys(shown);
    check(keys.length >= 10, `only ${keys.length} figures on the page: ${keys.join(', ')}`);
    // A tenant-wide budget the API reports (Autotask) is shown too.
    const budgets = after.status.connections.filter((c) => c.tenant_budget).map((c) => `connections.${c.name}.tenant_budget.used`);
    check(budgets.length > 0, 'no connection reports a tenant budget (the Autotask one should)');
    for (const must of ['outbox.pending', 'outbox.dead', 'notices.pending', 'notices.dead', ...budgets]) {
      check(keys.includes(must), `figure ${must} is not shown`);
    }
    for (const c of after.status.connections) {
      for (const k of ['queue_depth', 'dead_letters', 'api.http_429', 'api.calls_last_hour', 'up']) {
        check(keys.includes(`connections.${c.name}.${k}`), `connection ${c.name}: ${k} is not shown`);
      }
    }
    for (const p of after.status.pairings) {
      for (const k of ['links', 'pending', 'dead']) {
        check(keys.includes(`pairings.${p.name}.${k}`), `pairing ${p.name}: ${k} is not shown`);
      }
    }
    if (problems.length === 0) return { figures: keys.length, status: after.status };
    await page.waitForTimeout(500);
  }
  throw new Error(`the figures differ from the API:\n  ${problems.join('\n  ')}`);
}

/** The owner as the page writes it (views.js `ownerText`), restated. */
function ownerText(owner) {
  if (!owner?.person) return owner?.group ? `nobody named (${owner.group})` : 'nobody named yet';
  return owner.group ? `${owner.person} (${owner.group})` : owner.person;
}

/** Each pairing's open escalations on the page equal the API's answer. */
async function compareEscalations(status) {
  let problems = [];
  for (let attempt = 0; attempt < 8; attempt += 1) {
    await page.evaluate(() => window.psaBridgeRefresh());
    problems = [];
    let total = 0;
    for (const p of status.pairings.filter((x) => x.configured !== false)) {
      const view = await api(`/api/v1/pairings/${encodeURIComponent(p.name)}/escalations`);
      const shown = await page.$$eval(`#escalations tr.escalation[data-pairing="${p.name}"]`, (rows) => rows.map((tr) => ({
        link: tr.dataset.link,
        text: tr.textContent,
        owner: tr.querySelector('td.owner')?.firstChild?.textContent ?? '',
        targets: [...tr.querySelectorAll('.target')].map((t) => `${t.dataset.target}=${t.dataset.outcome}: ${t.textContent}`),
      })));
      const links = (list) => list.map((x) => String(x.link)).join(',');
      if (links(shown) !== links(view.items)) {
        problems.push(`${p.name}: page shows links ${links(shown)}, API says ${links(view.items)}`);
        continue;
      }
      total += view.items.length;
      view.items.forEach((item, i) => {
        const row = shown[i];
        for (const t of [item.a, item.b].filter(Boolean)) {
          if (!row.text.includes(`${t.connection}:${t.number || t.id}`)) problems.push(`${p.name} link ${item.link}: ticket ${t.connection}:${t.number} not shown`);
        }
        if (row.owner !== ownerText(item.owner)) problems.push(`${p.name} link ${item.link}: owner ${row.owner}, API ${ownerText(item.owner)}`);
        const want = item.targets.map((t) => `${t.target}=${t.outcome}`);
        const got = row.targets.map((t) => t.split(':')[0]);
        if (want.join() !== got.join()) problems.push(`${p.name} link ${item.link}: targets ${got}, API ${want}`);
        row.targets.forEach((t) => {
          if (!/ left\)?$| ago$|met$|breached/.test(t)) problems.push(`${p.name} link ${item.link}: target text ${t}`);
        });
      });
    }
    if (problems.length === 0 && total >= Number(opt.escalations)) return total;
    if (total < Number(opt.escalations)) problems.push(`${total} open escalations shown, expected at least ${opt.escalations}`);
    await page.waitForTimeout(500);
  }
  throw new Error(`the open escalations differ from the API:\n  ${problems.join('\n  ')}`);
}

const browser = await chromium.launchPersistentContext(profile, {
  executablePath: opt.chromium,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1400, height: 900 },
});
const answers = [];
const dialogs = [];
const violations = [];
try {
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(30_000);
  page.on('response', (r) => answers.push({ url: r.url(), status: r.status(), method: r.request().method() }));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() === 'error') violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
  const apiAnswers = () => answers.filter((a) => new URL(a.url).pathname.startsWith('/api/'));

  // 1. No token: only the prompt.
  const first = await page.goto(`${base}/`);
  check(first.status() === 200, `GET / answered ${first.status()}`);
  const csp = first.headers()['content-security-policy'] ?? '';
  check(csp.includes("default-src 'self'") && !csp.includes('unsafe-inline'), `weak CSP: ${csp}`);
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.waitForLoadState('networkidle');
  check(await page.locator('#app').isHidden(), 'the app is visible without a token');
  check((await page.locator('[data-figure]').count()) === 0, 'figures shown without a token');
  check(!apiAnswers().some((a) => a.status === 200), `an API call answered 200 without a token: ${JSON.stringify(apiAnswers())}`);
  const unauthenticated = await page.evaluate(async () => (await fetch('/api/v1/status')).status);
  check(unauthenticated === 401, `/api/v1/status without the token answered ${unauthenticated}`);
  await screenshot('login-prompt');

  // 2. A wrong token: refused, prompt again, nothing kept.
  await page.fill('#token', 'not-the-token-0123456789');
  await page.click('#login-form button[type=submit]');
  await page.locator('#login-error').waitFor({ state: 'visible' });
  check(await page.locator('#app').isHidden(), 'the app stayed visible after a 401');
  check((await page.evaluate(() => sessionStorage.length)) === 0, 'a refused token was kept');
  check(!apiAnswers().some((a) => a.status === 200), 'an API call answered 200 with a wrong token');
  await screenshot('wrong-token');

  // 3. The token: figures equal the API's.
  await page.fill('#token', opt.token);
  await page.click('#login-form button[type=submit]');
  await page.locator('[data-figure="outbox.dead"]').waitFor();
  const stored = await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length, url: location.href }));
  check(stored.session === 1 && stored.local === 0, `token storage: ${JSON.stringify(stored)}`);
  check(!stored.url.includes(opt.token), 'the token is in the URL');
  check(!answers.some((a) => a.url.includes(opt.token)), 'the token was sent in a URL');
  const compared = await compareFigures();
  console.log(`figures equal the API: ${compared.figures}`);
  await screenshot('overview');
  const escalations = await compareEscalations(compared.status);
  console.log(`open escalations equal the API: ${escalations}`);
  await page.locator('#escalations').scrollIntoViewIfNeeded();
  await screenshot('open-escalations');

  // 4. A hostile ticket title is text (in that ticket's audit history).
  if (opt.xss) {
    const [connection, id] = opt['xss-ticket'].split(':');
    await page.evaluate((h) => { location.hash = h; }, `#audit/${connection}/${id}`);
    await page.locator('#ticket-audit').waitFor();
    await page.locator('#ticket-audit tbody tr').first().waitFor();
    check((await page.locator('img').count()) === 0, 'an <img> element was created from vendor text (HTML injection)');
    check(await page.evaluate((xss) => document.body.innerText.includes(xss), opt.xss), `the title ${opt.xss} is not shown as text`);
    check(dialogs.length === 0, `a dialog opened: ${dialogs.join(', ')}`);
    await screenshot('hostile-title-as-text');
    await page.click('#back');
    await page.locator('#activity').waitFor();
  }

  // 5. A ticket's audit history, from its link in the activity list.
  const link = page.locator('#activity a[data-ticket]').first();
  const ticket = await link.getAttribute('data-ticket');
  await link.click();
  await page.locator('#ticket-audit').waitFor();
  const at = ticket.indexOf(':');
  const history = await api(`/api/v1/tickets/${encodeURIComponent(ticket.slice(0, at))}/${encodeURIComponent(ticket.slice(at + 1))}/audit`);
  await page.waitForFunction((n) => document.querySelectorAll('#ticket-audit tbody tr').length === n, history.length);
  check(history.length > 0, `no audit history for ${ticket}`);
  await screenshot('ticket-audit');
  await page.click('#back');
  await page.locator('#dead-letters').waitFor();

  // 6. Discard asks first; Cancel keeps the letter.
  if (opt.dead) {
    const [kind, id] = opt.dead.split(':');
    const row = page.locator(`tr.dead-letter[data-kind="${kind}"][data-id="${id}"]`);
    await row.waitFor();
    check((await row.locator('.vendor-message').textContent()).trim().length > 0, 'the dead letter shows no vendor message');
    // What it writes, unfolded, stays unfolded across a refresh.
    if (kind === 'outbox') {
      await row.locator('details summary').click();
      await page.evaluate(() => window.psaBridgeRefresh());
      check(await row.locator('details').evaluate((d) => d.open), 'the unfolded operation folded on refresh');
    }
    const posts = () => answers.filter((a) => a.method === 'POST').length;
    const postsBefore = posts();
    await row.locator('button.discard').click();
    await row.locator('button.confirm-discard').waitFor();
    await screenshot('discard-confirmation');
    await row.locator('button.cancel-discard').click();
    await row.locator('button.retry').waitFor();
    check(posts() === postsBefore, 'Discard posted before it was confirmed');

    // 7. Retry: 200, and the letter leaves the page.
    const retried = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/${id}/retry`));
    await row.locator('button.retry').click();
    const answer = await retried;
    check(answer.status() === 200, `Retry answered ${answer.status()}: ${await answer.text()}`);
    await row.waitFor({ state: 'detached', timeout: 60_000 });
    await page.locator('#action-result').waitFor();
    await screenshot('retried');
  }

  // 8. Discard, confirmed with a reason.
  if (opt.discard) {
    const [kind, id] = opt.discard.split(':');
    const row = page.locator(`tr.dead-letter[data-kind="${kind}"][data-id="${id}"]`);
    await row.waitFor();
    await row.locator('button.discard').click();
    await row.locator('.discard-reason').fill('discarded in the browser test');
    const discarded = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/${id}/discard`));
    await row.locator('button.confirm-discard').click();
    const answer = await discarded;
    check(answer.status() === 200, `Discard answered ${answer.status()}: ${await answer.text()}`);
    await row.waitFor({ state: 'detached', timeout: 60_000 });
    await screenshot('discarded');
  }

  // 9. Log out: the prompt again, the token forgotten.
  await page.click('#logout');
  await page.locator('#login').waitFor({ state: 'visible' });
  check((await page.evaluate(() => sessionStorage.length)) === 0, 'log out kept the token');
  check((await page.locator('[data-figure]').count()) === 0, 'figures left after log out');
  await screenshot('logged-out');

  const csp_problems = violations.filter((v) => /Content Security Policy|Refused to/i.test(v));
  check(csp_problems.length === 0, `CSP violations: ${csp_problems.join('\n')}`);
  check(dialogs.length === 0, `a dialog opened: ${dialogs.join(', ')}`);
  const unexpected = violations.filter((v) => !/status of 401|Failed to load resource/.test(v));
  check(unexpected.length === 0, `console errors: ${unexpected.join('\n')}`);
  console.log(`dashboard.mjs: all steps passed; screenshots in ${opt.out}`);
} catch (e) {
  if (page) await page.screenshot({ path: join(opt.out, 'failure.png'), fullPage: true }).catch(() => {});
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  fail(`${e.stack ?? e}\n(screenshots, failure.png included, in ${opt.out})`);
}
await browser.close();
rmSync(profile, { recursive: true, force: true });
