// The operator console's page weight and time to first chart (bench/README.md#the-console).
//
//   node bench/console/measure.mjs [path/to/aigw]      (default: build/aigw)
//
// Starts a fake OpenAI-style provider (plain HTTP, in this process) and the aigw binary with
// the request log on, sends BENCH_CONSOLE_REQUESTS requests through three providers and six
// models (a few errors and cache hits among them), then opens the console in headless
// Chromium (Debian's chromium, driven by playwright-core from tests/browser/node_modules)
// BENCH_CONSOLE_RUNS times with an empty cache ("cold") and as many times reloaded with the
// cache kept ("warm": the files revalidate with their ETags, 304s). Prints a markdown table,
// also written to bench/results/console.md.
//
// Time to first chart: navigation start → the page's performance mark `aigw:first-chart`
// (set once the first uPlot chart has been drawn with data from /api/usage).
// Page weight: bytes on the wire (gzip, as Chromium asks for it) and decoded, of the HTML
// and the static files, and separately of the first round of API answers.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'tests/browser/package.json'));
const { chromium } = require('playwright-core');

const aigwBin = path.resolve(process.argv[2] || path.join(root, 'build/aigw'));
const REQUESTS = Number(process.env.BENCH_CONSOLE_REQUESTS || 3000);
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS || 7);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// The fake provider: a chat completion naming the body's model, with usage; the model
// "flaky" fails one request in four.
let served = 0;
const fake = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    let model = '';
    try { model = JSON.parse(body).model || ''; } catch (_) { /* not JSON */ }
    served += 1;
    if (model === 'flaky' && served % 4 === 0) {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"error":{"message":"flaky","type":"server_error"}}');
      return;
    }
    const out = JSON.stringify({
      id: 'c' + served, object: 'chat.completion', model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 20 + (served % 50), completion_tokens: 5 + (served % 30), total_tokens: 25 + (served % 80) },
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(out);
  });
});
await new Promise((r) => fake.listen(0, '127.0.0.1', r));
const fakePort = fake.address().port;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'aigw-console-bench-'));
const [port, adminPort] = [await freePort(), await freePort()];
const upstream = `http://127.0.0.1:${fakePort}/v1`;
writeFileSync(path.join(tmp, 'aigw.yaml'), `server:
  listen: 127.0.0.1:${port}
  workers: 1
  log_level: warn
admin:
  listen: 127.0.0.1:${adminPort}
cache:
  enabled: true
request_log:
  path: ${tmp}/aigw.db
access_log:
  path: "off"
providers:
  openai:
    base_url: ${upstream}
  groq:
    base_url: ${upstream}
  mistral:
    base_url: ${upstream}
routes:
  chat:
    share_client_credentials: true
    targets:
      - provider: openai
        model: gpt-4o-mini
      - provider: groq
        model: llama-3.3-70b-versatile
`);

const aigw = spawn(aigwBin, ['--config', path.join(tmp, 'aigw.yaml')], { stdio: ['ignore', 'inherit', 'inherit'] });
let browser = null;
const cleanup = () => {
  if (aigw.exitCode === null) aigw.kill('SIGTERM');
  fake.close();
  rmSync(tmp, { recursive: true, force: true });
};
process.on('SIGINT', () => { cleanup(); process.exit(130); });

