// The operator console in a real browser: headless Chromium (Debian's `chromium`) driven by
// playwright-core, against a gateway that tests/integration/console_test.cpp started and
// sent traffic through. Usage:
//
//   node tests/browser/console_test.mjs <admin-url> <screenshot-dir>
//
// AIGW_CONSOLE_EXPECT (JSON) holds what the C++ test sent:
//   {"requests": 9, "errors": 2, "cache_hits": 1, "routes": 1,
//    "providers": {"openai": 6, "groq": 3}, "filter_provider": "groq", "record": "<id>",
//    "record_body": "question 1", "latency": true, "feedback": true}
// AIGW_ADMIN_TOKEN, when set, is sent as HTTP Basic credentials (admin.tokens).
// CHROMIUM overrides the browser binary (default /usr/bin/chromium).
//
// Asserts: the tiles and charts show the test's data, a filter changes the log list, a row
// opens its record (bodies included), no console error, no page error, no failed request.
// Screenshots go to <screenshot-dir>. Exit status 0 when every check passed.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const [adminUrl, shotDir] = process.argv.slice(2);
if (!adminUrl || !shotDir) {
  console.error('usage: node console_test.mjs <admin-url> <screenshot-dir>');
  process.exit(2);
}
const expected = JSON.parse(process.env.AIGW_CONSOLE_EXPECT || '{}');
const token = process.env.AIGW_ADMIN_TOKEN || '';
mkdirSync(shotDir, { recursive: true });

