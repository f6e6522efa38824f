// kc-office, the field-office portal, in headless Chromium (issue 17's acceptance).
//
// Real processes, started here on 127.0.0.1 and stopped by pid: a kc-aggregator (ingest
// and HTTP API on ports chosen by the system, read from its --ready-file) and a kc-office
// (port 0, --ready-file) serving two offices, hcm (79) and hn (01), each sending to that
// aggregator with its own producer and spool; users added with `kc-office user add
// --password-stdin`. The spreadsheets are written by Debian's /usr/bin/python3 with openpyxl.
// The browser is Debian's chromium driven by playwright-core from tests/web/node_modules,
// as tests/web/dashboard.test.mjs does.
//
// A clerk of hcm, in the Vietnamese UI: signs in; uploads an xlsx with errors (the preview
// shows every row with the import layer's Vietnamese messages and hints, and the portal's own
// rule for a province of another office; no "send all", only "send the valid rows"); uploads
// the fixed file and sends it; the submission page refreshes itself until every row is
// accepted (waits have deadlines, never sleeps); corrects one row (the form prefilled, a value
// changed; the correction accepted, the original shown superseded by it); retracts another
// (a confirmation page; the original shown retracted). Then the centre is killed (SIGKILL) and
// a second file is sent: the rows are safe in the spool and the "centre unreachable" banner
// with their number appears on the next load; the aggregator is started again on the same
// store and ports and the rows become accepted with no click. The centre's kc-query and its
// /v1/totals then show exactly the totals of what was sent (a model of the rows: the
// correction's values replace the original's, the retracted row counts nothing, the file
// with errors nothing). A clerk of hn sees 404 for hcm's submission, only 01 in the entry
// form's provinces, and a crafted POST of 79 is 403 with nothing recorded. A form whose
// hidden CSRF field was altered is refused (403) with nothing recorded; five wrong passwords
// lock the user out (429 and the message, even with the right password). No page causes a
// console error or a Content-Security-Policy violation, except the expected "failed to load"
// of the 4xx answers asked for on purpose. Every HTML answer carries the security headers.
//
// Screenshots (Vietnamese, 1280x800 viewport) of the upload preview with its errors, the
// submission page after correct and retract, and the correction form: written to
// KC_SCREENSHOT_DIR as office-preview.png, office-submissions.png, office-correction.png,
// and copied to KC_OFFICE_DOCS_IMG when that is set (docs/img: see docs/OFFICE.md).
//
// Environment (set by tests/office/CMakeLists.txt): KC_BIN_DIR, KC_LOCALEDIR, KC_CHROMIUM,
// KC_SCREENSHOT_DIR, KC_WORK_DIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '../web');
const env = (k, dflt) => {
  const v = process.env[k] || dflt;
  if (!v) throw new Error(`${k} is not set (run through ctest: tests/office/CMakeLists.txt)`);
  return v;
};

const PYTHON = '/usr/bin/python3'; // Debian's, with python3-openpyxl
const PASSWORD = 'mật-khẩu-đúng-1';
const YEAR = 2026;
const WAIT_MS = 60000; // every wait on a page or a process has this deadline at most

async function loadPlaywright() {
  const pw = path.join(webDir, 'node_modules', 'playwright-core');
  if (!fs.existsSync(pw)) {
    throw new Error('tests/web/node_modules/playwright-core is missing: run scripts/install-deps ' +
      '(it runs: npm ci --prefix tests/web)');
  }
  return import(pathToFileURL(path.join(pw, 'index.mjs')).href);
}

const t0 = Date.now();
const step = (s) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A bounded poll of a condition that is not a page's (a file, a process).
async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const exited = (child) => child.exitCode !== null || child.signalCode !== null;

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

// SIGTERM, then the exit status (0 required: a leak under the sanitizer build is not 0).
async function stop(child, name, log) {
  if (!child || exited(child)) return;
  process.kill(child.pid, 'SIGTERM');
  if (!(await waitExit(child, 30000))) {
    process.kill(child.pid, 'SIGKILL');
    await waitExit(child, 5000);
    throw new Error(`${name} (pid ${child.pid}) ignored SIGTERM for 30 s`);
  }
  assert.equal(child.exitCode, 0, `${name} exited ${child.exitCode ?? child.signalCode} on SIGTERM\n` +
    (log ? fs.readFileSync(log, 'utf8').slice(-3000) : ''));
}