try {
  const admin = `http://127.0.0.1:${adminPort}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(admin + '/readyz')).ok) break; } catch (_) { /* not up yet */ }
    if (aigw.exitCode !== null || i > 100) throw new Error('aigw did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }

  // Traffic: 16 requests in flight; every 20th repeats an earlier body (a cache hit).
  const targets = [['openai', 'gpt-4o-mini'], ['openai', 'gpt-4o'], ['groq', 'llama-3.3-70b-versatile'],
    ['groq', 'flaky'], ['mistral', 'mistral-small-latest'], ['mistral', 'mistral-large-latest']];
  let next = 0;
  const started = Date.now();
  async function worker() {
    while (next < REQUESTS) {
      const i = next++;
      const [provider, model] = targets[i % targets.length];
      const n = i % 20 === 19 ? i - 19 : i;
      await fetch(`http://127.0.0.1:${port}/${provider}/chat/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-bench' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'question ' + n }] }),
      }).then((r) => r.arrayBuffer());
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker));
  const sendMs = Date.now() - started;
  for (let i = 0; ; i++) {
    const body = await (await fetch(admin + '/api/usage')).json();
    if (body.result[0] && body.result[0].requests >= REQUESTS) break;
    if (i > 100) throw new Error('the request log did not catch up');
    await new Promise((r) => setTimeout(r, 100));
  }

  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const measure = async (page, load) => {
    await load();
    const t = await page.waitForFunction(() => {
      const m = performance.getEntriesByName('aigw:first-chart')[0];
      return m ? m.startTime : null;
    }, null, { timeout: 20000 });
    const firstChart = await t.jsonValue();
    // The first round of API answers is in when the page counts one refresh.
    await page.waitForFunction(() => Number(document.documentElement.dataset.refreshes || 0) >= 1);
    const sizes = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const out = { files: [], api: [] };
      const seen = new Set(); // one file fetched twice (the icon: <link> and CSS) counts once
      for (const e of [nav, ...performance.getEntriesByType('resource')]) {
        const u = new URL(e.name);
        if (seen.has(e.name)) continue;
        seen.add(e.name);
        const entry = { path: u.pathname + u.search, wire: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize };
        (u.pathname.startsWith('/api/') ? out.api : out.files).push(entry);
      }
      return out;
    });
    return { firstChart, sizes };
  };
  const cold = [];
  const warm = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    cold.push(await measure(page, () => page.goto(admin + '/')));
    warm.push(await measure(page, () => page.reload()));
    await context.close();
  }

  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const sum = (list, k) => list.reduce((a, e) => a + (e[k] || 0), 0);
  const c0 = cold[0].sizes;
  const fmtKB = (n) => (n / 1024).toFixed(1) + ' KiB';
  const lines = [];
  lines.push(`Console page, ${REQUESTS} requests in the log (sent in ${sendMs} ms), ${RUNS} runs, Chromium ${browser.version()}, ${os.cpus().length} cores (${os.cpus()[0].model.trim()})`);
  lines.push('');
  lines.push('| File | On the wire (gzip) | Decoded |');
  lines.push('|---|---:|---:|');
  for (const f of c0.files) lines.push(`| \`${f.path}\` | ${f.encoded} B | ${f.decoded} B |`);
  lines.push(`| **HTML + static files (${c0.files.length} requests)** | **${sum(c0.files, 'encoded')} B (${fmtKB(sum(c0.files, 'encoded'))})** | **${sum(c0.files, 'decoded')} B (${fmtKB(sum(c0.files, 'decoded'))})** |`);
  lines.push(`| First round of API answers (${c0.api.length} requests) | ${sum(c0.api, 'encoded')} B | ${sum(c0.api, 'decoded')} B |`);
  lines.push('');
  lines.push('| Time to first chart | median | min | max |');
  lines.push('|---|---:|---:|---:|');
  for (const [name, runs] of [['cold (empty cache)', cold], ['warm (reload, 304s)', warm]]) {
    const xs = runs.map((r) => r.firstChart);
    lines.push(`| ${name} | ${median(xs).toFixed(0)} ms | ${Math.min(...xs).toFixed(0)} ms | ${Math.max(...xs).toFixed(0)} ms |`);
  }
  const warmWire = warm[0].sizes.files.reduce((a, e) => a + (e.wire || 0), 0);
  lines.push('');
  lines.push(`Warm reload: ${warmWire} B on the wire for the HTML and static files (headers of 304s included).`);
  const text = lines.join('\n');
  console.log(text);
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  writeFileSync(path.join(root, 'bench/results/console.md'), text + '\n');
} finally {
  if (browser) await browser.close();
  cleanup();
}
