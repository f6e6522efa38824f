// The dashboard in headless Chromium against a real kc-aggregator.
//
// Starts kc-aggregator (--http 127.0.0.1:0, store in a fresh directory),
// opens the page while the store is still empty, streams data/demo/*.csv
// with one kc-send per province and waits for the page to follow live
// (it polls /v1/status). Then checks that the page shows the demo's figures:
// every province of the south, 2022 months 1-9, equals the /v1/totals rows,
// the regional total equals the 2022 report's 38,400,000,000 đồng
// (data/demo/README.md) with its plan of 102,200,000,000, the month series
// against 2021 (19,900,000,000 in months 1-9) and the activity breakdown add
// up; switches to English and to the 34 units and checks again. The page runs
// under the Content-Security-Policy the server sends (checked on every file):
// no CSP violation and no console error while it works, and an inline script
// injected at the end is blocked. Writes screenshots for a person to look at
// (KC_SCREENSHOT, and -en beside it).
// Issue 16: downloads and rejected rows. After the demo, rejected rows are made
// for real: kc-send sends a demo event_id of Hồ Chí Minh (79) again with
// another amount (the aggregator rejects it: event_id_conflict), and a producer
// that skips kc-send's own checks (a DEALER socket in /usr/bin/python3, the
// hand-written protobuf of tests/conformance/kcconf.py) sends an unknown
// province (99), an unknown activity for Long An (80) and one for Hà Nội (01,
// the north). The "rejected rows" panel must show the south's three, newest
// first, with province, producer, reason label and the server's text, and Hà
// Nội's only in the north. The whole report is downloaded from the page's
// links (playwright's download event) in xlsx (read by Debian's openpyxl: an
// integer cell 38400000000), CSV (BOM, the figure, every province's
// Vietnamese name) and PDF (a PDF file: its contents are tests/report's), and
// panels' CSVs: the province table (a /v1/report table) and the months and
// rejected rows (written by the page), read by Python's csv with utf-8-sig.
// Needs Debian's python3-zmq and python3-openpyxl (scripts/install-deps).
// Issue 18: the completeness grid (province x month) equals /v1/completeness
// cell by cell (state, class, label; one colour per state, the legend's, and
// green/amber/red for on time/late/missing), its late and missing counts and
// its CSV (read by Python's csv); in English after the switch; the 34 units'
// rows after the units switch.
// A second test serves a store whose sums leave int64 (issue 12) and checks
// that the page shows them exactly (cells written by web_put_cells; its
// screenshot is dashboard-big.png).
//
// Environment (set by tests/web/CMakeLists.txt): KC_AGGREGATOR, KC_SEND,
// KC_PUT_CELLS, KC_SOURCE_DIR, KC_CHROMIUM, KC_SCREENSHOT, KC_WORK_DIR.
// Every process started here is stopped by pid; every wait has a deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = (k, dflt) => {
  const v = process.env[k] || dflt;
  if (!v) throw new Error(`${k} is not set (run through ctest: tests/web/CMakeLists.txt)`);
  return v;
};

const REPORT_2022_M1_9 = 38400000000; // data/demo/README.md: spending, 2022 January-September
const REPORT_2022_PLAN = 102200000000; // plan of the whole year 2022
const REPORT_2021_M1_9 = 19900000000; // 2021 January-September
const QUERY = 'region=south&year=2022&months=1-9';

async function loadPlaywright() {
  if (!fs.existsSync(path.join(here, 'node_modules', 'playwright-core'))) {
    throw new Error(
      `tests/web/node_modules/playwright-core is missing: run scripts/install-deps ` +
        `(it runs: npm ci --prefix tests/web)`,
    );
  }
  return import('playwright-core');
}

// data/*.tsv rows (comment lines and the header skipped) as objects keyed by the header.
function readTsv(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  const head = lines.shift().split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [head[i], v])));
}

// A CSV file (RFC 4180: quoted fields, "" inside quotes, newlines in quotes) as objects.
function readCsv(file) {
  const text = fs.readFileSync(file, 'utf8');
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[i++];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') (row.push(field), (field = ''));
    else if (c === '\n') (row.push(field.replace(/\r$/, '')), rows.push(row), (row = []), (field = ''));
    else field += c;
  }
  if (field || row.length) (row.push(field), rows.push(row));
  const head = rows.shift();
  return rows.map((r) => Object.fromEntries(r.map((v, i) => [head[i], v])));
}

// The 34-unit table the dashboard must show for `region`, `year`, months m1..m2, from the
// demo CSVs sent: every scheme-34 unit of the region (data/regions.tsv, at the 2025-07
// merger) with the sums of the scheme-63 provinces that merged into it (data/provinces.tsv
// `successor`): actual amount_vnd and events in the months, plan amount_vnd of the year.
function expected34(src, files, region, year, m1, m2) {
  const successor = new Map(readTsv(path.join(src, 'data/provinces.tsv'))
    .filter((p) => p.scheme === '63').map((p) => [p.code, p.successor]));
  const want = new Map();
  for (const r of readTsv(path.join(src, 'data/regions.tsv')))
    if (r.scheme === '34' && r.region === region && r.valid_from <= '2025-07' && r.valid_to >= '2025-07')
      want.set(r.code, { amount: 0n, plan: 0n, events: 0, from: [] });
  for (const f of files) {
    for (const e of readCsv(path.join(src, 'data/demo', f))) {
      const unit = want.get(successor.get(e.province));
      if (!unit || Number(e.year) !== year) continue;
      if (!unit.from.includes(e.province)) unit.from.push(e.province);
      const amount = BigInt(e.amount_vnd || '0');
      if (e.kind === 'plan') unit.plan += amount;
      else if (Number(e.month) >= m1 && Number(e.month) <= m2) (unit.amount += amount), unit.events++;
    }
  }
  return want;
}

// Debian's python (openpyxl, python3-zmq), not the python3 on PATH.
const PYTHON = '/usr/bin/python3';

// Run /usr/bin/python3 -c script args...; its stdout, or an assertion failure with its stderr.
function python(script, args, what) {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `${what}: python exit ${r.status ?? r.signal}\n${r.stderr}`);
  return r.stdout;
}