// ---- the spreadsheets and the model of what the centre must count ----

const HEADER = ['event_id', 'province', 'year', 'month', 'activity', 'kind', 'fund', 'amount_vnd',
  'persons', 'facilities', 'events'];

// The file the clerk sends in March, after fixing it: [event_id, province, year, month,
// activity (a code, a name or a Vietnamese label), kind, fund, amount, persons, facilities, events].
const GOOD = [
  ['HCM-2026-03-001', '79', YEAR, 3, 'vocational_training', 'actual', 'kcdp', 150000000, 35, null, null],
  ['HCM-2026-03-002', 'Hồ Chí Minh', YEAR, 3, 'KC3b', 'actual', 'kcdp', 200000000, null, 2, null],
  ['HCM-2026-03-003', '79', YEAR, 3, 'Hội chợ, triển lãm', 'actual', 'kcqg', 50000000, null, null, 1],
];
// The same month as first typed: a misspelt activity, a number with letters, a province of
// another office, an event_id used twice.
const BAD = [
  GOOD[0],
  ['HCM-2026-03-002', '79', YEAR, 3, 'machinary', 'actual', 'kcdp', 200000000, null, 2, null],
  ['HCM-2026-03-003', '79', YEAR, 3, 'KC4b', 'actual', 'kcqg', '50tr', null, null, 1],
  ['HCM-2026-03-004', '01', YEAR, 3, 'KC3b', 'actual', 'kcdp', 10000000, null, 1, null],
  ['HCM-2026-03-001', '79', YEAR, 3, 'KC3b', 'actual', 'kcdp', 5000000, null, 1, null],
];
// April's file, sent while the centre is down.
const APRIL = [
  ['HCM-2026-04-001', '79', YEAR, 4, 'KC3b', 'actual', 'kcdp', 300000000, null, 4, null],
  ['HCM-2026-04-002', '79', YEAR, 4, 'KC1', 'actual', 'kcdp', 80000000, 20, null, null],
];
const ACTIVITY = { vocational_training: 'KC1', KC1: 'KC1', KC3b: 'KC3b', 'Hội chợ, triển lãm': 'KC4b' };
const METRICS = { 7: 'amount_vnd', 8: 'persons', 9: 'facilities', 10: 'events' };

// event_id -> { activity, metrics } of a row as sent
function modelRow(r) {
  const metrics = {};
  for (const [i, m] of Object.entries(METRICS)) if (r[i] !== null) metrics[m] = BigInt(r[i]);
  return { activity: ACTIVITY[r[4]], month: r[3], metrics };
}

// Totals of the live events: { events, totals: {metric: BigInt}, byActivity: {code: {...}} }
function modelTotals(live) {
  const out = { events: 0, totals: {}, byActivity: {} };
  for (const e of live.values()) {
    out.events++;
    const a = (out.byActivity[e.activity] ??= { events: 0, totals: {} });
    a.events++;
    for (const [m, v] of Object.entries(e.metrics)) {
      out.totals[m] = (out.totals[m] ?? 0n) + v;
      a.totals[m] = (a.totals[m] ?? 0n) + v;
    }
  }
  return out;
}

// An xlsx written by openpyxl (sheet "Báo cáo", the header, the rows).
const WRITE_XLSX = `
import json, sys, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Báo cáo"
for r in json.loads(sys.argv[2]):
    ws.append(r)
wb.save(sys.argv[1])
`;