const failures = [];
const problems = []; // console errors, page errors, failed requests
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Tests run as root here, where Chromium refuses its sandbox.
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
let exitCode = 1;
try {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 1000 },
    httpCredentials: token ? { username: 'admin', password: token } : undefined,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });

  const refreshes = () => page.evaluate(() => Number(document.documentElement.dataset.refreshes || 0));
  const waitRefreshAfter = async (n) => page.waitForFunction((k) => Number(document.documentElement.dataset.refreshes || 0) > k, n);

  // --- Overview -------------------------------------------------------------------------
  await page.goto(adminUrl + '/', { waitUntil: 'load' });
  await waitRefreshAfter(0);
  const before = await refreshes();
  await page.selectOption('#range', '1h');
  await waitRefreshAfter(before);

  const requestsTile = await page.locator('.tile[data-tile="requests"]').getAttribute('data-value');
  check(Number(requestsTile) === expected.requests, `requests tile shows ${expected.requests} (got ${requestsTile})`);
  const tileText = await page.locator('.tile[data-tile="requests"] .tile-value').textContent();
  check(tileText.trim() === String(expected.requests), `requests tile text is "${expected.requests}" (got "${tileText}")`);
  if (expected.errors !== undefined) {
    const errorsTile = await page.locator('.tile[data-tile="errors"]').getAttribute('data-value');
    check(Number(errorsTile) === expected.errors, `errors tile counts ${expected.errors} (got ${errorsTile})`);
  }
  if (expected.cache_hits !== undefined) {
    const cacheTile = await page.locator('.tile[data-tile="cache"]').getAttribute('data-value');
    check(Number(cacheTile) === expected.cache_hits, `cache tile counts ${expected.cache_hits} hits (got ${cacheTile})`);
  }

  const charts = ['requests', 'tokens', 'cost', 'cache', 'errors'];
  if (expected.latency) {
    charts.push('latency'); // a gateway reporting duration_p50/p99
    const latency = await page.locator('.tile[data-tile="latency"] .tile-value').textContent();
    check(/ms|s$/.test(latency), `the latency tile shows p50 / p99 (got "${latency}")`);
  }
  for (const name of charts) {
    const canvases = await page.locator(`.chart[data-chart="${name}"] canvas`).count();
    check(canvases > 0, `chart "${name}" rendered a canvas`);
  }
  // The requests chart's series: one per provider, each summing to what the test sent.
  const series = await page.evaluate(() => {
    const c = window.aigwConsole.charts.requests;
    if (!c) return null;
    const out = {};
    c.plot.series.slice(1).forEach((s, i) => {
      out[s.label] = c.plot.data[i + 1].reduce((a, v) => a + (v || 0), 0);
    });
    return out;
  });
  check(series !== null, 'the requests chart has data');
  for (const [provider, n] of Object.entries(expected.providers || {})) {
    check(series && series[provider] === n, `requests chart: ${provider} sums to ${n} (got ${series && series[provider]})`);
  }
  const legend = await page.locator('.chart[data-chart="requests"] .u-legend').textContent();
  for (const provider of Object.keys(expected.providers || {})) {
    check(legend.includes(provider), `requests chart legend names ${provider}`);
  }
  // Split by model: the series change to the models.
  if (expected.models) {
    const r = await refreshes();
    await page.selectOption('#group-by', 'model');
    await page.waitForFunction((models) => {
      const c = window.aigwConsole.charts.requests;
      return c && models.every((m) => c.plot.series.some((s) => s.label === m));
    }, Object.keys(expected.models));
    check(true, 'split by model shows the models as series');
    await page.selectOption('#group-by', 'provider');
    await page.waitForFunction(() => {
      const c = window.aigwConsole.charts.requests;
      return c && c.plot.series.length > 1;
    });
    void r;
  }
  await page.screenshot({ path: path.join(shotDir, 'overview.png'), fullPage: true });

  // --- Routes ---------------------------------------------------------------------------
  if (expected.routes) {
    const routes = await page.locator('#routes-body tr[data-route]').count();
    check(routes >= expected.routes, `routes panel lists the route's targets (${routes} rows)`);
    const badges = await page.locator('#routes-body [data-breaker]').count();
    check(badges === routes, `every target shows its breaker state (${badges})`);
  }

  // --- Log explorer ---------------------------------------------------------------------
  const rowCount = () => page.locator('#log-table tbody tr[data-id]').count();
  await page.waitForFunction((n) => document.querySelectorAll('#log-table tbody tr[data-id]').length === n,
    Math.min(expected.requests, 50));
  check(true, `log list shows all ${expected.requests} records`);

  const provider = expected.filter_provider;
  await page.fill('#log-filters input[name="provider"]', provider);
  await page.press('#log-filters input[name="provider"]', 'Enter');
  await page.waitForFunction((p) => {
    const rows = [...document.querySelectorAll('#log-table tbody tr[data-id]')];
    return rows.length > 0 && rows.every((r) => r.dataset.provider === p);
  }, provider);
  const filtered = await rowCount();
  check(filtered === expected.providers[provider], `provider filter leaves ${expected.providers[provider]} ${provider} rows (got ${filtered})`);
  await page.screenshot({ path: path.join(shotDir, 'logs-filtered.png'), fullPage: true });

  // Reset, then only the failures (a select applies at once).
  await page.click('#log-filters button[type="reset"]');
  await page.waitForFunction((n) => document.querySelectorAll('#log-table tbody tr[data-id]').length === n,
    Math.min(expected.requests, 50));
  await page.selectOption('#log-filters select[name="success"]', 'false');
  await page.waitForFunction((n) => document.querySelectorAll('#log-table tbody tr[data-id]').length === n, expected.errors);
  check(true, `success=false leaves the ${expected.errors} failed records`);
  await page.selectOption('#log-filters select[name="success"]', '');
  await page.waitForFunction((n) => document.querySelectorAll('#log-table tbody tr[data-id]').length === n,
    Math.min(expected.requests, 50));

  // Pagination: 25 rows a page when there are more than 25 records.
  if (expected.requests > 25) {
    await page.selectOption('#log-filters select[name="limit"]', '25');
    await page.waitForFunction(() => document.querySelectorAll('#log-table tbody tr[data-id]').length === 25);
    const firstPage = await page.locator('#log-table tbody tr[data-id]').first().getAttribute('data-id');
    await page.click('#page-next');
    await page.waitForFunction((first) => {
      const row = document.querySelector('#log-table tbody tr[data-id]');
      return row && row.dataset.id !== first;
    }, firstPage);
    check(true, 'the next page shows other records');
    await page.click('#page-first');
    await page.selectOption('#log-filters select[name="limit"]', '50');
  }

  // --- Record view ----------------------------------------------------------------------
  const rowSelector = expected.record ? `#log-table tbody tr[data-id="${expected.record}"]` : '#log-table tbody tr[data-id]';
  const row = page.locator(rowSelector).first();
  const id = await row.getAttribute('data-id');
  await row.click();
  await page.waitForFunction((i) => document.querySelector('#record').dataset.loaded === i, id);
  check(await page.locator('#record').evaluate((d) => d.open), 'clicking a row opens the record view');
  check((await page.locator('#record-id').textContent()) === id, `the record view shows id ${id}`);
  const fields = await page.locator('#record-body [data-field]').count();
  check(fields >= 20, `the record view lists the record's fields (${fields})`);
  if (expected.record_body) {
    const req = await page.locator('#record-body pre[data-part="request_body"]').textContent();
    check(req.includes(expected.record_body), `the request body is shown (contains ${expected.record_body})`);
    const res = await page.locator('#record-body pre[data-part="response_body"]').count();
    check(res === 1, 'the response body is shown');
  }
  check(page.url().endsWith('#log/' + id), 'the record has its own URL');
  if (expected.feedback) {
    // PATCH /api/logs/{id}: the record reloads with its feedback, the tile counts it.
    await page.click('.feedback-buttons button[data-feedback="1"]');
    await page.waitForFunction(() => !/^(Saving…)?$/.test(document.querySelector('#feedback-status').textContent));
    const saved = await page.locator('#feedback-status').textContent();
    check(saved === 'Saved', `the feedback is saved (got "${saved}")`);
    await page.waitForFunction(() => document.querySelector('.feedback-buttons button[data-feedback="1"]').getAttribute('aria-pressed') === 'true');
    const shown = await page.locator('#record-body [data-field="feedback"] dd').textContent();
    check(shown === '1 (good)', `the record shows its feedback (got "${shown}")`);
    await page.evaluate(() => window.aigwConsole.refresh());
    await page.waitForFunction(() => /^1 good/.test(document.querySelector('.tile[data-tile="feedback"] .tile-value').textContent));
    check(true, 'the feedback tile counts the good answer');
  }
  await page.screenshot({ path: path.join(shotDir, 'record.png'), fullPage: false });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#record').open);
  check(true, 'Escape closes the record view');

  // --- Live refresh ---------------------------------------------------------------------
  const r0 = await refreshes();
  await page.waitForFunction((k) => Number(document.documentElement.dataset.refreshes || 0) > k, r0, { timeout: 12000 });
  check(true, 'the page refreshes by itself');
  await page.click('#live');
  check((await page.locator('#live').getAttribute('aria-pressed')) === 'false', 'the live toggle pauses');
  await page.click('#live');
  await page.waitForFunction(() => document.querySelector('#live').getAttribute('aria-pressed') === 'true');

  // A deep link opens the record directly.
  await page.goto(adminUrl + '/#log/' + encodeURIComponent(id), { waitUntil: 'load' });
  await page.waitForFunction((i) => document.querySelector('#record').dataset.loaded === i, id);
  check(true, 'a #log/{id} link opens the record');

  for (const p of problems) check(false, p);
  if (problems.length === 0) check(true, 'no console errors and no failed requests');
  exitCode = failures.length === 0 ? 0 : 1;
} catch (err) {
  console.error('FAIL', err && err.stack ? err.stack : err);
  for (const p of problems) console.error('     ', p);
  exitCode = 1;
} finally {
  await browser.close();
}
console.log(exitCode === 0 ? 'console_test: all checks passed' : `console_test: ${failures.length} check(s) failed`);
process.exit(exitCode);