// A producer that skips kc-send's checks: one Batch of hand-written events
// (tests/conformance/kcconf.py raw_event/raw_batch) on a DEALER socket; waits
// (bounded) for its Ack. argv: conformance dir, endpoint, producer id, JSON list of events.
const RAW_PRODUCER = `
import json, sys, zmq
sys.path.insert(0, sys.argv[1])
import kcconf as kc
ep, pid, events = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.SNDTIMEO, 30000)
s.connect(ep)
raw = [kc.raw_event(producer_id=pid, seq=i + 1, **e) for i, e in enumerate(events)]
s.send(kc.raw_batch(pid, raw))
if not s.poll(30000, zmq.POLLIN):
    sys.exit("no Ack within 30 s")
frames = s.recv_multipart()
print(len(frames), len(frames[0]))
s.close(0)
ctx.term()
`;

// Every sheet's cells of an xlsx that are integers (not bools), as "sheet!cell=value" lines.
const XLSX_INTS = `
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
for ws in wb.worksheets:
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, int) and not isinstance(c.value, bool):
                print(f"{ws.title}!{c.coordinate}={c.value}")
`;

// A CSV read by Python's csv with utf-8-sig, as a JSON list of rows (lists of strings).
const CSV_ROWS = `
import csv, json, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    print(json.dumps(list(csv.reader(f)), ensure_ascii=False))
`;

// Click the link `selector` and save what it downloads into dir; returns { file, name }.
async function download(page, selector, dir) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click(selector)]);
  const failure = await dl.failure();
  assert.equal(failure, null, `download from ${selector} (${await page.getAttribute(selector, 'href')}) failed`);
  const name = dl.suggestedFilename();
  const file = path.join(dir, name);
  await dl.saveAs(file);
  return { file, name, url: dl.url() };
}