function writeXlsx(file, rows) {
  const r = spawnSync(PYTHON, ['-c', WRITE_XLSX, file, JSON.stringify([HEADER, ...rows])],
    { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `openpyxl writing ${file}: exit ${r.status ?? r.signal}\n${r.stderr}`);
}

// ---- the processes ----

// kc-aggregator on 127.0.0.1; ports 0 (chosen by the system) or the ones given; returns
// { proc, endpoint, http, log }.
async function startAggregator(bin, work, store, ports) {
  const ready = path.join(work, 'agg.ready');
  fs.rmSync(ready, { force: true });
  const log = path.join(work, 'aggregator.log');
  const proc = spawn(bin, ['--no-config', '--listen', `tcp://127.0.0.1:${ports ? ports.ingest : 0}`,
    '--http', `127.0.0.1:${ports ? ports.http : 0}`, '--store', store, '--ready-file', ready,
    '--log-level', 'warn'], { stdio: ['ignore', 'ignore', fs.openSync(log, 'a')] });
  const lines = await until('the aggregator\'s ready file with an http line', () => {
    if (exited(proc)) {
      throw new Error(`kc-aggregator exited (${proc.exitCode ?? proc.signalCode}):\n${fs.readFileSync(log, 'utf8')}`);
    }
    if (!fs.existsSync(ready)) return null;
    const l = fs.readFileSync(ready, 'utf8').split('\n');
    return l[0].startsWith('tcp://') && l.some((x) => x.startsWith('http ')) ? l : null;
  }, 30000);
  const endpoint = lines[0].trim();
  const http = lines.find((x) => x.startsWith('http ')).slice(5).trim();
  return { proc, endpoint, http, log };
}

function officeConf(work, endpoint) {
  const conf = path.join(work, 'office.conf');
  fs.writeFileSync(conf, [
    '# kc-office browser test configuration',
    'office = hcm:79:Sở Công Thương TP. Hồ Chí Minh',
    `office-centre = hcm=${endpoint}`,
    `office-spool = hcm=${path.join(work, 'spool-hcm')}`,
    'office-producer = hcm=office-hcm',
    'office = hn:01:Sở Công Thương Hà Nội',
    `office-centre = hn=${endpoint}`,
    `office-spool = hn=${path.join(work, 'spool-hn')}`,
    'office-producer = hn=office-hn',
    `data = ${path.join(work, 'data')}`,
    '',
  ].join('\n'));
  return conf;
}

function addUser(bin, conf, office, user) {
  const r = spawnSync(bin, ['--config', conf, 'user', 'add', '--office', office, '--user', user,
    '--password-stdin'], { input: `${PASSWORD}\n`, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `kc-office user add ${office}/${user}: exit ${r.status ?? r.signal}\n${r.stderr}`);
}

async function startOffice(bin, work, conf) {
  const ready = path.join(work, 'office.ready');
  const log = path.join(work, 'office.log');
  const proc = spawn(bin, ['--config', conf, '--listen', '127.0.0.1:0', '--ready-file', ready],
    { stdio: ['ignore', fs.openSync(log, 'a'), fs.openSync(log, 'a')] });
  const url = await until('kc-office\'s ready file', () => {
    if (exited(proc)) {
      throw new Error(`kc-office exited (${proc.exitCode ?? proc.signalCode}):\n${fs.readFileSync(log, 'utf8')}`);
    }
    return fs.existsSync(ready) ? fs.readFileSync(ready, 'utf8').trim() : null;
  }, 30000);
  return { proc, url, log };
}

// kc-query's JSON answer on the centre's store (read-only; safe while the aggregator runs).
function kcQuery(bin, store, ...args) {
  const r = spawnSync(bin, ['--no-config', '--store', store, '--format', 'json', ...args],
    { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `kc-query ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

// The security headers of every answer of the portal.
function checkHeaders(headers, what) {
  const csp = headers['content-security-policy'] || '';
  for (const part of ["default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"]) {
    assert.ok(csp.includes(part), `${what}: CSP ${csp} lacks ${part}`);
  }
  assert.doesNotMatch(csp, /unsafe-|script-src/, `${what}: CSP ${csp}`);
  assert.equal(headers['x-frame-options'], 'DENY', what);
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['referrer-policy'], 'no-referrer', what);
}

// ---- the test ----

test('kc-office in a browser: upload, preview, send, follow, correct, retract, outage, offices, security',
  { timeout: 300000 }, async (t) => {
    const { chromium } = await loadPlaywright();
    const binDir = env('KC_BIN_DIR');
    const bins = Object.fromEntries(['kc-aggregator', 'kc-office', 'kc-query'].map((n) => [n, path.join(binDir, n)]));
    const chromiumBin = env('KC_CHROMIUM', '/usr/bin/chromium');
    const shotDir = env('KC_SCREENSHOT_DIR', process.cwd());
    const workRoot = env('KC_WORK_DIR', process.cwd());
    env('KC_LOCALEDIR'); // the Vietnamese messages of the import layer: the build tree's catalogue
    for (const [what, f] of [...Object.entries(bins), ['chromium', chromiumBin], ['python', PYTHON]]) {
      assert.ok(fs.existsSync(f), `${what} not found at ${f}${what === 'chromium' ? ' (scripts/install-deps installs chromium)' : ''}`);
    }
    fs.mkdirSync(workRoot, { recursive: true });
    fs.mkdirSync(shotDir, { recursive: true });
    const work = fs.mkdtempSync(path.join(workRoot, 'office-browser-'));
    const store = path.join(work, 'store');
    let agg = null;
    let office = null;
    let browser = null;
    t.after(async () => {
      if (browser) await browser.close().catch(() => {});
      for (const p of [office?.proc, agg?.proc]) {
        if (p && !exited(p)) {
          process.kill(p.pid, 'SIGKILL');
          await waitExit(p, 5000);
        }
      }
      if (fs.existsSync(work)) process.stderr.write(`work directory kept (logs): ${work}\n`);
    });

    // 1. the spreadsheets, the centre, the portal and its users
    const files = { bad: path.join(work, 'bao-cao-thang-3.xlsx'), good: path.join(work, 'bao-cao-thang-3-da-sua.xlsx'),
      april: path.join(work, 'bao-cao-thang-4.xlsx') };
    writeXlsx(files.bad, BAD);
    writeXlsx(files.good, GOOD);
    writeXlsx(files.april, APRIL);
    agg = await startAggregator(bins['kc-aggregator'], work, store, null);
    const ports = { ingest: Number(new URL(agg.endpoint.replace('tcp:', 'http:')).port), http: Number(new URL(agg.http).port) };
    const conf = officeConf(work, agg.endpoint);
    addUser(bins['kc-office'], conf, 'hcm', 'lan');
    addUser(bins['kc-office'], conf, 'hcm', 'binh');
    addUser(bins['kc-office'], conf, 'hn', 'minh');
    office = await startOffice(bins['kc-office'], work, conf);
    const base = office.url;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const url = (p) => new URL(p, base).toString();
    step(`kc-aggregator ${agg.endpoint} ${agg.http}, kc-office ${base}`);

    // 2. the browser: every page watched for script errors, console errors and CSP violations
    browser = await chromium.launch({ executablePath: chromiumBin, args: ['--no-sandbox', '--disable-gpu'] });
    const problems = [];
    const expectedStatus = new Set(); // "STATUS PATH" of the 4xx answers asked for on purpose
    const expectedSeen = []; // the console errors of those answers (Chromium logs them)
    const htmlPages = new Set();
    async function newPage() {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'vi-VN' });
      const page = await ctx.newPage();
      page.setDefaultTimeout(WAIT_MS);
      page.on('pageerror', (e) => problems.push(`pageerror ${page.url()}: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        const st = /the server responded with a status of (\d+)/.exec(m.text());
        const u = m.location()?.url ? new URL(m.location().url) : null;
        if (st && u && expectedStatus.has(`${st[1]} ${u.pathname}`)) return void expectedSeen.push(m.text());
        problems.push(`console ${page.url()}: ${m.text()}`);
      });
      page.on('response', (r) => {
        const u = new URL(r.url());
        if (u.origin !== new URL(base).origin) return;
        try {
          checkHeaders(r.headers(), `${r.request().method()} ${u.pathname}`);
        } catch (e) {
          problems.push(`headers: ${e.message}`);
        }
        if ((r.headers()['content-type'] || '').startsWith('text/html')) htmlPages.add(u.pathname);
      });
      // a violation of the CSP the server sends, reported out of the page (an exposed binding:
      // it outlives navigations and is not subject to the page's CSP)
      await page.exposeBinding('__kcCsp', (src, v) => problems.push(`CSP ${src.frame.url()}: ${v}`));
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) =>
          window.__kcCsp(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
      });
      return page;
    }
    const text = async (page, sel) => (await page.textContent(sel)).replace(/\s+/g, ' ').trim();
    async function signIn(page, officeId, user, password = PASSWORD) {
      await page.goto(url('/login'));
      await page.selectOption('#office', officeId);
      await page.fill('#user', user);
      await page.fill('#password', password);
      const [resp] = await Promise.all([page.waitForNavigation(), page.click('form[action="/login"] button[type=submit]')]);
      return resp;
    }
    // the submission page refreshes itself (meta refresh, 5 s) while a row is not final: wait
    // on the page, across its reloads, until no row is pending
    async function waitFinal(page, what) {
      await page.waitForSelector('#rows:not(:has(tr[data-state="spooled"], tr[data-state="sent"]))',
        { timeout: WAIT_MS }).catch((e) => {
        throw new Error(`${what}: rows not final within ${WAIT_MS} ms (${page.url()}): ${e.message}`);
      });
      assert.equal(await page.$('#refreshing'), null, `${what}: a final page still says it refreshes`);
      return page.$$eval('#rows tbody tr', (trs) => trs.map((tr) => ({
        id: tr.id, state: tr.dataset.state, eventId: tr.querySelector('code.event-id')?.textContent,
        text: tr.textContent.replace(/\s+/g, ' ').trim() })));
    }
    const subOf = (page) => {
      const m = /\/submissions\/(\d+)$/.exec(new URL(page.url()).pathname);
      assert.ok(m, `not a submission page: ${page.url()}`);
      return Number(m[1]);
    };
    async function upload(page, file) {
      await page.goto(url('/upload'));
      await page.setInputFiles('#file', file);
      await Promise.all([page.waitForURL(/\/upload\/[0-9a-f]{32}$/), page.click('.upload-form button[type=submit]')]);
    }

    // 3. sign in, in Vietnamese
    const page = await newPage();
    await page.goto(url('/'));
    assert.equal(new URL(page.url()).pathname, '/login', 'not signed in: the sign-in page');
    assert.equal(await page.getAttribute('html', 'lang'), 'vi');
    assert.equal(await text(page, '#signin-title'), 'Đăng nhập');
    await signIn(page, 'hcm', 'lan');
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(await text(page, '#user-name'), 'lan');
    assert.equal(await text(page, '#office-name'), 'Sở Công Thương TP. Hồ Chí Minh');
    const cookies = await page.context().cookies();
    const sess = cookies.find((c) => c.name === 'kc_session');
    assert.ok(sess && sess.httpOnly && sess.sameSite === 'Strict', `session cookie ${JSON.stringify(sess)}`);
    step('signed in as hcm/lan');

    // 4. the file with errors: every row with its problems and hints, no "send all"
    await upload(page, files.bad);
    assert.equal(await text(page, '#counts'), '1 dòng hợp lệ, 4 dòng có lỗi');
    assert.equal(await page.$('#send-all'), null, 'a file with errors offers "send all"');
    assert.match(await text(page, '#send-valid'), /^Chỉ gửi 1 dòng hợp lệ/);
    assert.equal(await text(page, '#file-name'), path.basename(files.bad));
    const prev = Object.fromEntries(await page.$$eval('#rows tbody tr', (trs) =>
      trs.map((tr) => [tr.id, { cls: tr.className, text: tr.textContent.replace(/\s+/g, ' ') }])));
    assert.deepEqual(Object.keys(prev), ['row-2', 'row-3', 'row-4', 'row-5', 'row-6']);
    assert.equal(prev['row-2'].cls, 'good');
    for (const r of ['row-3', 'row-4', 'row-5', 'row-6']) assert.equal(prev[r].cls, 'bad', r);
    // the import layer's messages in Vietnamese, each naming where and saying what to do
    assert.ok(prev['row-3'].text.includes("không có hoạt động 'machinary'"), prev['row-3'].text);
    assert.ok(prev['row-3'].text.includes(`${path.basename(files.bad)} [Báo cáo] dòng 3, cột E (activity)`), prev['row-3'].text);
    assert.ok(prev['row-4'].text.includes('không phải là số') && prev['row-4'].text.includes('chỉ ghi chữ số'), prev['row-4'].text);
    assert.ok(prev['row-5'].text.includes('tỉnh 01 (Hà Nội) không thuộc đơn vị của bạn'), prev['row-5'].text);
    assert.ok(prev['row-6'].text.includes('mã sự kiện HCM-2026-03-001 đã có ở dòng 2'), prev['row-6'].text);
    await page.screenshot({ path: path.join(shotDir, 'office-preview.png'), fullPage: true });
    step('preview of the file with errors: Vietnamese problems and hints, no send-all');

    // 5. the fixed file: previewed clean, sent, every row accepted by the centre
    await upload(page, files.good);
    assert.equal(await text(page, '#counts'), '3 dòng hợp lệ, 0 dòng có lỗi');
    assert.equal(await page.$('#send-valid'), null);
    await Promise.all([page.waitForURL(/\/submissions\/\d+$/), page.click('#send-all')]);
    const subGood = subOf(page);
    let rows = await waitFinal(page, 'the fixed file');
    assert.deepEqual(rows.map((r) => [r.eventId, r.state]), GOOD.map((r) => [r[0], 'accepted']));
    assert.equal(await page.$('#centre-banner'), null, 'a banner while the centre is up');
    const live = new Map(GOOD.map((r) => [r[0], modelRow(r)]));
    step(`submission ${subGood}: ${rows.length} rows accepted`);

    // 6. correct row 0: the form prefilled with its values; a new amount; the original superseded
    await Promise.all([page.waitForURL(/\/entry\?correct=/), page.click('#correct-0')]);
    assert.match(await text(page, '#correcting'), /HCM-2026-03-001/);
    assert.equal(await page.inputValue('#province'), '79');
    assert.equal(await page.inputValue('#year'), String(YEAR));
    assert.equal(await page.inputValue('#month'), '3');
    assert.equal(await page.inputValue('#m_amount_vnd'), '150000000');
    assert.equal(await page.inputValue('#m_persons'), '35');
    assert.equal(await page.inputValue('#fund'), 'kcdp');
    const corrId = await page.inputValue('#event_id');
    assert.ok(corrId && corrId !== 'HCM-2026-03-001', `the correction's event_id ${corrId}`);
    await page.fill('#m_amount_vnd', '180.000.000');
    await page.screenshot({ path: path.join(shotDir, 'office-correction.png') });
    await Promise.all([page.waitForURL(/\/submissions\/\d+$/), page.click('#send')]);
    rows = await waitFinal(page, 'the correction');
    assert.deepEqual(rows.map((r) => [r.eventId, r.state]), [[corrId, 'accepted']]);
    assert.equal(await text(page, 'code.corrects'), 'HCM-2026-03-001');
    live.set('HCM-2026-03-001', { ...live.get('HCM-2026-03-001'), metrics: { amount_vnd: 180000000n, persons: 35n } });
    await page.goto(url(`/submissions/${subGood}`));
    assert.equal(await text(page, '#row-0 .superseded code'), corrId);
    assert.equal(await page.$('#correct-0'), null, 'a superseded row still offers a correction');
    step(`row 0 corrected by ${corrId}`);

    // 7. retract row 1 after the confirmation page
    await Promise.all([page.waitForURL(/\/retract\/\d+-1$/), page.click('#retract-1')]);
    assert.ok((await text(page, '#retract-row')).includes('HCM-2026-03-002'));
    await Promise.all([page.waitForURL(/\/submissions\/\d+$/), page.click('#retract')]);
    rows = await waitFinal(page, 'the retraction');
    assert.deepEqual(rows.map((r) => r.state), ['accepted']);
    const retrId = rows[0].eventId;
    live.delete('HCM-2026-03-002');
    await page.goto(url(`/submissions/${subGood}`));
    assert.equal(await text(page, '#row-1 .retracted code'), retrId);
    assert.ok((await text(page, '#row-1')).includes('Đã rút lại bởi'));
    assert.equal(await page.$('#retract-1'), null, 'a retracted row still offers a retraction');
    await page.screenshot({ path: path.join(shotDir, 'office-submissions.png') });
    step(`row 1 retracted by ${retrId}`);

    // 8. the centre stops during a send: the banner; started again: accepted with no click
    await upload(page, files.april);
    assert.equal(await text(page, '#counts'), '2 dòng hợp lệ, 0 dòng có lỗi');
    process.kill(agg.proc.pid, 'SIGKILL');
    assert.ok(await waitExit(agg.proc, 10000), 'kc-aggregator gone after SIGKILL');
    await Promise.all([page.waitForURL(/\/submissions\/\d+$/), page.click('#send-all')]);
    const subApril = subOf(page);
    await page.waitForSelector('#centre-banner', { timeout: WAIT_MS }).catch((e) => {
      throw new Error(`no "centre unreachable" banner within ${WAIT_MS} ms with the centre down (${page.url()}): ${e.message}`);
    });
    const banner = await text(page, '#centre-banner');
    assert.match(banner, /^Chưa kết nối được với trung tâm\. 2 dòng đã được lưu an toàn và sẽ tự động gửi khi kết nối lại/);
    assert.deepEqual(await page.$$eval('#rows tbody tr', (trs) => trs.map((tr) => tr.dataset.state).filter((s) => s !== 'spooled' && s !== 'sent')), []);
    for (const p of ['/', '/submissions']) { // on every page of the office
      await page.goto(url(p));
      assert.equal(await text(page, '#centre-banner'), banner, `the banner on ${p}`);
    }
    step(`centre killed: submission ${subApril} spooled, banner shown`);
    agg = await startAggregator(bins['kc-aggregator'], work, store, ports);
    assert.equal(agg.endpoint, `tcp://127.0.0.1:${ports.ingest}`);
    await page.goto(url(`/submissions/${subApril}`));
    rows = await waitFinal(page, 'the rows sent while the centre was down');
    assert.deepEqual(rows.map((r) => [r.eventId, r.state]), APRIL.map((r) => [r[0], 'accepted']));
    assert.equal(await page.$('#centre-banner'), null, 'the banner stays after delivery');
    for (const r of APRIL) live.set(r[0], modelRow(r));
    step('centre started again: the rows accepted without a click, banner gone');

    // 9. the centre's totals are exactly the model's
    const want = modelTotals(live);
    const q = kcQuery(bins['kc-query'], store, '--year', String(YEAR), '--months', '3-4', '--province', '79', '--by', 'activity');
    const api = await (await fetch(new URL(`/v1/totals?year=${YEAR}&months=3-4&province=79&by=activity`, agg.http))).json();
    for (const [who, d] of [['kc-query', q], ['/v1/totals', api]]) {
      const nonZero = (tot) => Object.fromEntries(Object.entries(tot).filter(([, v]) => BigInt(v) !== 0n).map(([k, v]) => [k, BigInt(v)]));
      assert.equal(d.events, want.events, `${who}: events\n${JSON.stringify(d).slice(0, 1500)}`);
      assert.deepEqual(nonZero(d.totals), want.totals, `${who}: totals`);
      const byAct = Object.fromEntries(d.rows.filter((r) => r.events).map((r) => [r.key, { events: r.events, totals: nonZero(r.totals) }]));
      assert.deepEqual(byAct, want.byActivity, `${who}: by activity`);
    }
    // the other office's province and the other months hold nothing
    assert.equal(kcQuery(bins['kc-query'], store, '--year', String(YEAR), '--province', '01').events, 0);
    assert.equal(kcQuery(bins['kc-query'], store, '--year', String(YEAR), '--months', '1-12', '--province', '79').events, want.events);
    step(`centre totals exact: ${want.events} events, amount ${want.totals.amount_vnd}`);

    // 10. a form whose hidden CSRF field was altered: 403, nothing recorded
    const countSubs = async (p) => {
      await p.goto(url('/submissions'));
      return (await p.$$('#subs tbody tr')).length;
    };
    const nSubs = await countSubs(page);
    await page.goto(url('/entry?activity=KC3b'));
    await page.fill('#m_amount_vnd', '1000000');
    await page.$eval('#entry-form input[name=csrf]', (e) => { e.value = e.value.replace(/^./, (c) => (c === '0' ? '1' : '0')); });
    expectedStatus.add('403 /entry');
    const [csrfResp] = await Promise.all([page.waitForNavigation(), page.click('#send')]);
    assert.equal(csrfResp.status(), 403, 'an altered CSRF token');
    assert.match(await text(page, '.alert'), /CSRF/);
    assert.equal(await countSubs(page), nSubs, 'a CSRF-refused form was recorded');
    step('altered CSRF token refused');

    // 11. another office's clerk: 404 for hcm's submissions, only its provinces, a crafted POST 403
    const hn = await newPage();
    await signIn(hn, 'hn', 'minh');
    assert.equal(await text(hn, '#user-name'), 'minh');
    for (const p of [`/submissions/${subGood}`, `/submissions/${subApril}`, `/entry?correct=${subGood}-2`, `/retract/${subGood}-2`]) {
      expectedStatus.add(`404 ${p.split('?')[0]}`);
      const r = await hn.goto(url(p));
      assert.equal(r.status(), 404, `hn opens ${p}`);
    }
    assert.equal(await countSubs(hn), 0);
    assert.ok(await hn.$('#no-subs'), "hn's list is not empty");
    await hn.goto(url('/entry?activity=KC3b'));
    assert.deepEqual(await hn.$$eval('#province option', (os) => os.map((o) => o.value)), ['01']);
    const form = await hn.$$eval('#entry-form input, #entry-form select, #entry-form textarea', (es) =>
      Object.fromEntries(es.filter((e) => e.name).map((e) => [e.name, e.value])));
    const crafted = await hn.request.post(url('/entry'), { form: { ...form, province: '79', m_amount_vnd: '5000000' }, maxRedirects: 0 });
    assert.equal(crafted.status(), 403, `hn posts province 79: ${crafted.status()}`);
    const craftedOwn = await hn.request.post(url('/entry'), { form: { ...form, csrf: '0'.repeat(64), m_amount_vnd: '5000000' }, maxRedirects: 0 });
    assert.equal(craftedOwn.status(), 403, `a POST with a wrong CSRF token: ${craftedOwn.status()}`);
    assert.equal(await countSubs(hn), 0, "hn's refused POSTs were recorded");
    step('hn: 404, own provinces only, crafted POST 403');

    // 12. sign-in throttling: five wrong passwords, then even the right one is refused (429)
    const thr = await newPage();
    for (let i = 1; i <= 5; i++) {
      expectedStatus.add('401 /login');
      const r = await signIn(thr, 'hcm', 'binh', `sai-mật-khẩu-${i}`);
      assert.equal(r.status(), 401, `wrong password ${i}`);
      assert.equal(await text(thr, '.alert'), 'Sai tên đăng nhập hoặc mật khẩu. Hãy kiểm tra lại và thử lần nữa.');
    }
    expectedStatus.add('429 /login');
    const locked = await signIn(thr, 'hcm', 'binh');
    assert.equal(locked.status(), 429, 'the sixth sign-in');
    assert.match(await text(thr, '.alert'), /^Đăng nhập sai quá nhiều lần\. Hãy thử lại sau \d+ giây\.$/);
    assert.ok(Number(locked.headers()['retry-after']) > 0, 'Retry-After');
    assert.equal((await thr.context().cookies()).some((c) => c.name === 'kc_session'), false, 'a session after throttling');
    step(`throttled after five wrong passwords (${expectedSeen.length} expected 4xx console lines)`);

    // 13. no script error, console error or CSP violation on any page; and the watch works:
    // an inline script injected into a page is blocked by the CSP and reported
    assert.deepEqual(problems, [], 'console errors or CSP violations');
    await page.goto(url('/'));
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true;';
      document.body.appendChild(s);
    });
    await until('the injected inline script reported as a CSP violation', () => problems.some((p) => p.startsWith('CSP ')), 5000);
    assert.equal(await page.evaluate(() => window.__inlineRan === true), false, 'an inline script ran despite the CSP');
    assert.match(problems.find((p) => p.startsWith('CSP ')), /script-src/);
    for (const p of ['/login', '/', '/upload', '/entry', '/submissions']) assert.ok(htmlPages.has(p), `${p} was checked`);
    await browser.close();
    browser = null;

    await stop(office.proc, 'kc-office', office.log);
    await stop(agg.proc, 'kc-aggregator', agg.log);
    const docs = process.env.KC_OFFICE_DOCS_IMG;
    for (const n of ['office-preview.png', 'office-submissions.png', 'office-correction.png']) {
      const f = path.join(shotDir, n);
      assert.ok(fs.statSync(f).size > 10000, `${f} is a screenshot`);
      if (docs) fs.copyFileSync(f, path.join(docs, n));
    }
    fs.rmSync(work, { recursive: true, force: true });
    process.stdout.write(`screenshots in ${shotDir}${docs ? `, copied to ${docs}` : ''}\n`);
  });
