// aigw operator console: the admin API (/api/usage, /api/logs, /api/routes) as tiles,
// charts (uPlot), a routes panel and a log explorer. Plain browser JavaScript, no build
// step. Every value from the API is untrusted: it reaches the page as text (textContent,
// never innerHTML), and URLs are built with encodeURIComponent / URLSearchParams.
'use strict';
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const REFRESH_MS = 5000;
  const MAX_GROUPS = 8; // series per chart; the rest are summed as "other"
  const RANGES = {
    '1h': { ms: 3600e3, bucket: 'minute', step: 60, label: 'last hour' },
    '24h': { ms: 86400e3, bucket: 'hour', step: 3600, label: 'last 24 hours' },
    '7d': { ms: 7 * 86400e3, bucket: 'hour', step: 3600, label: 'last 7 days' },
  };
  const PALETTE = ['#2f6fde', '#e8793a', '#2a9d8f', '#c2417a', '#8e6bd1', '#d4a72c', '#4aa3c7',
    '#7d8c3c'];
  const OTHER_COLOR = '#9aa3b2';
  const DOTS = { show: true, size: 5 };

  const state = {
    range: '24h',
    groupBy: 'provider',
    live: true,
    timer: 0,
    busy: false,
    again: null, // a refresh asked for while one ran
    overviewSeq: 0,
    logsSeq: 0,
    refreshes: 0,
    charts: {}, // name -> {plot, key}
    errors: {}, // source -> message, shown in the notice bar
    logs: { params: null, cursors: [null], page: 0, next: null },
    recordId: null,
    firstChart: false,
  };

  // ---------------------------------------------------------------------------------------
  // Formatting

  const intFmt = new Intl.NumberFormat('en-US');
  const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  const has = (v) => v !== undefined && v !== null;
  const fmtInt = (n) => (has(n) ? intFmt.format(n) : '–');
  const fmtCompact = (n) => (has(n) ? (Math.abs(n) < 10000 ? intFmt.format(Math.round(n * 100) / 100) : compactFmt.format(n)) : '–');
  function fmtCost(c) {
    if (!has(c)) return '–';
    if (c === 0) return '$0';
    if (Math.abs(c) < 0.01) return '$' + c.toFixed(6).replace(/0+$/, '');
    return '$' + c.toFixed(2);
  }
  const fmtPct = (r) => (has(r) && isFinite(r) ? (r * 100).toFixed(1) + '%' : '–');
  function fmtMs(ms) {
    if (!has(ms)) return '–';
    if (ms < 10 && !Number.isInteger(ms)) return ms.toFixed(1) + ' ms';
    return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(2) + ' s';
  }
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function groupLabel(g) {
    if (g === '' || !has(g)) return { key: '(no key)', gateway: '(no gateway)' }[state.groupBy] || '(none)';
    return String(g);
  }

  // An element with children; strings become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ---------------------------------------------------------------------------------------
  // The API

  async function api(path, init) {
    const res = await fetch(path, Object.assign({
      headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store',
    }, init));
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
    if (!res.ok) {
      const message = (body && body.error && body.error.message) || `${res.status} ${res.statusText}`;
      const err = new Error(message);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function describe(err) {
    if (err.status === 401) return 'Not authorised: the admin API needs a token (admin.tokens).';
    if (err.status === 404 && /request log is off/.test(err.message)) {
      return 'The request log is off (request_log.enabled: false): no usage or logs to show.';
    }
    return err.message || String(err);
  }

  function setError(source, err) {
    if (err) state.errors[source] = describe(err);
    else delete state.errors[source];
    const messages = [...new Set(Object.values(state.errors))];
    const notice = $('#notice');
    notice.textContent = messages.join(' · ');
    notice.hidden = messages.length === 0;
  }

  // ---------------------------------------------------------------------------------------
  // Overview: tiles and charts

  function timeWindow() {
    const r = RANGES[state.range];
    const now = Date.now() / 1000;
    const start = Math.floor((now - r.ms / 1000) / r.step) * r.step + r.step;
    const end = Math.floor(now / r.step) * r.step;
    const xs = [];
    for (let t = start; t <= end; t += r.step) xs.push(t);
    return { from: start * 1000, xs, bucket: r.bucket };
  }

  function setTile(name, value, sub, raw) {
    const tile = $(`.tile[data-tile="${name}"]`);
    $('.tile-value', tile).textContent = value;
    $('.tile-sub', tile).textContent = sub || '';
    if (raw !== undefined) tile.dataset.value = String(raw);
  }

  function renderTiles(t) {
    const zero = { requests: 0, tokens_in: 0, tokens_out: 0, cached_tokens: 0, cost: 0, unpriced_requests: 0, cache_hits: 0, errors: 0 };
    t = Object.assign({}, zero, t || {});
    const n = t.requests;
    setTile('requests', fmtInt(n), RANGES[state.range].label, n);
    setTile('tokens', `${fmtCompact(t.tokens_in)} / ${fmtCompact(t.tokens_out)}`,
      t.cached_tokens ? `${fmtCompact(t.cached_tokens)} cached input` : '', t.tokens_in + t.tokens_out);
    setTile('cost', fmtCost(t.cost), t.unpriced_requests ? `${fmtInt(t.unpriced_requests)} unpriced requests` : 'priced requests', t.cost);
    setTile('cache', n ? fmtPct(t.cache_hits / n) : '–', `${fmtInt(t.cache_hits)} hits`, t.cache_hits);
    setTile('errors', n ? fmtPct(t.errors / n) : '–', `${fmtInt(t.errors)} errors`, t.errors);
    if ('duration_p50' in t || 'duration_p99' in t) {
      setTile('latency', `${fmtMs(t.duration_p50)} / ${fmtMs(t.duration_p99)}`, 'request duration');
    } else {
      setTile('latency', '–', 'not reported by this gateway');
    }
    if ('feedback_positive' in t || 'feedback_negative' in t) {
      setTile('feedback', `${fmtInt(t.feedback_positive || 0)} good · ${fmtInt(t.feedback_negative || 0)} bad`,
        has(t.score_avg) ? `average score ${Number(t.score_avg).toFixed(1)}` : '');
    } else {
      setTile('feedback', '–', 'not reported by this gateway');
    }
  }

  // Rows of /api/usage (bucketed, grouped) as one column per series, over the window's
  // buckets: the top groups by requests, the rest summed as "other".
  function buildSeries(rows, xs) {
    const totals = new Map();
    for (const r of rows) totals.set(r.group, (totals.get(r.group) || 0) + r.requests);
    const ranked = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a) || String(a).localeCompare(String(b)));
    const top = ranked.slice(0, MAX_GROUPS);
    const groups = ranked.length > MAX_GROUPS ? [...top, null] : top; // null: "other"
    const index = new Map(xs.map((x, i) => [x, i]));
    const cells = groups.map(() => xs.map(() => null));
    for (const r of rows) {
      const i = index.get(Math.floor(Date.parse(r.bucket_start) / 1000));
      if (i === undefined) continue;
      let g = top.indexOf(r.group);
      if (g < 0) g = groups.length - 1;
      const c = cells[g][i];
      if (!c) {
        cells[g][i] = Object.assign({ merged: 0 }, r);
      } else { // "other": sums; percentiles cannot be merged
        for (const k of ['requests', 'tokens_in', 'tokens_out', 'cost', 'cache_hits', 'errors']) c[k] = (c[k] || 0) + (r[k] || 0);
        c.duration_p50 = null;
        c.duration_p99 = null;
      }
    }
    return { groups, cells };
  }

  const METRICS = {
    requests: { integer: true, value: (c) => (c ? c.requests : 0), fmt: fmtCompact },
    tokens: { integer: true, value: (c) => (c ? (c.tokens_in || 0) + (c.tokens_out || 0) : 0), fmt: fmtCompact },
    cost: { value: (c) => (c ? c.cost || 0 : 0), fmt: fmtCost },
    cache: { ratio: true, value: (c) => (c && c.requests ? (100 * c.cache_hits) / c.requests : null), fmt: (v) => (has(v) ? v.toFixed(1) + '%' : '–') },
    errors: { integer: true, value: (c) => (c ? c.errors : 0), fmt: fmtCompact },
    latency: { latency: true, fmt: fmtMs },
  };

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // Counts tick at whole numbers only.
  const INTEGER_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5,
    5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8, 1e9, 1e10];

  function chartOptions(width, series, m) {
    const fmt = m.fmt;
    const axis = {
      stroke: cssVar('--muted'),
      grid: { stroke: cssVar('--line'), width: 1 },
      ticks: { stroke: cssVar('--line'), width: 1 },
    };
    return {
      width, height: 200,
      cursor: { sync: { key: 'aigw' } },
      scales: { x: { time: true } },
      legend: { live: true },
      series: [{}, ...series],
      axes: [axis, Object.assign({}, axis, {
        values: (u, vals) => vals.map((v) => fmt(v)),
        incrs: m.integer ? INTEGER_STEPS : undefined,
        // Wide enough for the longest tick label (uPlot's default fits 5 digits).
        size: (u, values) => 20 + 8 * Math.max(3, ...(values || []).map((v) => String(v).length)),
      })],
    };
  }

  function renderChart(name, xs, built) {
    const m = METRICS[name];
    const figure = $(`.chart[data-chart="${name}"]`);
    const box = $('.plot', figure);
    const series = [];
    const data = [xs];
    built.groups.forEach((g, i) => {
      const label = g === null ? 'other' : groupLabel(g);
      const color = g === null ? OTHER_COLOR : PALETTE[i % PALETTE.length];
      const col = built.cells[i];
      if (m.latency) {
        if (g === null) return;
        series.push({ label: `${label} p50`, stroke: color, width: 1.5, dash: [4, 3], points: DOTS, value: (u, v) => fmtMs(v) });
        data.push(col.map((c) => (c && has(c.duration_p50) ? c.duration_p50 : null)));
        series.push({ label: `${label} p99`, stroke: color, width: 1.5, points: DOTS, value: (u, v) => fmtMs(v) });
        data.push(col.map((c) => (c && has(c.duration_p99) ? c.duration_p99 : null)));
      } else {
        // Ratios have gaps (no requests, no ratio): dots show a bucket between two gaps.
        series.push({ label, stroke: color, width: 1.5, fill: m.ratio ? undefined : color + '1a',
          points: m.ratio ? DOTS : undefined, value: (u, v) => m.fmt(v) });
        data.push(col.map(m.value));
      }
    });
    // Any request in the range draws the chart (a flat zero is an answer); latency needs
    // figures, which older gateways do not report.
    const hasData = m.latency ? data.slice(1).some((col) => col.some(has)) : built.groups.length > 0;
    const existing = state.charts[name];
    if (!hasData) {
      if (existing) existing.plot.destroy();
      delete state.charts[name];
      figure.dataset.state = 'empty';
      box.replaceChildren(el('div', { class: 'empty' }, m.latency && built.groups.length
        ? 'No latency figures from this gateway version'
        : `No requests in the ${RANGES[state.range].label}`));
      return;
    }
    const key = JSON.stringify([xs.length, xs[0], series.map((s) => s.label)]);
    if (existing && existing.key === key) {
      existing.plot.setData(data);
    } else {
      if (existing) existing.plot.destroy();
      box.replaceChildren();
      const plot = new uPlot(chartOptions(box.clientWidth || 400, series, m), data, box);
      state.charts[name] = { plot, key };
    }
    figure.dataset.state = 'ready';
    if (!state.firstChart) {
      state.firstChart = true;
      performance.mark('aigw:first-chart');
    }
  }

  async function loadOverview() {
    const seq = ++state.overviewSeq; // a newer call (another range or split) wins
    const w = timeWindow();
    const q = (extra) => `/api/usage?${new URLSearchParams(Object.assign({ from: String(w.from) }, extra))}`;
    try {
      const [totals, grouped] = await Promise.all([
        api(q({})),
        api(q({ group_by: state.groupBy, bucket: w.bucket })),
      ]);
      if (seq !== state.overviewSeq) return;
      renderTiles((totals.result || [])[0]);
      const built = buildSeries(grouped.result || [], w.xs);
      for (const name of Object.keys(METRICS)) renderChart(name, w.xs, built);
      setError('usage', null);
    } catch (err) {
      setError('usage', err);
    }
  }

  // The filters' suggestions: providers, models and keys seen in the range.
  async function loadSuggestions() {
    const from = String(timeWindow().from);
    await Promise.all(['provider', 'model', 'key'].map(async (g) => {
      try {
        const body = await api(`/api/usage?${new URLSearchParams({ from, group_by: g })}`);
        const list = $(`#dl-${g}`);
        list.replaceChildren(...(body.result || []).filter((r) => r.group !== '').map((r) => el('option', { value: r.group })));
      } catch (_) { /* the overview reports API errors */ }
    }));
  }

  // ---------------------------------------------------------------------------------------
  // Routes

  function breakerBadge(b) {
    b = b || {};
    const cls = { closed: 'ok', open: 'bad', half_open: 'warn' }[b.state] || 'off';
    const text = String(b.state || 'unknown').replace('_', '-');
    return el('span', { class: `badge ${cls}`, 'data-breaker': String(b.state || '') }, text);
  }

  async function loadRoutes() {
    const box = $('#routes-body');
    let body;
    try {
      body = await api('/api/routes');
      setError('routes', null);
    } catch (err) {
      setError('routes', err);
      return;
    }
    const routes = body.result || [];
    if (!routes.length) {
      box.replaceChildren(el('p', { class: 'muted' }, 'No named routes configured (routes: in the config).'));
      return;
    }
    const tbody = el('tbody');
    for (const route of routes) {
      (route.targets || []).forEach((t, i) => {
        const b = t.breaker || {};
        const detail = b.state === 'open' && has(b.probe_in_ms) ? `probe in ${Math.ceil(b.probe_in_ms / 1000)} s` : '';
        tbody.append(el('tr', { 'data-route': String(route.name) },
          el('td', { class: 'route' }, i === 0 ? String(route.name) : ''),
          el('td', {}, String(t.provider ?? '')),
          el('td', { class: 'model' }, String(t.model ?? '')),
          el('td', { class: 'num' }, fmtInt(t.priority)),
          el('td', { class: 'num' }, fmtInt(t.weight)),
          el('td', {}, breakerBadge(b), detail ? el('span', { class: 'muted small' }, ' ', detail) : null),
          el('td', { class: 'num' }, has(b.opens) ? fmtInt(b.opens) : '–')));
      });
    }
    box.replaceChildren(el('div', { class: 'table-wrap' }, el('table', { class: 'data routes-table' },
      el('thead', {}, el('tr', {}, ...['Route', 'Provider', 'Model', 'Priority', 'Weight', 'Breaker', 'Opens']
        .map((h) => el('th', { class: ['Priority', 'Weight', 'Opens'].includes(h) ? 'num' : null }, h)))),
      tbody)));
  }

  // ---------------------------------------------------------------------------------------
  // Logs

  // The form's filters as /api/logs parameters; `from` defaults to the range's start.
  function logParams() {
    const form = $('#log-filters');
    const p = new URLSearchParams();
    for (const [k, raw] of new FormData(form)) {
      const v = String(raw).trim();
      if (v === '' || (k === 'order' && v === 'desc')) continue;
      if (k === 'from' || k === 'to') {
        const t = new Date(v);
        if (!isNaN(t)) p.set(k, String(t.getTime()));
        continue;
      }
      p.set(k, v);
    }
    if (!p.has('from')) p.set('from', String(timeWindow().from));
    return p;
  }

  function statusBadge(code) {
    const cls = code >= 500 ? 'bad' : code >= 400 ? 'warn' : code >= 200 && code < 400 ? 'ok' : 'off';
    return el('span', { class: `badge ${cls}` }, String(code ?? '–'));
  }

  const feedbackText = (f) => (f === 1 ? 'good' : f === -1 ? 'bad' : f === 0 ? 'neutral' : '');

  function logRow(r) {
    const tokensIn = has(r.tokens_in) ? fmtInt(r.tokens_in) : '–';
    const tokensOut = has(r.tokens_out) ? fmtInt(r.tokens_out) : '–';
    const tr = el('tr', { tabindex: '0', 'data-id': String(r.id), 'data-provider': String(r.provider ?? '') },
      el('td', { title: String(r.created_at) }, fmtTime(r.created_at)),
      el('td', {}, String(r.provider || '–')),
      el('td', { class: 'model', title: String(r.model ?? '') }, String(r.model || '–')),
      el('td', { class: 'key' }, has(r.key) ? String(r.key) : ''),
      el('td', {}, statusBadge(r.status_code)),
      el('td', {}, String(r.outcome ?? '') + (r.error_code ? ` (${r.error_code})` : '')),
      el('td', {}, r.cached ? String(r.cache_status || 'HIT') : String(r.cache_status || '')),
      el('td', { class: 'num' }, tokensIn + (r.estimated ? '*' : '')),
      el('td', { class: 'num' }, tokensOut),
      el('td', { class: 'num' }, fmtCost(r.cost)),
      el('td', { class: 'num' }, fmtMs(r.duration)),
      el('td', {}, feedbackText(r.feedback) + (has(r.score) ? ` ${r.score}` : '')));
    return tr;
  }

  async function loadLogs() {
    const seq = ++state.logsSeq; // a newer call (other filters or page) wins
    const L = state.logs;
    if (!L.params || L.page === 0) L.params = logParams();
    const p = new URLSearchParams(L.params);
    const cursor = L.cursors[L.page];
    if (cursor) p.set('cursor', cursor);
    const tbody = $('#log-table tbody');
    let body;
    try {
      body = await api(`/api/logs?${p}`);
    } catch (err) {
      if (seq !== state.logsSeq) return;
      const box = $('#logs-error');
      box.textContent = describe(err);
      box.hidden = false;
      tbody.replaceChildren();
      L.next = null;
      updatePager(0);
      return;
    }
    if (seq !== state.logsSeq) return;
    $('#logs-error').hidden = true;
    const rows = body.result || [];
    L.next = body.next_cursor || null;
    if (!rows.length) {
      tbody.replaceChildren(el('tr', { class: 'empty-row' }, el('td', { colspan: '12' }, 'No requests match these filters.')));
    } else {
      tbody.replaceChildren(...rows.map(logRow));
    }
    $('#log-table').dataset.rows = String(rows.length);
    updatePager(rows.length);
  }

  function updatePager(n) {
    const L = state.logs;
    $('#page-first').disabled = L.page === 0;
    $('#page-prev').disabled = L.page === 0;
    $('#page-next').disabled = !L.next;
    const live = L.page === 0 && state.live ? ' · live' : '';
    $('#page-info').textContent = `Page ${L.page + 1} · ${n} record${n === 1 ? '' : 's'}${live}`;
  }

  function applyFilters() {
    state.logs = { params: null, cursors: [null], page: 0, next: null };
    loadLogs();
  }

  // ---------------------------------------------------------------------------------------
  // The record view

  const FIELD_ORDER = ['created_at', 'provider', 'model', 'method', 'path', 'status_code', 'success',
    'outcome', 'error_code', 'cached', 'cache_status', 'streamed', 'duration', 'time_to_first_byte',
    'upstream_duration', 'tokens_in', 'tokens_out', 'cached_tokens', 'cache_write_tokens',
    'reasoning_tokens', 'cost', 'estimated', 'unpriced', 'custom_cost', 'key', 'gateway', 'account',
    'feedback', 'score', 'event_id', 'user_agent', 'request_content_type', 'response_content_type',
    'request_size', 'response_size'];
  const NOT_FIELDS = new Set(['id', 'attempts', 'metadata', 'request_body', 'response_body']);

  function fieldText(k, v) {
    if (!has(v)) return '—';
    if (k === 'created_at') return `${fmtTime(v)} (${v})`;
    if (k === 'cost') return fmtCost(v);
    if (['duration', 'time_to_first_byte', 'upstream_duration'].includes(k)) return fmtMs(v);
    if (k === 'feedback') return `${v} (${feedbackText(v)})`;
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  // A stored body, pretty-printed when it is JSON (an SSE stream or text stays as it was).
  function pretty(text) {
    if (typeof text !== 'string') return JSON.stringify(text, null, 2);
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
  }

  function renderRecord(r) {
    const body = $('#record-body');
    const dl = el('dl', { class: 'fields' });
    const keys = [...FIELD_ORDER.filter((k) => k in r), ...Object.keys(r).filter((k) => !FIELD_ORDER.includes(k) && !NOT_FIELDS.has(k))];
    for (const k of keys) dl.append(el('div', { 'data-field': k }, el('dt', {}, k), el('dd', {}, fieldText(k, r[k]))));
    const parts = [dl];

    const attempts = Array.isArray(r.attempts) ? r.attempts : [];
    parts.push(el('h3', {}, `Attempts (${attempts.length})`));
    if (attempts.length) {
      parts.push(el('div', { class: 'table-wrap' }, el('table', { class: 'data attempts' },
        el('thead', {}, el('tr', {}, ...['#', 'Provider', 'Model', 'Status', 'Duration', 'Error'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...attempts.map((a, i) => el('tr', {},
          el('td', {}, String(i + 1)), el('td', {}, String(a.provider ?? '')), el('td', {}, String(a.model ?? '')),
          el('td', {}, has(a.status_code) ? statusBadge(a.status_code) : '—'), el('td', {}, fmtMs(a.duration)),
          el('td', {}, String(a.error ?? ''))))))));
    } else {
      parts.push(el('p', { class: 'muted' }, 'No upstream attempt (answered by the gateway or the cache).'));
    }
    parts.push(el('h3', {}, 'Metadata'));
    parts.push(el('pre', { class: 'json', 'data-part': 'metadata' }, JSON.stringify(r.metadata || {}, null, 2)));
    for (const [k, title] of [['request_body', 'Request body'], ['response_body', 'Response body']]) {
      parts.push(el('h3', {}, title));
      if (has(r[k])) parts.push(el('pre', { class: 'json', 'data-part': k }, pretty(r[k])));
      else parts.push(el('p', { class: 'muted' }, 'Not stored (payload logging is off for this request).'));
    }
    parts.push(el('details', {}, el('summary', {}, 'The record as JSON'),
      el('pre', { class: 'json', 'data-part': 'raw' }, JSON.stringify(r, null, 2))));
    body.replaceChildren(...parts);
    for (const b of document.querySelectorAll('.feedback-buttons button')) {
      b.setAttribute('aria-pressed', String(Number(b.dataset.feedback) === r.feedback));
    }
  }

  // Opens record `id` (or, with `reload`, shows it again as the API now has it).
  async function openRecord(id, reload) {
    state.recordId = id;
    const dialog = $('#record');
    $('#record-id').textContent = id;
    if (!reload) {
      $('#feedback-status').textContent = '';
      $('#record-body').replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    }
    if (!dialog.open) dialog.showModal();
    history.replaceState(null, '', '#log/' + encodeURIComponent(id));
    try {
      const body = await api('/api/logs/' + encodeURIComponent(id));
      if (state.recordId !== id) return;
      renderRecord(body.result || {});
      dialog.dataset.loaded = id;
    } catch (err) {
      $('#record-body').replaceChildren(el('p', { class: 'error' }, describe(err)));
    }
  }

  async function sendFeedback(value) {
    const id = state.recordId;
    const status = $('#feedback-status');
    status.className = 'small muted';
    status.textContent = 'Saving…';
    try {
      await api('/api/logs/' + encodeURIComponent(id), {
        method: 'PATCH', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ feedback: value }),
      });
      status.textContent = 'Saved';
      if (state.recordId === id) openRecord(id, true);
    } catch (err) {
      status.className = 'small error';
      status.textContent = err.status === 404 || err.status === 405
        ? `Feedback is not available on this gateway (${err.status}).`
        : `Feedback not saved: ${describe(err)}`;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Refresh loop and wiring

  // One refresh at a time; a refresh asked for meanwhile (a new range) runs right after.
  async function refresh(withSuggestions) {
    if (state.busy) {
      state.again = state.again || { withSuggestions: false };
      state.again.withSuggestions = state.again.withSuggestions || withSuggestions;
      return;
    }
    state.busy = true;
    try {
      const jobs = [loadOverview(), loadRoutes()];
      if (state.logs.page === 0) jobs.push(loadLogs());
      if (withSuggestions || state.refreshes % 12 === 0) jobs.push(loadSuggestions());
      await Promise.all(jobs);
      state.refreshes += 1;
      document.documentElement.dataset.refreshes = String(state.refreshes);
      const d = new Date();
      $('#updated').textContent = `Updated ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    } finally {
      state.busy = false;
    }
    if (state.again) {
      const again = state.again;
      state.again = null;
      await refresh(again.withSuggestions);
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = 0;
    if (!state.live || document.hidden) return;
    state.timer = setTimeout(async () => {
      await refresh(false);
      schedule();
    }, REFRESH_MS);
  }

  function setLive(on) {
    state.live = on;
    const b = $('#live');
    b.setAttribute('aria-pressed', String(on));
    $('#live-label').textContent = on ? 'Live' : 'Paused';
    updatePager(Number($('#log-table').dataset.rows || 0));
    if (on) refresh(false).then(schedule);
    else schedule();
  }

  function resizeCharts() {
    for (const { plot } of Object.values(state.charts)) {
      const w = plot.root.parentElement.clientWidth;
      if (w && Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: 200 });
    }
  }

  function wire() {
    $('#range').addEventListener('change', (e) => {
      state.range = e.target.value;
      state.logs = { params: null, cursors: [null], page: 0, next: null };
      refresh(true);
    });
    $('#group-by').addEventListener('change', (e) => {
      state.groupBy = e.target.value;
      loadOverview();
    });
    $('#live').addEventListener('click', () => setLive(!state.live));
    const form = $('#log-filters');
    form.addEventListener('submit', (e) => { e.preventDefault(); applyFilters(); });
    form.addEventListener('change', (e) => { if (e.target.tagName === 'SELECT') applyFilters(); });
    form.addEventListener('reset', () => setTimeout(applyFilters, 0));
    $('#page-next').addEventListener('click', () => {
      const L = state.logs;
      if (!L.next) return;
      L.cursors[L.page + 1] = L.next;
      L.page += 1;
      loadLogs();
    });
    $('#page-prev').addEventListener('click', () => {
      if (state.logs.page > 0) { state.logs.page -= 1; loadLogs(); }
    });
    $('#page-first').addEventListener('click', () => { state.logs.page = 0; loadLogs(); });
    const tbody = $('#log-table tbody');
    const open = (e) => {
      const tr = e.target.closest('tr[data-id]');
      if (tr) openRecord(tr.dataset.id);
    };
    tbody.addEventListener('click', open);
    tbody.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(e); });
    const dialog = $('#record');
    $('#record-close').addEventListener('click', () => dialog.close());
    dialog.addEventListener('click', (e) => { if (e.target === dialog) dialog.close(); });
    dialog.addEventListener('close', () => {
      state.recordId = null;
      delete dialog.dataset.loaded;
      history.replaceState(null, '', location.pathname + location.search);
    });
    for (const b of document.querySelectorAll('.feedback-buttons button')) {
      b.addEventListener('click', () => sendFeedback(Number(b.dataset.feedback)));
    }
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && state.live) refresh(false);
      schedule();
    });
    if ('ResizeObserver' in window) {
      let frame = 0;
      new ResizeObserver(() => {
        cancelAnimationFrame(frame);
        frame = requestAnimationFrame(resizeCharts);
      }).observe($('#charts'));
    }
  }

  function start() {
    state.range = $('#range').value;
    state.groupBy = $('#group-by').value;
    wire();
    refresh(true).then(schedule);
    openFromHash();
    window.addEventListener('hashchange', openFromHash);
  }

  // #log/{id}: a link to one record.
  function openFromHash() {
    const m = /^#log\/(.+)$/.exec(location.hash);
    if (!m) return;
    let id;
    try { id = decodeURIComponent(m[1]); } catch (_) { return; } // a malformed link
    if (id !== state.recordId) openRecord(id);
  }

  // For tests and debugging: the charts' uPlot instances (their data and series).
  window.aigwConsole = { charts: state.charts, refresh: () => refresh(true) };
  start();
})();