const t0 = Date.now();
const step = (s) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child, timeoutMs) {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function stop(child, name) {
  if (!child || exited(child)) return;
  process.kill(child.pid, 'SIGTERM');
  if (!(await waitExit(child, 15000))) {
    process.stderr.write(`${name} (pid ${child.pid}) ignored SIGTERM for 15 s: SIGKILL\n`);
    process.kill(child.pid, 'SIGKILL');
    await waitExit(child, 5000);
  }
}

// The completeness grid (#cmp-table) against a /v1/completeness answer: the same rows
// (codes, in order), every cell's state, class and (in `lang`) label, and the legend's
// labels; the states seen and the codes.
const CMP_LABELS = {
  vi: { on_time: 'đúng hạn', late: 'trễ hạn', missing: 'quá hạn chưa báo cáo', not_due: 'chưa đến hạn' },
  en: { on_time: 'on time', late: 'late', missing: 'missing', not_due: 'not yet due' },
};
async function checkGrid(page, api, lang) {
  const grid = await page.$$eval('#cmp-table tbody tr', (trs) => trs.map((tr) => ({
    code: tr.dataset.code,
    cells: [...tr.querySelectorAll('td')].map((td) => ({ period: td.dataset.period, state: td.dataset.state,
      cls: td.className, label: (td.querySelector('.sr-only') || {}).textContent, color: getComputedStyle(td).backgroundColor })),
  })));
  assert.deepEqual(grid.map((r) => r.code), api.provinces.map((p) => p.code), 'the grid\'s rows are the API\'s');
  const states = new Set();
  const colors = new Map();
  for (const p of api.provinces) {
    const row = grid.find((r) => r.code === p.code);
    assert.equal(row.cells.length, p.months.length, `cells of ${p.code}`);
    p.months.forEach((c, i) => {
      const cell = row.cells[i];
      assert.equal(cell.period, c.period, `${p.code} cell ${i}`);
      assert.equal(cell.state, c.state, `state of ${p.code} ${c.period}`);
      assert.equal(cell.cls, `cmp cmp-${c.state}`, `class of ${p.code} ${c.period}`);
      if (CMP_LABELS[lang][c.state]) assert.equal(cell.label, CMP_LABELS[lang][c.state], `label of ${p.code} ${c.period}`);
      states.add(c.state);
      if (!colors.has(c.state)) colors.set(c.state, cell.color);
      assert.equal(cell.color, colors.get(c.state), `colour of ${p.code} ${c.period}`);
    });
  }
  // each state its own colour, and the legend says which (colour, symbol and label)
  const legend = await page.$$eval('#cmp-legend li', (lis) => lis.map((li) => ({ state: li.dataset.state,
    text: li.querySelector('.cmp-label').textContent, color: getComputedStyle(li.querySelector('.cmp-sw')).backgroundColor })));
  for (const [st, label] of Object.entries(CMP_LABELS[lang])) {
    const l = legend.find((x) => x.state === st);
    assert.ok(l, `legend entry ${st}`);
    assert.equal(l.text, label, `legend label of ${st}`);
    if (colors.has(st)) assert.equal(l.color, colors.get(st), `legend colour of ${st} is its cells'`);
  }
  assert.equal(new Set(legend.map((l) => l.color)).size, legend.length, 'every state has its own colour');
  // and the colours mean what they usually do: on time green, late amber, missing red
  const rgb = (st) => legend.find((l) => l.state === st).color.match(/\d+/g).map(Number);
  const [og, lt, ms] = [rgb('on_time'), rgb('late'), rgb('missing')];
  assert.ok(og[1] > og[0] && og[1] > og[2], `on time is green: ${og}`);
  assert.ok(lt[0] > lt[2] && lt[1] - lt[2] >= 30, `late is amber: ${lt}`);
  assert.ok(ms[0] > ms[1] && Math.abs(ms[1] - ms[2]) < 20, `missing is red: ${ms}`);
  return { states, codes: new Set(grid.map((r) => r.code)) };
}

async function getJSON(base, p) {
  const res = await fetch(new URL(p, base));
  const body = await res.json();
  assert.equal(res.status, 200, `${p}: ${JSON.stringify(body)}`);
  return body;
}

test('dashboard shows the demo figures live, in Vietnamese and English, 63 and 34 units', { timeout: 170000 }, async (t) => {
  const { chromium } = await loadPlaywright();
  const aggBin = env('KC_AGGREGATOR');
  const sendBin = env('KC_SEND');
  const src = env('KC_SOURCE_DIR', path.resolve(here, '../..'));
  const chromiumBin = env('KC_CHROMIUM', '/usr/bin/chromium');
  const shot = env('KC_SCREENSHOT', path.join(process.cwd(), 'dashboard.png'));
  const workRoot = env('KC_WORK_DIR', process.cwd());
  for (const [what, f] of [['kc-aggregator', aggBin], ['kc-send', sendBin], ['chromium', chromiumBin]]) {
    assert.ok(fs.existsSync(f), `${what} not found at ${f}${what === 'chromium' ? ' (scripts/install-deps installs chromium)' : ''}`);
  }

  fs.mkdirSync(workRoot, { recursive: true });
  const work = fs.mkdtempSync(path.join(workRoot, 'web-test-'));
  const ready = path.join(work, 'ready');
  const aggLog = path.join(work, 'aggregator.log');
  const children = [];
  let browser = null;
  let agg = null;

  t.after(async () => {
    if (browser) await browser.close().catch(() => {});
    for (const c of children) await stop(c, 'kc-send');
    await stop(agg, 'kc-aggregator');
  });

  // 1. the aggregator, with the HTTP server on a free loopback port
  agg = spawn(
    aggBin,
    ['--listen', 'tcp://127.0.0.1:0', '--http', '127.0.0.1:0', '--store', path.join(work, 'store'),
      '--ready-file', ready, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', fs.openSync(aggLog, 'w')] },
  );
  const lines = await until('the ready file with an http line', () => {
    if (exited(agg)) {
      throw new Error(`kc-aggregator exited (${agg.exitCode ?? agg.signalCode}):\n${fs.readFileSync(aggLog, 'utf8')}`);
    }
    if (!fs.existsSync(ready)) return null;
    const l = fs.readFileSync(ready, 'utf8').split('\n');
    return l.some((x) => x.startsWith('http ')) ? l : null;
  }, 30000);
  const ingest = lines[0].trim();
  const base = lines.find((x) => x.startsWith('http ')).slice(5).trim();
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  // the page and its assets are served from the binary, with the page's security headers
  for (const [p, type] of [['/', 'text/html'], ['/assets/app.js', 'javascript'], ['/assets/style.css', 'text/css'],
    ['/assets/chart.min.js', 'javascript'], ['/assets/favicon.svg', 'image/svg+xml']]) {
    const res = await fetch(new URL(p, base));
    assert.equal(res.status, 200, `GET ${p}`);
    assert.ok((res.headers.get('content-type') || '').includes(type), `${p}: ${res.headers.get('content-type')}`);
    const csp = res.headers.get('content-security-policy') || '';
    assert.match(csp, /(^|; )default-src 'none'(;|$)/, `${p}: CSP ${csp}`);
    assert.match(csp, /(^|; )script-src 'self'(;|$)/, `${p}: CSP ${csp}`);
    assert.match(csp, /(^|; )frame-ancestors 'none'(;|$)/, `${p}: CSP ${csp}`);
    assert.doesNotMatch(csp, /unsafe-/, `${p}: CSP ${csp}`);
    assert.equal(res.headers.get('x-frame-options'), 'DENY', p);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', p);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', p);
    const body = await res.text();
    if (p === '/assets/chart.min.js') assert.match(body.slice(0, 200), /Chart\.js v3\./);
  }

  step(`kc-aggregator ready, ${base}`);
  // 2. the browser, on the empty store
  browser = await chromium.launch({ executablePath: chromiumBin, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: 'vi-VN' });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  // every Content-Security-Policy violation the page causes (none expected: it runs under the
  // policy the server sends; a violation is also a console error, collected above)
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  });
  page.setDefaultTimeout(30000);
  await page.goto(new URL('/?' + QUERY, base).toString());
  await page.waitForSelector('body[data-ready]');
  assert.equal(await page.getAttribute('#province-total', 'data-amount'), '0', 'the empty store shows 0');
  assert.equal(await page.getAttribute('html', 'lang'), 'vi');
  // no rejected row yet: the panel's empty state
  await page.waitForSelector('body[data-rejects="0"]');
  assert.equal((await page.textContent('#rejects-empty')).trim(), 'Không có dòng nào bị từ chối.');
  assert.equal(await page.isVisible('#rejects-empty'), true);

  step('page loaded on the empty store');
  // 3. stream the demo: one producer per province, all at once
  const files = fs.readdirSync(path.join(src, 'data/demo')).filter((f) => f.endsWith('.csv')).sort();
  assert.equal(files.length, 20, 'data/demo has the 20 southern provinces');
  const sends = files.map((f) => {
    const code = f.split('-')[0];
    const c = spawn(sendBin, ['--connect', ingest, '--producer', `office-${code}`, '--spool', path.join(work, 'spool', code),
      '--timeout', '60', '--quiet', path.join(src, 'data/demo', f)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    children.push(c);
    return new Promise((resolve) => c.on('exit', (code2, sig) => resolve({ f, code: code2, sig, out })));
  });
  let sendTimer;
  const results = await Promise.race([
    Promise.all(sends),
    new Promise((resolve) => (sendTimer = setTimeout(() => resolve(null), 90000))),
  ]);
  clearTimeout(sendTimer);
  assert.ok(results, 'kc-send did not finish within 90 s');
  for (const r of results) assert.equal(r.code, 0, `kc-send ${r.f}: exit ${r.code ?? r.sig}\n${r.out}`);

  step('kc-send done');
  // 4. the page follows by itself: wait for the seq of the complete store
  const status = await getJSON(base, '/v1/status');
  assert.ok(status.seq > 0);
  await page.waitForFunction((seq) => Number(document.body.dataset.ready) >= seq, status.seq, { timeout: 20000 });

  step(`page at seq ${status.seq}`);
  const api = await getJSON(base, `/v1/totals?${QUERY}&by=province&plan=1`);
  assert.equal(api.totals.amount_vnd, REPORT_2022_M1_9);
  assert.equal(api.plan.totals.amount_vnd, REPORT_2022_PLAN);
  assert.equal(api.rows.length, 20);

  const shown = await page.$$eval('#province-table tbody tr', (trs) =>
    trs.map((tr) => ({ ...tr.dataset, text: tr.textContent })));
  const byCode = new Map(shown.map((r) => [r.code, r]));
  for (const row of api.rows) {
    const r = byCode.get(String(row.key));
    assert.ok(r, `province ${row.key} ${row.label} is in the table`);
    assert.equal(Number(r.amount), row.totals.amount_vnd, `amount of ${row.key}`);
    assert.equal(Number(r.plan), row.plan.totals.amount_vnd, `plan of ${row.key}`);
    assert.equal(r.percent, row.percent_of_plan == null ? '' : String(row.percent_of_plan), `percent of ${row.key}`);
    assert.equal(Number(r.events), row.events, `events of ${row.key}`);
    assert.ok(r.text.includes(row.label), `name of ${row.key}`);
    assert.ok(r.text.includes(new Intl.NumberFormat('vi-VN').format(row.totals.amount_vnd) + ' đ'), `vi amount of ${row.key}`);
  }
  assert.equal(shown.reduce((s, r) => s + Number(r.amount), 0), REPORT_2022_M1_9, 'rows add up to the region');
  assert.equal(await page.getAttribute('#province-total', 'data-amount'), String(REPORT_2022_M1_9));
  assert.equal(await page.getAttribute('#province-total', 'data-plan'), String(REPORT_2022_PLAN));
  assert.equal((await page.textContent('#pt-amount')).trim(), '38.400.000.000 đ');
  assert.equal((await page.textContent('#kpi-amount-value')).trim(), '38,4 tỷ đồng');
  assert.equal(await page.getAttribute('#kpi-plan', 'data-percent'), String(api.percent_of_plan));
  // every province reported just now: none is silent
  assert.equal(shown.filter((r) => r.silent === '1').length, 0, 'no province silent right after the demo');

  // month series against 2021 and activity breakdown
  const months = await page.$$eval('#month-table tbody tr', (trs) => trs.map((tr) => ({ ...tr.dataset })));
  assert.deepEqual(months.map((m) => Number(m.month)), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(months.reduce((s, m) => s + Number(m.amount), 0), REPORT_2022_M1_9);
  assert.equal(months.reduce((s, m) => s + Number(m.previous), 0), REPORT_2021_M1_9);
  const apiMonths = await getJSON(base, `/v1/totals?${QUERY}&by=month&compare=2021`);
  for (const row of apiMonths.rows) {
    const m = months.find((x) => Number(x.month) === Number(row.key));
    assert.equal(Number(m.amount), row.totals.amount_vnd, `month ${row.key}`);
  }
  const acts = await page.$$eval('#activity-table tbody tr', (trs) => trs.map((tr) => ({ ...tr.dataset })));
  assert.ok(acts.length >= 5);
  assert.equal(acts.reduce((s, a) => s + Number(a.amount), 0), REPORT_2022_M1_9);
  // the charts hold the same numbers
  const chartSums = await page.evaluate(() =>
    ['chart-provinces', 'chart-months', 'chart-activities'].map((id) =>
      window.Chart.getChart(id).data.datasets[0].data.reduce((s, v) => s + v, 0)));
  assert.deepEqual(chartSums, [REPORT_2022_M1_9, REPORT_2022_M1_9, REPORT_2022_M1_9]);
  assert.match(await page.textContent('#conn'), /Trực tiếp/);

  step('figures checked');
  // 4a. the completeness grid (issue 18) agrees with /v1/completeness cell by cell
  const cmp63 = await getJSON(base, `/v1/completeness?${QUERY}`);
  const grid63 = await checkGrid(page, cmp63, 'vi');
  // the demo's provinces reported 2022 now, long after its deadlines: late; the region's
  // other provinces of 2022 (if any) and the months none of them reported: missing
  assert.ok(grid63.states.has('late'), `a late cell: ${[...grid63.states]}`);
  assert.equal(grid63.states.has('on_time'), false, 'nothing of 2022 was on time');
  assert.ok(cmp63.counts.late > 0, JSON.stringify(cmp63.counts));
  assert.equal(await page.getAttribute('#completeness', 'data-late'), String(cmp63.counts.late));
  assert.equal(await page.getAttribute('#completeness', 'data-missing'), String(cmp63.counts.missing));
  assert.match(await page.textContent('#cmp-counts'), new RegExp(`Trễ hạn: ${cmp63.counts.late}\\b`));
  assert.equal((await page.textContent('#h-completeness')).trim(), 'Tình hình báo cáo theo tháng');
  assert.equal((await page.textContent('#cmp-legend li[data-state="late"]')).trim(), '!trễ hạn');
  assert.equal((await page.textContent('#cmp-legend li[data-state="missing"]')).trim(), '✗quá hạn chưa báo cáo');
  const cmpCsv = await download(page, '#dl-completeness', fs.mkdtempSync(path.join(work, 'dl-cmp-')));
  const cmpRows = JSON.parse(python(CSV_ROWS, [cmpCsv.file], 'csv'));
  assert.deepEqual(cmpRows[0].slice(0, 4), ['Kỳ', 'Mã tỉnh', 'Tỉnh, thành phố', 'Mã trạng thái']);
  assert.equal(cmpRows.length - 1, cmp63.provinces.reduce((n, p) => n + p.months.filter((c) => c.state !== 'none').length, 0));
  for (const r of cmpRows.slice(1, 6)) {
    const want = cmp63.provinces.find((p) => p.code === r[1]).months.find((c) => c.period === r[0]);
    assert.equal(r[3], want.state, `CSV ${r[0]} ${r[1]}`);
  }
  step('completeness grid checked');
  // 4b. rejected rows, made for real (issue 16): a demo event_id of 79 sent again by kc-send
  // with another amount, then a producer that skips kc-send's checks
  const rows79 = readCsv(path.join(src, 'data/demo', files.find((f) => f.startsWith('79-'))));
  const taken = rows79.find((e) => e.kind === 'actual' && e.amount_vnd);
  const head79 = Object.keys(taken);
  const conflict = path.join(work, 'conflict.csv');
  fs.writeFileSync(conflict, `${head79.join(',')}\n${head79.map((k) =>
    (k === 'amount_vnd' ? String(BigInt(taken.amount_vnd) + 1000n) : k === 'note' ? 'web test: other amount' : taken[k])).join(',')}\n`);
  const fix = spawnSync(sendBin, ['--connect', ingest, '--producer', 'office-79-again', '--spool', path.join(work, 'spool', 'again'),
    '--timeout', '60', conflict], { encoding: 'utf8', timeout: 90000 });
  assert.equal(fix.status, 65, `kc-send of a conflicting row: exit ${fix.status ?? fix.signal}\n${fix.stdout}${fix.stderr}`);
  assert.match(fix.stdout, new RegExp(`rejected .*${taken.event_id}: event_id_conflict`));
  const rawEvents = [
    { event_id: 'web-bad-99', province: '99', year: 2022, month: 3, activity: 'KC3b', metrics: { amount_vnd: 5000000 } },
    { event_id: 'web-bad-80', province: '80', year: 2022, month: 3, activity: 'KC99', metrics: { amount_vnd: 7000000 } },
    { event_id: 'web-bad-01', province: '01', year: 2022, month: 3, activity: 'KC99', metrics: { amount_vnd: 9000000 } },
  ];
  python(RAW_PRODUCER, [path.join(src, 'tests/conformance'), ingest, 'web-raw', JSON.stringify(rawEvents)], 'raw producer');
  const rej = await until('4 rejected rows in /v1/rejects', async () => {
    const r = await getJSON(base, '/v1/rejects');
    return r.count >= 4 ? r : null;
  }, 20000);
  assert.equal(rej.count, 4, JSON.stringify(rej));
  assert.equal(rej.truncated, false);
  const apiRej = (pid, seq) => rej.rejects.find((r) => r.producer === pid && Number(r.seq) === seq) || {};
  const rejJson = JSON.stringify(rej);
  assert.equal(apiRej('web-raw', 1).reason, 'unknown_province', rejJson);
  assert.equal(apiRej('web-raw', 2).reason, 'unknown_activity', rejJson);
  assert.equal(apiRej('web-raw', 2).province, '80', rejJson);
  assert.equal(apiRej('web-raw', 2).province_name, 'Long An', rejJson);
  assert.equal(apiRej('office-79-again', 1).reason, 'event_id_conflict', rejJson);
  assert.equal(apiRej('office-79-again', 1).province, '79', rejJson);
  // the page asks for them every poll: the south shows three (99, 80, 79), not Hà Nội's
  await page.waitForSelector('body[data-rejects="3"]', { timeout: 20000 });
  const shownRej = await page.$$eval('#rejects-table tbody tr', (trs) =>
    trs.map((tr) => ({ ...tr.dataset, cells: [...tr.cells].map((c) => c.textContent) })));
  assert.deepEqual(shownRej.map((r) => r.province).sort(), [apiRej('web-raw', 1).province ?? '', '79', '80'].sort());
  for (const r of shownRej) {
    const a = apiRej(r.producer, Number(r.seq));
    assert.ok(a, `shown rejected row ${r.producer} #${r.seq} is in /v1/rejects`);
    assert.equal(r.reason, a.reason);
    const [when, prov, who, why] = r.cells;
    assert.match(when, /\d{2}\/\d{2}\/\d{4}/, `time of ${r.producer} #${r.seq}: ${when}`);
    if (a.province_name) assert.ok(prov.includes(a.province_name), `province of ${r.producer} #${r.seq}: ${prov}`);
    if (a.province) assert.ok(prov.includes(a.province), `province code of ${r.producer} #${r.seq}: ${prov}`);
    assert.ok(who.includes(r.producer), who);
    assert.ok(why.includes(a.reason) && why.includes(a.text), `reason of ${r.producer} #${r.seq}: ${why}`);
  }
  const label = (pid, seq) => shownRej.find((r) => r.producer === pid && Number(r.seq) === seq).cells[3];
  assert.ok(label('web-raw', 1).startsWith('Mã tỉnh không xác định'), label('web-raw', 1));
  assert.ok(label('web-raw', 2).startsWith('Nội dung hoạt động không xác định'), label('web-raw', 2));
  assert.ok(label('office-79-again', 1).startsWith('Trùng mã sự kiện nhưng khác nội dung'), label('office-79-again', 1));
  assert.ok(shownRej.find((r) => r.province === '80').cells[1].includes('Long An'));
  assert.ok(shownRej.find((r) => r.province === '79').cells[1].includes('Hồ Chí Minh'));
  // newest first
  const times = shownRej.map((r) => Date.parse(apiRej(r.producer, Number(r.seq)).received));
  assert.ok(times.every((x, i) => i === 0 || times[i - 1] >= x), `newest first: ${times}`);
  assert.equal(await page.isHidden('#rejects-empty'), true);
  assert.equal(await page.isHidden('#rejects-more'), true);
  await page.screenshot({ path: shot, fullPage: true });
  step('rejected rows shown; screenshot written');

  // 4c. downloads: the whole report from the page's links, and panels' CSVs
  const dlDir = path.join(work, 'downloads');
  fs.mkdirSync(dlDir);
  const xl = await download(page, '#dl-xlsx', dlDir);
  assert.equal(xl.name, 'kcpipe-report-south-2022-1-9.xlsx');
  const xq = new URL(xl.url).searchParams;
  assert.deepEqual(['region', 'year', 'months', 'units', 'lang', 'format'].map((k) => xq.get(k)),
    ['south', '2022', '1-9', '63', 'vi', 'xlsx'], xl.url);
  const ints = python(XLSX_INTS, [xl.file], 'openpyxl').split('\n');
  assert.ok(ints.some((l) => l.endsWith(`=${REPORT_2022_M1_9}`)), `no integer cell ${REPORT_2022_M1_9} in the xlsx:\n${ints.slice(0, 40).join('\n')}`);
  const whole = await download(page, '#dl-csv', dlDir);
  assert.equal(whole.name, 'kcpipe-report-south-2022-1-9.csv');
  const wholeBytes = fs.readFileSync(whole.file);
  assert.deepEqual([...wholeBytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'the CSV starts with a UTF-8 BOM');
  const wholeText = wholeBytes.toString('utf8');
  assert.match(wholeText, /(^|[^\d.])(38400000000|38\.400\.000\.000)([^\d.]|$)/, 'the report CSV holds 38400000000');
  for (const row of api.rows) assert.ok(wholeText.includes(row.label), `the report CSV names ${row.key} ${row.label}`);
  JSON.parse(python(CSV_ROWS, [whole.file], 'csv'));
  const pdf = await download(page, '#dl-pdf', dlDir);
  assert.equal(pdf.name, 'kcpipe-report-south-2022-1-9.pdf');
  assert.equal(fs.readFileSync(pdf.file).subarray(0, 5).toString('latin1'), '%PDF-');
  // a panel that is a report table: the provinces (/v1/report table=provinces)
  const provCsv = await download(page, '#dl-provinces', dlDir);
  assert.equal(new URL(provCsv.url).searchParams.get('table'), 'provinces');
  assert.deepEqual([...fs.readFileSync(provCsv.file).subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  const provRows = JSON.parse(python(CSV_ROWS, [provCsv.file], 'csv'));
  for (const row of api.rows) {
    const amount = [String(row.totals.amount_vnd), new Intl.NumberFormat('vi-VN').format(row.totals.amount_vnd)];
    assert.ok(provRows.some((r) => r.some((c) => c.includes(row.label)) && r.some((c) => amount.includes(c))),
      `the provinces CSV has ${row.key} ${row.label} with ${row.totals.amount_vnd}`);
  }
  // panels the page writes: the months against 2021, the rejected rows
  const monCsv = await download(page, '#dl-months', dlDir);
  assert.equal(monCsv.name, 'kcpipe-months-south-2022-1-9.csv');
  assert.deepEqual([...fs.readFileSync(monCsv.file).subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  const mon = JSON.parse(python(CSV_ROWS, [monCsv.file], 'csv'));
  assert.deepEqual(mon[0], ['Tháng', 'Kinh phí 2022 (đồng)', 'Kinh phí 2021 (đồng)', 'Thay đổi (%)']);
  assert.deepEqual(mon.slice(1, 10).map((r) => r[0]), ['1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(mon.slice(1, 10).reduce((x, r) => x + BigInt(r[1]), 0n), BigInt(REPORT_2022_M1_9));
  assert.deepEqual(mon[10].slice(0, 3), ['Tổng', String(REPORT_2022_M1_9), String(REPORT_2021_M1_9)]);
  for (const row of apiMonths.rows) assert.equal(mon[Number(row.key)][1], String(row.totals.amount_vnd), `month ${row.key}`);
  const rejCsv = await download(page, '#dl-rejects', dlDir);
  assert.equal(rejCsv.name, 'kcpipe-rejects-south.csv');
  const rejRows = JSON.parse(python(CSV_ROWS, [rejCsv.file], 'csv'));
  assert.equal(rejRows.length, 4, JSON.stringify(rejRows));
  assert.deepEqual(rejRows.slice(1).map((r) => r[7]).sort(), ['event_id_conflict', 'unknown_activity', 'unknown_province']);
  assert.ok(rejRows.some((r) => r[2] === 'Long An' && r[3] === 'web-raw' && r[8] === 'Nội dung hoạt động không xác định'));
  step('downloads checked');
  // 5. English
  const renders = Number(await page.getAttribute('body', 'data-renders'));
  await page.click('#lang-toggle');
  await page.waitForSelector('body[data-lang="en"]');
  await page.waitForFunction((n) => Number(document.body.dataset.renders) > n, renders);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal((await page.textContent('h1')).trim(), 'Industrial promotion monitor');
  assert.equal((await page.textContent('label[for="region"]')).trim(), 'Region');
  assert.equal((await page.textContent('#pt-amount')).trim(), '38,400,000,000 VND');
  assert.equal((await page.textContent('#kpi-amount-value')).trim(), '38.4 billion VND');
  assert.match(await page.textContent('#period'), /South · January–September 2022 · 63 provinces/);
  assert.equal(new URL(await page.getAttribute('#dl-xlsx', 'href'), base).searchParams.get('lang'), 'en');
  assert.equal((await page.textContent('#h-rejects')).trim(), 'Rejected rows');
  assert.ok((await page.textContent('#rejects-table tbody tr[data-province="80"]')).includes('Unknown activity'));
  assert.equal((await page.textContent('#h-completeness')).trim(), 'Reporting by month');
  await checkGrid(page, cmp63, 'en');
  assert.match(await page.textContent('#cmp-counts'), new RegExp(`Late: ${cmp63.counts.late}\\b.*Missing: ${cmp63.counts.missing}\\b`));
  await page.screenshot({ path: shot.replace(/\.png$/, '-en.png'), fullPage: true });

  // 6. the 34 units of 2025: scheme-34 codes, each unit's figures as the test computes them
  // from the demo CSVs it sent, with its own successor mapping (data/provinces.tsv) and the
  // units' region (data/regions.tsv): not the server's mapping, nor its API
  await page.click('label[for="units-34"]');
  await page.waitForSelector('body[data-query*="units=34"]');
  const want34 = expected34(src, files, 'south', 2022, 1, 9);
  const shown34 = await page.$$eval('#province-table tbody tr', (trs) => trs.map((tr) => ({ ...tr.dataset })));
  assert.deepEqual(shown34.map((r) => r.code).sort(), [...want34.keys()].sort(), 'the 34-unit table lists the south\'s units');
  for (const [code, w] of want34) {
    const r = shown34.find((x) => x.code === code);
    assert.equal(BigInt(r.amount), w.amount, `amount of unit ${code} (from ${w.from.join(' ')})`);
    assert.equal(BigInt(r.plan), w.plan, `plan of unit ${code} (from ${w.from.join(' ')})`);
    assert.equal(Number(r.events), w.events, `events of unit ${code} (from ${w.from.join(' ')})`);
  }
  // a unit whose scheme-63 provinces reported is not silent (issue 16, defect 1): its last
  // report is theirs (/v1/provinces?scheme=34 as kc-watch --units 34), a time, not "never"
  const rows34 = await page.$$eval('#province-table tbody tr', (trs) =>
    trs.map((tr) => ({ code: tr.dataset.code, silent: tr.dataset.silent, cls: tr.className, last: tr.querySelector('.when').textContent })));
  const reported34 = [...want34].filter(([, w]) => w.events > 0);
  assert.ok(reported34.length >= 5, `34 units with reports: ${reported34.length}`);
  for (const [code, w] of reported34) {
    const r = rows34.find((x) => x.code === code);
    assert.ok(r.silent === '0' && !r.cls.includes('silent'), `unit ${code} (from ${w.from.join(' ')}) reported but is shown silent`);
    assert.ok(r.last.trim() !== '' && !/never|chưa có/.test(r.last), `unit ${code}: last report "${r.last}"`);
  }
  const total34 = [...want34.values()].reduce((s, w) => s + w.amount, 0n);
  assert.ok(shown34.length < 20, `34 units: ${shown34.length} rows`);
  assert.equal(await page.getAttribute('#province-total', 'data-amount'), String(total34));
  const api34 = await getJSON(base, `/v1/totals?${QUERY}&by=province&plan=1&units=34`);
  assert.equal(api34.filters.units, 34);
  assert.equal(BigInt(api34.totals.amount_vnd), total34, 'the API\'s 34-unit total');
  assert.match(await page.textContent('#period'), /34 provinces/);
  assert.match(page.url(), /units=34/);
  // the grid follows the switch: the 34 units' rows, as /v1/completeness?units=34 has them
  const cmp34 = await getJSON(base, `/v1/completeness?${QUERY}&units=34`);
  assert.equal(cmp34.units, 34);
  const grid34 = await checkGrid(page, cmp34, 'en');
  assert.deepEqual([...grid34.codes].sort(), [...want34.keys()].sort(), 'the grid lists the south\'s 34 units');
  assert.notDeepEqual([...grid34.codes].sort(), [...grid63.codes].sort(), 'the 34/63 switch changes the grid\'s rows');

  // 7. a region that never reported: every unit shown, every one flagged silent
  await page.selectOption('#region', 'north');
  await page.waitForSelector('body[data-query*="region=north"]');
  const north = await page.$$eval('#province-table tbody tr', (trs) =>
    trs.map((tr) => ({ silent: tr.dataset.silent, cls: tr.className, amount: tr.dataset.amount })));
  assert.ok(north.length > 5, `north, 34 units: ${north.length} rows`);
  assert.ok(north.every((r) => r.silent === '1' && r.cls.includes('silent') && r.amount === '0'), 'north: all silent, 0');
  assert.equal(await page.getAttribute('#kpi-reports', 'data-silent'), String(north.length));
  // the north's rejected rows: Hà Nội's, and the unknown province's
  await page.waitForSelector('#rejects-table tbody tr[data-province="01"]');
  const northRej = await page.$$eval('#rejects-table tbody tr', (trs) => trs.map((tr) => tr.dataset.province));
  assert.deepEqual(northRej.sort(), [apiRej('web-raw', 1).province ?? '', '01'].sort());
  assert.match(await page.getAttribute('#dl-csv', 'href'), /region=north&year=2022&months=1-9&units=34&lang=en&format=csv/);
  // more than the panel shows: the newest 20, and a line that says there are more
  assert.equal(await page.isHidden('#rejects-more'), true);
  python(RAW_PRODUCER, [path.join(src, 'tests/conformance'), ingest, 'web-raw-many', JSON.stringify(
    Array.from({ length: 21 }, (_, i) => ({ event_id: `web-many-${i}`, province: '98', year: 2022, month: 4,
      activity: 'KC3b', metrics: { amount_vnd: 1000 } })))], 'raw producer, 21 rows');
  await page.waitForSelector('#rejects-more:not([hidden])', { timeout: 20000 });
  assert.equal(await page.getAttribute('body', 'data-rejects'), '20');
  assert.equal((await page.textContent('#rejects-more')).trim(), 'Showing the newest 20; for older ones: kc-admin rejects on the centre\'s machine.');
  assert.ok((await page.$$eval('#rejects-table tbody tr', (trs) => trs.map((tr) => tr.dataset.producer)))
    .every((p) => p === 'web-raw-many'), 'the newest rows first');

  assert.deepEqual(pageErrors, [], 'no script errors in the page');
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], 'no CSP violation in the page');
  // the policy is in force: an inline script added to the page does not run, and is reported
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true;';
    document.body.appendChild(s);
  });
  await page.waitForFunction(() => window.__cspViolations.length > 0, null, { timeout: 5000 });
  assert.equal(await page.evaluate(() => window.__inlineRan === true), false, 'an inline script ran despite the CSP');
  assert.match((await page.evaluate(() => window.__cspViolations))[0], /^script-src/);
  step('English, 34 units and a silent region checked; no CSP violation, the CSP in force');
  // 8. the aggregator stops cleanly on SIGTERM
  await browser.close();
  browser = null;
  process.kill(agg.pid, 'SIGTERM');
  assert.ok(await waitExit(agg, 20000), 'kc-aggregator exits within 20 s of SIGTERM');
  assert.equal(agg.exitCode, 0, `kc-aggregator exit status\n${fs.readFileSync(aggLog, 'utf8')}`);
  step('kc-aggregator stopped');
  fs.rmSync(work, { recursive: true, force: true });
  process.stdout.write(`screenshots: ${shot} ${shot.replace(/\.png$/, '-en.png')}\n`);
});

// Issue 12: figures beyond int64 (and beyond Number.MAX_SAFE_INTEGER) are shown
// exactly. The store holds, as cells written by web_put_cells (no event may carry
// such values any more; a store of an older version may hold them), Hồ Chí Minh
// 79 at 2^63-1 and Long An 80 at 5 in 2024 (both southern: the page shows a
// region), a plan of 2^63-1 and 2023's 2^62 to compare with. The region's total
// is 9223372036854775812, which no double holds.
const BIG_TOTAL = '9223372036854775812';
const MAX63 = '9223372036854775807';

test('dashboard shows sums beyond int64 exactly, in Vietnamese and English', { timeout: 90000 }, async (t) => {
  const { chromium } = await loadPlaywright();
  const aggBin = env('KC_AGGREGATOR');
  const putCells = env('KC_PUT_CELLS');
  const chromiumBin = env('KC_CHROMIUM', '/usr/bin/chromium');
  const shot = env('KC_SCREENSHOT', path.join(process.cwd(), 'dashboard.png')).replace(/\.png$/, '-big.png');
  const workRoot = env('KC_WORK_DIR', process.cwd());
  fs.mkdirSync(workRoot, { recursive: true });
  const work = fs.mkdtempSync(path.join(workRoot, 'web-big-'));
  const store = path.join(work, 'store');
  const ready = path.join(work, 'ready');
  const aggLog = path.join(work, 'aggregator.log');
  let browser = null;
  let agg = null;
  t.after(async () => {
    if (browser) await browser.close().catch(() => {});
    await stop(agg, 'kc-aggregator');
  });

  // YEAR MONTH PROVINCE ACTIVITY(id) KIND FUND EVENTS AMOUNT_VND
  const cells = [
    [2024, 3, 79, 4, 1, 1, 1, MAX63], // KC3b, actual
    [2024, 5, 80, 1, 1, 2, 1, '5'], // KC1, actual
    [2024, 1, 79, 4, 2, 1, 1, MAX63], // plan
    [2023, 3, 79, 4, 1, 1, 1, String(2n ** 62n)],
  ];
  const put = spawnSync(putCells, [store, ...cells.flat().map(String)], { encoding: 'utf8', timeout: 30000 });
  assert.equal(put.status, 0, `web_put_cells: ${put.status ?? put.signal} ${put.stderr}`);

  agg = spawn(aggBin, ['--listen', 'tcp://127.0.0.1:0', '--http', '127.0.0.1:0', '--store', store,
    '--ready-file', ready, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', fs.openSync(aggLog, 'w')] });
  const lines = await until('the ready file with an http line', () => {
    if (exited(agg)) {
      throw new Error(`kc-aggregator exited (${agg.exitCode ?? agg.signalCode}):\n${fs.readFileSync(aggLog, 'utf8')}`);
    }
    if (!fs.existsSync(ready)) return null;
    const l = fs.readFileSync(ready, 'utf8').split('\n');
    return l.some((x) => x.startsWith('http ')) ? l : null;
  }, 30000);
  const base = lines.find((x) => x.startsWith('http ')).slice(5).trim();
  step(`big figures: kc-aggregator ready, ${base}`);

  // the API writes the exact sum as a bare JSON number
  const q = 'region=south&year=2024&months=1-12';
  const res = await fetch(new URL(`/v1/totals?${q}&by=province&plan=1`, base));
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(text, new RegExp(`"totals":\\{"amount_vnd":${BIG_TOTAL},`));
  assert.match(text, new RegExp(`"plan":\\{"year":2024,"months":\\{"from":1,"to":12\\},"totals":\\{"amount_vnd":${MAX63},`));

  browser = await chromium.launch({ executablePath: chromiumBin, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: 'vi-VN' });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  page.setDefaultTimeout(30000);
  await page.goto(new URL('/?' + q, base).toString());
  await page.waitForSelector('body[data-ready]');
  assert.equal(await page.isHidden('#error'), true, `no error box: ${await page.textContent('#error')}`);

  // the region's total, exact, in the table, the KPI and the data attributes
  assert.equal(await page.getAttribute('#province-total', 'data-amount'), BIG_TOTAL);
  assert.equal(await page.getAttribute('#province-total', 'data-plan'), MAX63);
  assert.equal(await page.getAttribute('#province-total', 'data-percent'), '100');
  assert.equal((await page.textContent('#pt-amount')).trim(), '9.223.372.036.854.775.812 đ');
  assert.equal((await page.textContent('#pt-plan')).trim(), '9.223.372.036.854.775.807 đ');
  assert.equal(await page.getAttribute('#kpi-amount', 'data-value'), BIG_TOTAL);
  assert.equal((await page.textContent('#kpi-amount-value')).trim(), '9.223.372.036,85 tỷ đồng');
  assert.equal((await page.textContent('#kpi-amount-sub')).trim(), '9.223.372.036.854.775.812 đ');
  const rows = await page.$$eval('#province-table tbody tr', (trs) => trs.map((tr) => ({ ...tr.dataset, text: tr.textContent })));
  const r79 = rows.find((r) => r.code === '79');
  const r80 = rows.find((r) => r.code === '80');
  assert.equal(r79.amount, MAX63);
  assert.ok(r79.text.includes('9.223.372.036.854.775.807 đ'), r79.text);
  assert.equal(r80.amount, '5');
  assert.equal(BigInt(r79.amount) + BigInt(r80.amount), BigInt(BIG_TOTAL), 'rows add up to the region, exactly');
  // the months against 2023, and the activities
  const months = await page.$$eval('#month-table tbody tr', (trs) => trs.map((tr) => ({ ...tr.dataset, text: tr.textContent })));
  const m3 = months.find((m) => m.month === '3');
  assert.equal(m3.amount, MAX63);
  assert.equal(m3.previous, String(2n ** 62n));
  assert.ok(m3.text.includes('+100 %'), m3.text); // (2^63-1 - 2^62) / 2^62, one decimal
  const acts = await page.$$eval('#activity-table tbody tr', (trs) => trs.map((tr) => ({ ...tr.dataset })));
  assert.equal(acts.reduce((s, a) => s + BigInt(a.amount), 0n), BigInt(BIG_TOTAL));
  // the charts draw the same figures (as doubles)
  const chartMax = await page.evaluate(() => Math.max(...window.Chart.getChart('chart-provinces').data.datasets[0].data));
  assert.equal(chartMax, Number(MAX63));
  await page.screenshot({ path: shot, fullPage: true });

  // English
  const renders = Number(await page.getAttribute('body', 'data-renders'));
  await page.click('#lang-toggle');
  await page.waitForSelector('body[data-lang="en"]');
  await page.waitForFunction((n) => Number(document.body.dataset.renders) > n, renders);
  assert.equal((await page.textContent('#pt-amount')).trim(), '9,223,372,036,854,775,812 VND');
  assert.equal((await page.textContent('#kpi-amount-value')).trim(), '9,223,372,036.85 billion VND');
  assert.deepEqual(pageErrors, [], 'no script errors in the page');
  step('big figures shown exactly');

  await browser.close();
  browser = null;
  process.kill(agg.pid, 'SIGTERM');
  assert.ok(await waitExit(agg, 20000), 'kc-aggregator exits within 20 s of SIGTERM');
  assert.equal(agg.exitCode, 0, `kc-aggregator exit status\n${fs.readFileSync(aggLog, 'utf8')}`);
  fs.rmSync(work, { recursive: true, force: true });
});
