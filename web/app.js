/* kcpipe dashboard: regional totals against plan, the month series against
 * the previous year, the activity breakdown and the provinces' last reports,
 * from the aggregator's read-only API (/v1, aggregator/kc_http.h). Live:
 * polls /v1/status every 2 s and reloads when its seq changed.
 * For tests: after every render body[data-ready] = the seq the data was
 * loaded at, body[data-query] = the /v1/totals query string of the render;
 * the figures are in #province-table (tr[data-code][data-amount][data-plan]
 * ...), #province-total, #kpi-*[data-value], #month-table, #activity-table.
 * Figures are exact integers of any size (the API's sums are 128-bit, issue
 * 12): JSON is parsed with a reviver that turns an integer beyond
 * Number.MAX_SAFE_INTEGER into a BigInt from its source text, and every figure
 * shown or put in a data-* attribute is formatted from that exact value; only
 * the charts draw a Number approximation.
 * Downloads (issue 16): the whole report for the current filters (region,
 * year, months, units, language) as xlsx, PDF or CSV is a plain link to
 * /v1/report (the code of kc-report --format; the server names the file),
 * and so is each panel that shows one of the report's tables: the KPIs
 * (table=summary), the province chart and table (table=provinces), the
 * activities (table=activities). A panel no report table corresponds to
 * (the months against the previous year, the rejected rows) downloads a CSV
 * the page writes from the data it shows: UTF-8 with a BOM, the headers in the
 * page's language, figures as exact integers without separators, a percent
 * with a decimal point, text cells that start with = + - @ prefixed with '
 * (no formula runs when a spreadsheet opens it), CRLF lines.
 * Rejected rows: /v1/rejects (every poll, limit REJECTS_FETCH), kept when the
 * province is one of the region's (either scheme) or none/unknown, newest
 * first, REJECTS_SHOWN at most, with a "more" line; for tests
 * body[data-rejects] = the number of rows shown after each render of it.
 * Completeness (issue 18, docs/CYCLE.md): /v1/completeness for the same
 * filters (region, year, months, units), loaded with the figures (so when the
 * seq changes: a period passing its deadline shows as missing at the next log
 * entry or reload), as a province x month grid #cmp-table (td[data-state],
 * class cmp-<state>: a colour, a symbol and the label, never colour alone),
 * a legend, the late and missing counts (#completeness[data-late]
 * [data-missing]) and a CSV the page writes; body[data-cmp] = its rows.
 * No dependencies but Chart.js (embedded, /assets/chart.min.js). */
'use strict';

(function () {
  const POLL_MS = 2000;
  const FETCH_TIMEOUT_MS = 8000;
  const REGIONS = ['north', 'central_highlands', 'south'];
  const REJECTS_FETCH = 200;
  const REJECTS_SHOWN = 20;

  const I18N = {
    vi: {
      locale: 'vi-VN',
      doc_title: 'Giám sát khuyến công — kcpipe',
      skip: 'Chuyển đến nội dung',
      title: 'Giám sát khuyến công',
      subtitle: 'Báo cáo của các tỉnh theo thời gian thực',
      print: 'In trang',
      toggle: 'English',
      filters: 'Bộ lọc',
      region: 'Vùng',
      region_north: 'Miền Bắc',
      region_central_highlands: 'Miền Trung – Tây Nguyên',
      region_south: 'Miền Nam',
      year: 'Năm',
      months: 'Tháng',
      month_from: 'Từ tháng',
      month_to: 'Đến tháng',
      units: 'Đơn vị hành chính',
      units63: '63 tỉnh',
      units34: '34 tỉnh (sau 2025)',
      silent_after: 'Cảnh báo im lặng sau',
      m15: '15 phút', h1: '1 giờ', d1: '1 ngày', d7: '7 ngày', d30: '30 ngày',
      seq: 'Số thứ tự',
      updated: 'Cập nhật',
      conn_connecting: 'Đang kết nối…',
      conn_live: 'Trực tiếp',
      conn_retry: 'Đang kết nối lại…',
      conn_offline: 'Mất kết nối',
      summary: 'Tổng hợp',
      kpi_amount: 'Kinh phí đã chi',
      kpi_plan: 'Kế hoạch cả năm',
      kpi_reports: 'Tỉnh đã báo cáo',
      kpi_compare: (y) => `Cùng kỳ năm ${y}`,
      of_plan: (p) => `đạt ${p} kế hoạch`,
      no_plan: 'chưa có kế hoạch',
      vs_year: (p, y) => `${p} so với ${y}`,
      silent_count: (n) => (n ? `${n} tỉnh im lặng` : 'không tỉnh nào im lặng'),
      reports_events: (n) => `${n} báo cáo`,
      chart_provinces: 'Kinh phí thực hiện so với kế hoạch, theo tỉnh',
      note_provinces: 'Thực hiện các tháng đã chọn so với kế hoạch cả năm; nhãn: % kế hoạch.',
      chart_months: 'Theo tháng, so với năm trước',
      chart_activities: 'Kinh phí theo nội dung hoạt động',
      data_table: 'Bảng số liệu',
      month: 'Tháng',
      change: 'Thay đổi',
      activity: 'Nội dung',
      amount: 'Kinh phí',
      share: 'Tỷ trọng',
      reports: 'Báo cáo',
      table_provinces: 'Các tỉnh: số liệu và báo cáo gần nhất',
      silent: 'Im lặng',
      silent_note: (d) => `chưa báo cáo, hoặc báo cáo gần nhất đã quá ${d}`,
      code: 'Mã',
      province: 'Tỉnh, thành phố',
      plan: 'Kế hoạch năm',
      pct_plan: '% kế hoạch',
      last_report: 'Báo cáo gần nhất',
      never: 'chưa có',
      total_region: 'Tổng vùng',
      actual: 'Thực hiện',
      plan_year: 'Kế hoạch năm',
      billion: 'tỷ đồng',
      currency: 'đ',
      footer: 'Số liệu: kc-aggregator /v1 (chỉ đọc). Số tiền là số nguyên đồng.',
      month_short: (m) => `T${m}`,
      month_long: (m) => `Tháng ${m}`,
      period: (r, a, b, y, u) =>
        `${r} · ${a === b ? `tháng ${a}` : `tháng ${a}–${b}`}/${y} · ${u} tỉnh`,
      no_data: 'Chưa có số liệu cho lựa chọn này.',
      error: (m) => `Không tải được số liệu: ${m}`,
      chart_provinces_alt: (n, t, p) =>
        `Biểu đồ cột ngang: kinh phí thực hiện và kế hoạch năm của ${n} tỉnh; tổng ${t}, đạt ${p} kế hoạch. Số liệu chi tiết trong bảng các tỉnh.`,
      chart_months_alt: (y, p) => `Biểu đồ cột: kinh phí theo tháng năm ${y} so với năm ${p}. Số liệu trong bảng số liệu bên dưới.`,
      chart_activities_alt: 'Biểu đồ cột ngang: kinh phí theo nội dung hoạt động. Số liệu trong bảng số liệu bên dưới.',
      download_report: 'Tải báo cáo',
      dl_xlsx: 'Excel (.xlsx)',
      dl_pdf: 'PDF',
      dl_csv: 'CSV',
      dl_summary: 'Bảng tổng hợp (CSV)',
      dl_panel: 'Tải CSV',
      cmp_title: 'Tình hình báo cáo theo tháng',
      cmp_legend: 'Chú giải',
      cmp_states: { on_time: 'đúng hạn', late: 'trễ hạn', missing: 'quá hạn chưa báo cáo', not_due: 'chưa đến hạn',
        none: 'không áp dụng (đơn vị của sơ đồ khác)' },
      cmp_note: (d) => `Hạn nộp: ${d} ngày sau ngày cuối tháng, hết ngày theo giờ Việt Nam (docs/CYCLE.md).`,
      cmp_counts: (late, missing) => [['Trễ hạn', late], ['Quá hạn chưa báo cáo', missing]],
      cmp_empty: 'Không có đơn vị nào cho lựa chọn này.',
      cmp_error: (m) => `Không tải được tình hình báo cáo: ${m}`,
      cmp_caption: (p) => `Tình hình báo cáo của từng tỉnh theo tháng — ${p}`,
      cmp_cell: (name, month, state) => `${name}, ${month}: ${state}`,
      csv_cmp: ['Kỳ', 'Mã tỉnh', 'Tỉnh, thành phố', 'Mã trạng thái', 'Trạng thái', 'Thời gian báo cáo', 'Hạn nộp'],
      rejects_title: 'Dòng bị từ chối',
      rejects_note: 'Các dòng trung tâm không tính, của các tỉnh trong vùng và các mã tỉnh không xác định; mới nhất trước.',
      rejects_empty: 'Không có dòng nào bị từ chối.',
      rejects_more: (n) => `Chỉ hiện ${n} dòng mới nhất; các dòng cũ hơn: kc-admin rejects trên máy trung tâm.`,
      rejects_error: (m) => `Không tải được các dòng bị từ chối: ${m}`,
      received: 'Thời gian nhận',
      producer: 'Nguồn gửi',
      reason: 'Lý do',
      unknown_code: (c) => `${c} (mã không xác định)`,
      no_province: 'không có mã tỉnh',
      csv_month: 'Tháng',
      csv_amount_year: (y) => `Kinh phí ${y} (đồng)`,
      csv_change: 'Thay đổi (%)',
      csv_total: 'Tổng',
      csv_rejects: ['Thời gian nhận', 'Mã tỉnh', 'Tỉnh, thành phố', 'Nguồn gửi', 'Kỳ (epoch)', 'Số thứ tự', 'Mã sự kiện',
        'Mã lý do', 'Lý do', 'Chi tiết'],
      reasons: {
        duplicate: 'Trùng lặp',
        undecodable: 'Không đọc được',
        missing_event_id: 'Thiếu mã sự kiện',
        event_id_too_long: 'Mã sự kiện quá dài',
        unknown_province: 'Mã tỉnh không xác định',
        unknown_activity: 'Nội dung hoạt động không xác định',
        metric_not_allowed: 'Chỉ tiêu không áp dụng cho nội dung này',
        negative_value: 'Giá trị âm',
        employed_exceeds_persons: 'Số người có việc làm vượt số người tham gia',
        bad_month: 'Tháng không hợp lệ',
        bad_year: 'Năm không hợp lệ',
        note_too_long: 'Ghi chú quá dài',
        event_id_conflict: 'Trùng mã sự kiện nhưng khác nội dung',
        bad_kind: 'Loại bản ghi không hợp lệ',
        bad_fund: 'Nguồn kinh phí không hợp lệ',
        no_metrics: 'Không có chỉ tiêu nào',
        producer_mismatch: 'Sai nguồn gửi',
        unsupported_op: 'Thao tác không được hỗ trợ',
        missing_seq: 'Thiếu số thứ tự',
        total_overflow: 'Tổng vượt giới hạn',
        unknown_target: 'Không có bản ghi cần sửa',
        target_other_province: 'Bản ghi cần sửa thuộc tỉnh khác',
        target_superseded: 'Bản ghi cần sửa đã được sửa trước đó',
        target_retracted: 'Bản ghi cần sửa đã bị thu hồi',
        missing_target: 'Thiếu mã bản ghi cần sửa',
        province_not_authorized: 'Không được báo cáo cho tỉnh này',
        value_too_large: 'Giá trị quá lớn',
        invalid_text: 'Văn bản không hợp lệ',
      },
    },
    en: {
      locale: 'en-GB',
      doc_title: 'Industrial promotion monitor — kcpipe',
      skip: 'Skip to content',
      title: 'Industrial promotion monitor',
      subtitle: 'Provincial reports as they arrive',
      print: 'Print',
      toggle: 'Tiếng Việt',
      filters: 'Filters',
      region: 'Region',
      region_north: 'North',
      region_central_highlands: 'Central & Highlands',
      region_south: 'South',
      year: 'Year',
      months: 'Months',
      month_from: 'From month',
      month_to: 'To month',
      units: 'Administrative units',
      units63: '63 provinces',
      units34: '34 provinces (since 2025)',
      silent_after: 'Flag as silent after',
      m15: '15 minutes', h1: '1 hour', d1: '1 day', d7: '7 days', d30: '30 days',
      seq: 'Sequence',
      updated: 'Updated',
      conn_connecting: 'Connecting…',
      conn_live: 'Live',
      conn_retry: 'Reconnecting…',
      conn_offline: 'Disconnected',
      summary: 'Summary',
      kpi_amount: 'Spending',
      kpi_plan: 'Plan for the year',
      kpi_reports: 'Provinces reporting',
      kpi_compare: (y) => `Same period of ${y}`,
      of_plan: (p) => `${p} of plan`,
      no_plan: 'no plan yet',
      vs_year: (p, y) => `${p} vs ${y}`,
      silent_count: (n) => (n ? `${n} silent` : 'none silent'),
      reports_events: (n) => `${n} reports`,
      chart_provinces: 'Spending against plan, by province',
      note_provinces: 'The selected months against the plan of the whole year; labels: percent of plan.',
      chart_months: 'By month, against the previous year',
      chart_activities: 'Spending by activity',
      data_table: 'Data table',
      month: 'Month',
      change: 'Change',
      activity: 'Activity',
      amount: 'Spending',
      share: 'Share',
      reports: 'Reports',
      table_provinces: 'Provinces: figures and last report',
      silent: 'Silent',
      silent_note: (d) => `no report yet, or the last one is older than ${d}`,
      code: 'Code',
      province: 'Province',
      plan: 'Plan (year)',
      pct_plan: '% of plan',
      last_report: 'Last report',
      never: 'never',
      total_region: 'Region total',
      actual: 'Actual',
      plan_year: 'Plan (year)',
      billion: 'billion VND',
      currency: 'VND',
      footer: 'Data: kc-aggregator /v1 (read-only). Amounts are whole đồng.',
      month_short: (m) => ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][m - 1],
      month_long: (m) =>
        ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
          'November', 'December'][m - 1],
      period: (r, a, b, y, u) => {
        const L = I18N.en.month_long;
        return `${r} · ${a === b ? L(a) : `${L(a)}–${L(b)}`} ${y} · ${u} provinces`;
      },
      no_data: 'No figures for this selection yet.',
      error: (m) => `Could not load the figures: ${m}`,
      chart_provinces_alt: (n, t, p) =>
        `Horizontal bar chart: spending and yearly plan of ${n} provinces; total ${t}, ${p} of plan. Details in the province table.`,
      chart_months_alt: (y, p) => `Bar chart: spending by month in ${y} against ${p}. Figures in the data table below.`,
      chart_activities_alt: 'Horizontal bar chart: spending by activity. Figures in the data table below.',
      download_report: 'Download the report',
      dl_xlsx: 'Excel (.xlsx)',
      dl_pdf: 'PDF',
      dl_csv: 'CSV',
      dl_summary: 'Summary table (CSV)',
      dl_panel: 'Download CSV',
      cmp_title: 'Reporting by month',
      cmp_legend: 'Legend',
      cmp_states: { on_time: 'on time', late: 'late', missing: 'missing', not_due: 'not yet due',
        none: 'not applicable (a unit of the other scheme)' },
      cmp_note: (d) => `Due ${d} days after the month's last day, by the end of that day in Vietnam's time (docs/CYCLE.md).`,
      cmp_counts: (late, missing) => [['Late', late], ['Missing', missing]],
      cmp_empty: 'No units for this selection.',
      cmp_error: (m) => `Could not load the reporting grid: ${m}`,
      cmp_caption: (p) => `Each province's reporting by month — ${p}`,
      cmp_cell: (name, month, state) => `${name}, ${month}: ${state}`,
      csv_cmp: ['Period', 'Province code', 'Province', 'State code', 'State', 'Reported at', 'Deadline'],
      rejects_title: 'Rejected rows',
      rejects_note: 'Rows the centre did not count, from the region\'s provinces and from unknown province codes; newest first.',
      rejects_empty: 'No rejected rows.',
      rejects_more: (n) => `Showing the newest ${n}; for older ones: kc-admin rejects on the centre's machine.`,
      rejects_error: (m) => `Could not load the rejected rows: ${m}`,
      received: 'Received',
      producer: 'Producer',
      reason: 'Reason',
      unknown_code: (c) => `${c} (unknown code)`,
      no_province: 'no province code',
      csv_month: 'Month',
      csv_amount_year: (y) => `Spending ${y} (VND)`,
      csv_change: 'Change (%)',
      csv_total: 'Total',
      csv_rejects: ['Received', 'Province code', 'Province', 'Producer', 'Epoch', 'Sequence', 'Event ID', 'Reason code',
        'Reason', 'Details'],
      reasons: {
        duplicate: 'Duplicate',
        undecodable: 'Undecodable',
        missing_event_id: 'Missing event ID',
        event_id_too_long: 'Event ID too long',
        unknown_province: 'Unknown province',
        unknown_activity: 'Unknown activity',
        metric_not_allowed: 'Figure not allowed for the activity',
        negative_value: 'Negative value',
        employed_exceeds_persons: 'Employed exceeds persons',
        bad_month: 'Invalid month',
        bad_year: 'Invalid year',
        note_too_long: 'Note too long',
        event_id_conflict: 'Event ID reused with other content',
        bad_kind: 'Invalid kind',
        bad_fund: 'Invalid fund',
        no_metrics: 'No figures',
        producer_mismatch: 'Producer mismatch',
        unsupported_op: 'Unsupported operation',
        missing_seq: 'Missing sequence number',
        total_overflow: 'Total would overflow',
        unknown_target: 'Correction target not found',
        target_other_province: 'Target is another province\'s',
        target_superseded: 'Target already corrected',
        target_retracted: 'Target retracted',
        missing_target: 'Missing correction target',
        province_not_authorized: 'Not authorized for this province',
        value_too_large: 'Value too large',
        invalid_text: 'Invalid text',
      },
    },
  };

  const COLORS = {
    actual: '#0b5f8a',
    actualOver: '#1a7f4b',
    plan: 'rgba(11, 95, 138, 0.16)',
    planBorder: 'rgba(11, 95, 138, 0.45)',
    prev: '#c9a227',
    activity: '#2a7f9e',
    grid: '#e6e9ee',
    text: '#2b3440',
    muted: '#66707d',
  };

  const $ = (id) => document.getElementById(id);

  /* ---------- state ---------- */
  const params = new URLSearchParams(location.search);
  const stored = (k) => {
    try {
      return localStorage.getItem('kc.' + k);
    } catch (e) {
      return null;
    }
  };
  const store = (k, v) => {
    try {
      localStorage.setItem('kc.' + k, v);
    } catch (e) {
      /* private mode: ignore */
    }
  };
  const monthsParam = (params.get('months') || '').match(/^(\d{1,2})(?:-(\d{1,2}))?$/);
  const state = {
    region: REGIONS.includes(params.get('region')) ? params.get('region')
      : REGIONS.includes(stored('region')) ? stored('region') : 'south',
    year: /^\d{4}$/.test(params.get('year') || '') ? Number(params.get('year')) : null,
    from: monthsParam ? Number(monthsParam[1]) : 1,
    to: monthsParam ? Number(monthsParam[2] || monthsParam[1]) : 12,
    units: (params.get('units') || stored('units')) === '34' ? 34 : 63,
    lang: (params.get('lang') || stored('lang')) === 'en' ? 'en' : 'vi',
    silent: Number(params.get('silent') || stored('silent')) || 86400,
    sort: { key: 'code', dir: 1 },
  };
  if (!(state.from >= 1 && state.from <= 12)) state.from = 1;
  if (!(state.to >= state.from && state.to <= 12)) state.to = 12;

  let T = I18N[state.lang];
  let lastSeq = null;
  let serverNow = null;
  let busy = false;
  let again = false;
  let renders = 0;
  let failures = 0;
  let activityRef = {};
  let last = null; /* the data of the last render, re-rendered on a language switch */
  let rejects = null; /* the last /v1/rejects answer ({body} or {error}) and its text */
  let rejectsText = null;
  let rejectsBusy = false;
  const provRegions = new Map(); /* province code (either scheme) -> Set of regions */
  const blobUrls = {}; /* panel key -> the object URL of its page-written CSV */
  const charts = {};

  /* ---------- exact integers ---------- */
  /* JSON.parse reviver: an integer the JSON text writes beyond
   * Number.MAX_SAFE_INTEGER becomes a BigInt read from its source digits
   * (context.source); every other value is kept. */
  const reviveBig = (key, value, context) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context &&
    typeof context.source === 'string' && /^-?\d+$/.test(context.source)
      ? BigInt(context.source)
      : value;
  /* A figure (Number or BigInt) as a Number: for charts and bar widths only. */
  const num = (v) => (typeof v === 'bigint' ? Number(v) : v);
  /* Exact order of two figures (Number or BigInt, mixed). */
  const cmp = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  /* a / b * 100 as a Number (a share in percent), exact enough for one decimal. */
  const percentOf = (a, b) => {
    if (typeof a !== 'bigint' && typeof b !== 'bigint') return (100 * a) / b;
    return Number((BigInt(a) * 1000000n) / BigInt(b)) / 10000;
  };
  /* n / 10^9 exactly, as a decimal string Intl.NumberFormat formats (and
   * rounds, half away from zero) without going through a double. */
  const billions = (n) => {
    if (typeof n !== 'bigint') return n / 1e9;
    const neg = n < 0n;
    const a = neg ? -n : n;
    return `${neg ? '-' : ''}${a / 1000000000n}.${String(a % 1000000000n).padStart(9, '0')}`;
  };

  /* ---------- formatting ---------- */
  const nf = (opts) => new Intl.NumberFormat(T.locale, opts);
  const fmtInt = (n) => (n == null ? '—' : nf({ maximumFractionDigits: 0 }).format(n));
  const fmtVnd = (n) => (n == null ? '—' : `${fmtInt(n)} ${T.currency}`);
  const fmtBn = (n, digits = 1) =>
    n == null ? '—' : nf({ minimumFractionDigits: 0, maximumFractionDigits: digits }).format(billions(n));
  const fmtBnUnit = (n) => `${fmtBn(n, 2)} ${T.billion}`;
  const fmtPct = (p, digits = 2) =>
    p == null ? '—' : `${nf({ minimumFractionDigits: 0, maximumFractionDigits: digits }).format(p)} %`;
  const fmtSigned = (p) => (p == null ? '—' : `${p > 0 ? '+' : p < 0 ? '−' : '±'}${fmtPct(Math.abs(p), 1)}`);
  const fmtTime = (iso) => {
    if (!iso) return T.never;
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return new Intl.DateTimeFormat(T.locale, {
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).format(d);
  };
  const fmtDuration = (s) => {
    const opt = $('silent').querySelector(`option[value="${s}"]`);
    return opt ? opt.textContent : `${s} s`;
  };
  const regionName = (r) => T['region_' + r] || r;
  const activityName = (code, name) => {
    const a = activityRef[code];
    if (a) return state.lang === 'vi' ? a.label_vi : a.label_en;
    return name || code;
  };
  const wrap = (s, width) => {
    const words = String(s).split(' ');
    const lines = [];
    let cur = '';
    for (const w of words) {
      if (cur && (cur + ' ' + w).length > width) {
        lines.push(cur);
        cur = w;
      } else {
        cur = cur ? cur + ' ' + w : w;
      }
    }
    if (cur) lines.push(cur);
    return lines;
  };

  /* ---------- network ---------- */
  async function getJSON(path) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(path, { signal: ctl.signal, cache: 'no-store', headers: { Accept: 'application/json' } });
      let body = null;
      try {
        body = JSON.parse(await res.text(), reviveBig);
      } catch (e) {
        body = null;
      }
      if (!res.ok) {
        const err = new Error((body && body.error) || `HTTP ${res.status}`);
        err.status = res.status;
        throw err;
      }
      return body;
    } finally {
      clearTimeout(timer);
    }
  }

  function totalsQuery(extra) {
    const q = new URLSearchParams();
    q.set('region', state.region);
    q.set('year', String(state.year));
    q.set('months', `${state.from}-${state.to}`);
    if (state.units === 34) q.set('units', '34');
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    return q.toString();
  }

  /* ---------- downloads ---------- */
  /* /v1/report for the current filters: the whole report (table null) or one table. */
  function reportHref(format, table) {
    const q = new URLSearchParams();
    q.set('region', state.region);
    q.set('year', String(state.year));
    q.set('months', `${state.from}-${state.to}`);
    q.set('units', String(state.units));
    q.set('lang', state.lang);
    q.set('format', format);
    if (table) q.set('table', table);
    return '/v1/report?' + q.toString();
  }

  /* One CSV field: quoted when it holds a quote, a separator or a line break;
   * a text that a spreadsheet would read as a formula gets a leading '. */
  const csvCell = (v) => {
    let t = v == null ? '' : String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(t)) t = "'" + t;
    return /[",;\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  /* A page-written CSV (UTF-8 with BOM, CRLF) as an object URL set on link `id`. */
  function setCsvLink(id, filename, header, rows) {
    if (blobUrls[id]) URL.revokeObjectURL(blobUrls[id]);
    const text = '\uFEFF' + [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
    blobUrls[id] = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    const a = $(id);
    a.href = blobUrls[id];
    a.download = filename;
  }
  /* A percent (Number) with one decimal and a decimal point, for CSV; '' for none. */
  const csvPct = (p) => (p == null ? '' : (Math.round(p * 10) / 10).toFixed(1));

  function updateDownloads() {
    if (state.year == null) return;
    $('dl-xlsx').href = reportHref('xlsx');
    $('dl-pdf').href = reportHref('pdf');
    $('dl-csv').href = reportHref('csv');
    $('dl-summary').href = reportHref('csv', 'summary');
    $('dl-chart-provinces').href = reportHref('csv', 'provinces');
    $('dl-provinces').href = reportHref('csv', 'provinces');
    $('dl-activities').href = reportHref('csv', 'activities');
  }

  /* ---------- status line ---------- */
  function setConn(kind) {
    const el = $('conn');
    el.dataset.state = kind;
    el.textContent = T['conn_' + kind];
    $('conn-dot').className = 'dot dot-' + kind;
  }

  async function poll() {
    try {
      const st = await getJSON('/v1/status');
      failures = 0;
      serverNow = Date.parse(st.time) || Date.now();
      setConn('live');
      $('seq').textContent = fmtInt(st.seq);
      if (st.seq !== lastSeq) {
        lastSeq = st.seq;
        await refresh();
      }
      // a rejection adds nothing to the log (seq): the rejected rows are asked every poll
      await loadRejects();
    } catch (e) {
      failures++;
      setConn(failures > 2 ? 'offline' : 'retry');
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        await load();
      } while (again);
    } finally {
      busy = false;
    }
  }

  async function load() {
    const seq = lastSeq;
    const base = totalsQuery();
    try {
      const [prov, months, acts, ref, cmpl] = await Promise.all([
        getJSON('/v1/totals?' + totalsQuery({ by: 'province', plan: '1' })),
        getJSON('/v1/totals?' + totalsQuery({ by: 'month', compare: String(state.year - 1) })),
        getJSON('/v1/totals?' + totalsQuery({ by: 'activity' })),
        getJSON('/v1/provinces?scheme=' + state.units),
        // the grid's own failure is shown in its panel, not in place of the figures
        getJSON('/v1/completeness?' + totalsQuery()).then((body) => ({ body }), (e) => ({ error: e.message })),
      ]);
      $('error').hidden = true;
      noteRegions(ref);
      last = { prov, months, acts, ref, cmpl, seq, base };
      render();
    } catch (e) {
      const box = $('error');
      box.textContent = T.error(e.message);
      box.hidden = false;
      if (!e.status) setConn('retry');
    }
  }

  /* /v1/rejects, newest REJECTS_FETCH of every province; rendered when it changed. */
  async function loadRejects() {
    if (rejectsBusy) return;
    rejectsBusy = true;
    try {
      let next;
      try {
        next = { body: await getJSON(`/v1/rejects?limit=${REJECTS_FETCH}`) };
      } catch (e) {
        next = { error: e.message };
      }
      const text = JSON.stringify(next, (k, v) => (typeof v === 'bigint' ? v.toString() : v));
      if (text !== rejectsText) {
        rejectsText = text;
        rejects = next;
        if (last) renderRejects();
      }
    } finally {
      rejectsBusy = false;
    }
  }

  /* Remember the region of every province of a /v1/provinces answer. */
  function noteRegions(ref) {
    for (const p of (ref && ref.provinces) || []) {
      if (!p.region) continue;
      if (!provRegions.has(p.code)) provRegions.set(p.code, new Set());
      provRegions.get(p.code).add(p.region);
    }
  }

  /* ---------- rendering ---------- */
  function render() {
    if (!last) return;
    const { prov, months, acts, ref, cmpl, seq, base } = last;
    renderPeriod(prov);
    const rows = provinceRows(prov, ref);
    renderKpis(prov, months, rows);
    renderProvinceChart(rows, prov);
    renderMonths(months);
    renderActivities(acts);
    renderTable(rows, prov);
    renderCompleteness(cmpl);
    renderRejects();
    updateDownloads();
    $('updated').textContent = new Intl.DateTimeFormat(T.locale, { timeStyle: 'medium' }).format(new Date());
    renders++;
    document.body.dataset.renders = String(renders);
    document.body.dataset.query = base;
    document.body.dataset.lang = state.lang;
    document.body.dataset.ready = String(seq == null ? 0 : seq);
  }

  function renderPeriod() {
    $('period').textContent = T.period(regionName(state.region), state.from, state.to, state.year, state.units);
  }

  /* The region's units (reference data) joined with their totals. */
  function provinceRows(prov, ref) {
    const byKey = new Map((prov.rows || []).map((r) => [String(r.key), r]));
    const list = (ref.provinces || []).filter((p) => p.region === state.region || byKey.has(p.code));
    const now = serverNow || Date.now();
    return list.map((p) => {
      const r = byKey.get(p.code);
      const lastMs = p.last_report ? Date.parse(p.last_report) : null;
      return {
        code: p.code,
        name: p.name,
        amount: r ? r.totals.amount_vnd : 0,
        plan: r && r.plan ? r.plan.totals.amount_vnd : 0,
        percent: r && r.percent_of_plan != null ? r.percent_of_plan : null,
        events: r ? r.events : 0,
        last: p.last_report,
        lastMs,
        silent: lastMs == null || now - lastMs > state.silent * 1000,
      };
    });
  }

  function setKpi(id, value) {
    $(id).dataset.value = value == null ? '' : String(value);
  }

  function renderKpis(prov, months, rows) {
    const amount = prov.totals.amount_vnd;
    const plan = prov.plan ? prov.plan.totals.amount_vnd : null;
    const pct = prov.percent_of_plan;
    $('kpi-amount-value').textContent = fmtBnUnit(amount);
    $('kpi-amount-sub').textContent = fmtVnd(amount);
    setKpi('kpi-amount', amount);

    $('kpi-plan-value').textContent = plan ? fmtBnUnit(plan) : '—';
    $('kpi-plan-pct').textContent = pct != null ? T.of_plan(fmtPct(pct)) : T.no_plan;
    $('kpi-plan-bar').style.width = `${Math.min(100, pct || 0)}%`;
    setKpi('kpi-plan', plan);
    $('kpi-plan').dataset.percent = pct == null ? '' : String(pct);

    const cmp = months.compare;
    $('kpi-compare-label').textContent = T.kpi_compare(state.year - 1);
    const prevAmount = cmp ? cmp.totals.amount_vnd : null;
    $('kpi-compare-value').textContent = cmp ? fmtBnUnit(prevAmount) : '—';
    const ch = cmp && cmp.change_percent ? cmp.change_percent.amount_vnd : null;
    const sub = $('kpi-compare-sub');
    sub.textContent = ch != null ? T.vs_year(fmtSigned(ch), state.year - 1) : '';
    sub.className = 'kpi-sub ' + (ch > 0 ? 'up' : ch < 0 ? 'down' : '');
    setKpi('kpi-compare', prevAmount);

    const reporting = rows.filter((r) => r.events > 0).length;
    const silent = rows.filter((r) => r.silent).length;
    $('kpi-reports-value').textContent = `${reporting} / ${rows.length}`;
    const rs = $('kpi-reports-sub');
    rs.textContent = `${T.reports_events(fmtInt(prov.events))} · ${T.silent_count(silent)}`;
    rs.className = 'kpi-sub ' + (silent ? 'warn' : '');
    setKpi('kpi-reports', reporting);
    $('kpi-reports').dataset.silent = String(silent);
  }

  /* The exact figure behind a chart element (datasets carry `exact`). */
  const exactOf = (ctx) => (ctx.dataset.exact ? ctx.dataset.exact[ctx.dataIndex] : ctx.raw);

  const baseOptions = () => ({
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    locale: T.locale,
    plugins: {
      legend: { position: 'top', align: 'end', labels: { boxWidth: 12, boxHeight: 12, color: COLORS.text } },
      tooltip: {
        callbacks: {
          label: (ctx) => `${ctx.dataset.label}: ${fmtVnd(exactOf(ctx))}`,
        },
      },
    },
  });

  /* Percent-of-plan labels at the end of each province's bars. */
  const percentLabels = {
    id: 'kcPercentLabels',
    afterDatasetsDraw(chart) {
      const pcts = chart.$kcPercents;
      if (!pcts) return;
      const ctx = chart.ctx;
      const metas = chart.getSortedVisibleDatasetMetas();
      if (!metas.length) return;
      ctx.save();
      ctx.font = '600 11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
      ctx.textBaseline = 'middle';
      pcts.forEach((p, i) => {
        if (p == null) return;
        let x = chart.chartArea.left;
        let y = null;
        for (const m of metas) {
          const el = m.data[i];
          if (!el) continue;
          x = Math.max(x, el.x);
          y = el.y;
        }
        if (y == null) return;
        ctx.fillStyle = p >= 100 ? COLORS.actualOver : COLORS.text;
        ctx.fillText(fmtPct(p, 1), x + 6, y);
      });
      ctx.restore();
    },
  };

  function upsertChart(key, canvasId, config) {
    const box = $(canvasId).parentElement;
    const empty = !config.data.datasets.some((d) => d.data.some((v) => v));
    if (empty) box.dataset.empty = T.no_data;
    else delete box.dataset.empty;
    const c = charts[key];
    if (c) {
      c.data = config.data;
      c.options = config.options;
      c.update();
      return c;
    }
    if (typeof Chart === 'undefined') return null;
    charts[key] = new Chart($(canvasId), config);
    return charts[key];
  }

  function renderProvinceChart(rows) {
    const data = rows.slice().sort((a, b) => cmp(b.amount, a.amount) || a.code.localeCompare(b.code));
    $('box-provinces').style.height = `${Math.max(160, 70 + data.length * 28)}px`;
    const opts = baseOptions();
    opts.indexAxis = 'y';
    opts.layout = { padding: { right: 56 } };
    opts.scales = {
      x: {
        beginAtZero: true,
        suggestedMax: 1e9,
        grid: { color: COLORS.grid },
        ticks: { color: COLORS.muted, callback: (v) => fmtBn(v) },
        title: { display: true, text: T.billion, color: COLORS.muted },
      },
      y: { grid: { display: false }, ticks: { color: COLORS.text, autoSkip: false } },
    };
    const chart = upsertChart('provinces', 'chart-provinces', {
      type: 'bar',
      data: {
        labels: data.map((r) => r.name),
        datasets: [
          {
            label: T.actual,
            data: data.map((r) => num(r.amount)),
            exact: data.map((r) => r.amount),
            backgroundColor: data.map((r) => (r.percent >= 100 ? COLORS.actualOver : COLORS.actual)),
            barPercentage: 0.5,
            categoryPercentage: 0.9,
            grouped: false,
            order: 1,
          },
          {
            label: T.plan_year,
            data: data.map((r) => num(r.plan)),
            exact: data.map((r) => r.plan),
            backgroundColor: COLORS.plan,
            borderColor: COLORS.planBorder,
            borderWidth: 1,
            barPercentage: 0.95,
            categoryPercentage: 0.9,
            grouped: false,
            order: 2,
          },
        ],
      },
      options: opts,
      plugins: [percentLabels],
    });
    if (chart) {
      chart.$kcPercents = data.map((r) => r.percent);
      chart.update();
    }
    const p = last.prov;
    $('chart-provinces').setAttribute(
      'aria-label',
      T.chart_provinces_alt(data.length, fmtVnd(p.totals.amount_vnd), fmtPct(p.percent_of_plan)),
    );
  }

  function renderMonths(months) {
    const rows = months.rows || [];
    const byMonth = new Map(rows.map((r) => [Number(r.key), r]));
    const ms = [];
    for (let m = state.from; m <= state.to; m++) ms.push(m);
    const cur = ms.map((m) => (byMonth.has(m) ? byMonth.get(m).totals.amount_vnd : 0));
    const prev = ms.map((m) => {
      const r = byMonth.get(m);
      return r && r.compare ? r.compare.totals.amount_vnd : 0;
    });
    const opts = baseOptions();
    opts.scales = {
      x: { grid: { display: false }, ticks: { color: COLORS.text } },
      y: {
        beginAtZero: true,
        suggestedMax: 1e9,
        grid: { color: COLORS.grid },
        ticks: { color: COLORS.muted, callback: (v) => fmtBn(v) },
        title: { display: true, text: T.billion, color: COLORS.muted },
      },
    };
    opts.plugins.tooltip.callbacks.title = (items) => (items.length ? T.month_long(ms[items[0].dataIndex]) : '');
    upsertChart('months', 'chart-months', {
      type: 'bar',
      data: {
        labels: ms.map((m) => T.month_short(m)),
        datasets: [
          { label: String(state.year), data: cur.map(num), exact: cur, backgroundColor: COLORS.actual, borderRadius: 2 },
          { label: String(state.year - 1), data: prev.map(num), exact: prev, backgroundColor: COLORS.prev, borderRadius: 2 },
        ],
      },
      options: opts,
    });
    $('chart-months').setAttribute('aria-label', T.chart_months_alt(state.year, state.year - 1));
    $('mt-y').textContent = String(state.year);
    $('mt-p').textContent = String(state.year - 1);
    const tb = document.querySelector('#month-table tbody');
    tb.replaceChildren(
      ...ms.map((m, i) => {
        const r = byMonth.get(m);
        const ch = r && r.compare && r.compare.change_percent ? r.compare.change_percent.amount_vnd : null;
        const tr = document.createElement('tr');
        tr.dataset.month = String(m);
        tr.dataset.amount = String(cur[i]);
        tr.dataset.previous = String(prev[i]);
        tr.append(th(T.month_long(m)), td(fmtVnd(cur[i]), 'num'), td(fmtVnd(prev[i]), 'num'), td(fmtSigned(ch), 'num'));
        return tr;
      }),
    );
    // the panel's CSV: no report table holds the months against the previous year
    const change = (r) => (r && r.compare && r.compare.change_percent ? r.compare.change_percent.amount_vnd : null);
    const totalPrev = months.compare ? months.compare.totals.amount_vnd : null;
    setCsvLink(
      'dl-months',
      `kcpipe-months-${state.region}-${state.year}-${state.from}-${state.to}.csv`,
      [T.csv_month, T.csv_amount_year(state.year), T.csv_amount_year(state.year - 1), T.csv_change],
      [
        ...ms.map((m, i) => [m, cur[i], prev[i], csvPct(change(byMonth.get(m)))]),
        [T.csv_total, months.totals.amount_vnd, totalPrev == null ? '' : totalPrev, csvPct(change(months))],
      ],
    );
  }

  function renderActivities(acts) {
    const rows = (acts.rows || []).slice().sort((a, b) => cmp(b.totals.amount_vnd, a.totals.amount_vnd));
    const total = acts.totals.amount_vnd;
    const opts = baseOptions();
    opts.indexAxis = 'y';
    opts.plugins.legend = { display: false };
    opts.plugins.tooltip.callbacks.title = (items) => (items.length ? activityName(rows[items[0].dataIndex].key) : '');
    opts.plugins.tooltip.callbacks.label = (ctx) => fmtVnd(exactOf(ctx));
    opts.scales = {
      x: {
        beginAtZero: true,
        suggestedMax: 1e9,
        grid: { color: COLORS.grid },
        ticks: { color: COLORS.muted, callback: (v) => fmtBn(v) },
        title: { display: true, text: T.billion, color: COLORS.muted },
      },
      y: { grid: { display: false }, ticks: { color: COLORS.text, autoSkip: false, font: { size: 11 } } },
    };
    upsertChart('activities', 'chart-activities', {
      type: 'bar',
      data: {
        labels: rows.map((r) => wrap(activityName(r.key, r.label), 30)),
        datasets: [
          {
            label: T.amount,
            data: rows.map((r) => num(r.totals.amount_vnd)),
            exact: rows.map((r) => r.totals.amount_vnd),
            backgroundColor: COLORS.activity,
            borderRadius: 2,
            barPercentage: 0.8,
          },
        ],
      },
      options: opts,
    });
    $('chart-activities').setAttribute('aria-label', T.chart_activities_alt);
    const tb = document.querySelector('#activity-table tbody');
    tb.replaceChildren(
      ...rows.map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.activity = String(r.key);
        tr.dataset.amount = String(r.totals.amount_vnd);
        tr.append(
          th(activityName(r.key, r.label)),
          td(fmtVnd(r.totals.amount_vnd), 'num'),
          td(total ? fmtPct(percentOf(r.totals.amount_vnd, total), 1) : '—', 'num'),
          td(fmtInt(r.events), 'num'),
        );
        return tr;
      }),
    );
  }

  function th(text) {
    const e = document.createElement('th');
    e.scope = 'row';
    e.textContent = text;
    return e;
  }
  function td(text, cls) {
    const e = document.createElement('td');
    if (cls) e.className = cls;
    e.textContent = text;
    return e;
  }

  function renderTable(rows, prov) {
    const { key, dir } = state.sort;
    const val = (r) => (key === 'last' ? r.lastMs || 0 : key === 'percent' ? (r.percent == null ? -1 : r.percent) : r[key]);
    const sorted = rows.slice().sort((a, b) => {
      const x = val(a);
      const y = val(b);
      const c = typeof x === 'string' ? x.localeCompare(y, T.locale) : cmp(x, y);
      return dir * c || a.code.localeCompare(b.code);
    });
    const tb = document.querySelector('#province-table tbody');
    tb.replaceChildren(
      ...sorted.map((r) => {
        const tr = document.createElement('tr');
        tr.id = 'prov-' + r.code;
        tr.dataset.code = r.code;
        tr.dataset.amount = String(r.amount);
        tr.dataset.plan = String(r.plan);
        tr.dataset.percent = r.percent == null ? '' : String(r.percent);
        tr.dataset.events = String(r.events);
        tr.dataset.silent = r.silent ? '1' : '0';
        if (r.silent) tr.className = 'silent';
        const name = th(r.name);
        const pct = td(fmtPct(r.percent), 'num');
        if (r.percent != null) {
          const bar = document.createElement('span');
          bar.className = 'pbar' + (r.percent >= 100 ? ' over' : '');
          bar.style.setProperty('--w', `${Math.min(100, r.percent)}%`);
          bar.setAttribute('aria-hidden', 'true');
          pct.prepend(bar);
        }
        const lastCell = td(fmtTime(r.last), 'when');
        if (r.silent) {
          const b = document.createElement('span');
          b.className = 'badge badge-silent';
          b.textContent = T.silent;
          lastCell.append(' ', b);
        }
        tr.append(td(r.code, 'code'), name, td(fmtVnd(r.amount), 'num'), td(r.plan ? fmtVnd(r.plan) : '—', 'num'), pct,
          td(fmtInt(r.events), 'num'), lastCell);
        return tr;
      }),
    );
    const tot = $('province-total');
    const plan = prov.plan ? prov.plan.totals.amount_vnd : null;
    tot.dataset.amount = String(prov.totals.amount_vnd);
    tot.dataset.plan = plan == null ? '' : String(plan);
    tot.dataset.percent = prov.percent_of_plan == null ? '' : String(prov.percent_of_plan);
    tot.dataset.events = String(prov.events);
    $('pt-amount').textContent = fmtVnd(prov.totals.amount_vnd);
    $('pt-plan').textContent = plan ? fmtVnd(plan) : '—';
    $('pt-percent').textContent = fmtPct(prov.percent_of_plan);
    $('pt-events').textContent = fmtInt(prov.events);
    $('province-caption').textContent = T.table_provinces + ' — ' + $('period').textContent;
    $('silent-note').textContent = T.silent_note(fmtDuration(state.silent));
    document.querySelectorAll('#province-table thead th[data-sort]').forEach((h) => {
      h.setAttribute('aria-sort', h.dataset.sort === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    });
  }

  /* ---------- completeness (issue 18) ---------- */
  const CMP_STATES = ['on_time', 'late', 'missing', 'not_due'];
  const CMP_SYMBOLS = { on_time: '✓', late: '!', missing: '✗', not_due: '·', none: '—' };
  const cmpLabel = (st) => T.cmp_states[st] || st;
  /* A state as a symbol (hidden from screen readers) and its label (for them only, or shown). */
  function cmpMark(st, shown) {
    const frag = document.createDocumentFragment();
    const sym = document.createElement('span');
    sym.className = shown ? 'cmp-sw cmp-' + st : '';
    sym.setAttribute('aria-hidden', 'true');
    sym.textContent = CMP_SYMBOLS[st] || '?';
    const txt = document.createElement('span');
    txt.className = shown ? 'cmp-label' : 'sr-only';
    txt.textContent = cmpLabel(st);
    frag.append(sym, txt);
    return frag;
  }

  /* The province x month grid of /v1/completeness for the current filters
   * (region, year, months, units): a row per unit the API lists, a cell per
   * month with its state (class cmp-<state>, data-state, a symbol and the
   * label), the late and missing counts, a legend and the panel's CSV.
   * body[data-cmp] = the number of rows after each render (for tests). */
  function renderCompleteness(cmpl) {
    const tb = document.querySelector('#cmp-table tbody');
    const headRow = document.querySelector('#cmp-table thead tr');
    const empty = $('cmp-empty');
    const panel = $('completeness');
    $('cmp-legend').replaceChildren(
      ...[...CMP_STATES, 'none'].map((st) => {
        const li = document.createElement('li');
        li.dataset.state = st;
        li.append(cmpMark(st, true));
        return li;
      }),
    );
    if (!cmpl || cmpl.error) {
      tb.replaceChildren();
      headRow.replaceChildren();
      $('cmp-counts').replaceChildren();
      $('cmp-note').textContent = '';
      empty.textContent = T.cmp_error(cmpl ? cmpl.error : '—');
      empty.hidden = false;
      $('cmp-table').hidden = true;
      $('dl-completeness').removeAttribute('href');
      panel.dataset.late = '';
      panel.dataset.missing = '';
      document.body.dataset.cmp = '0';
      return;
    }
    const doc = cmpl.body;
    const periods = doc.periods || [];
    const provs = doc.provinces || [];
    const monthOf = (period) => Number(String(period).slice(5, 7));
    const th0 = document.createElement('th');
    th0.scope = 'col';
    th0.textContent = T.province;
    headRow.replaceChildren(
      th0,
      ...periods.map((p) => {
        const h = document.createElement('th');
        h.scope = 'col';
        h.className = 'cmp-month';
        h.dataset.period = p.period;
        h.textContent = T.month_short(monthOf(p.period));
        h.title = T.month_long(monthOf(p.period));
        return h;
      }),
    );
    tb.replaceChildren(
      ...provs.map((pr) => {
        const tr = document.createElement('tr');
        tr.dataset.code = String(pr.code);
        tr.dataset.scheme = String(pr.scheme);
        const name = th(`${pr.code} ${pr.name}`);
        tr.append(name);
        for (const c of pr.months || []) {
          const cell = document.createElement('td');
          cell.className = 'cmp cmp-' + c.state;
          cell.dataset.period = c.period;
          cell.dataset.state = c.state;
          cell.title = T.cmp_cell(pr.name, T.month_long(monthOf(c.period)), cmpLabel(c.state));
          cell.append(cmpMark(c.state, false));
          tr.append(cell);
        }
        return tr;
      }),
    );
    const counts = doc.counts || {};
    panel.dataset.late = String(counts.late || 0);
    panel.dataset.missing = String(counts.missing || 0);
    $('cmp-counts').replaceChildren(
      ...T.cmp_counts(fmtInt(counts.late || 0), fmtInt(counts.missing || 0)).flatMap(([label, n], i) => {
        const b = document.createElement('b');
        b.textContent = n;
        const s = document.createElement('span');
        s.textContent = label + ': ';
        return i ? [document.createTextNode(' · '), s, b] : [s, b];
      }),
    );
    const days = [...new Set(periods.map((p) => p.days))];
    $('cmp-note').textContent = days.length ? T.cmp_note(days.join('/')) : '';
    $('cmp-caption').textContent = T.cmp_caption($('period').textContent);
    empty.textContent = T.cmp_empty;
    empty.hidden = provs.length > 0;
    $('cmp-table').hidden = provs.length === 0;
    const deadline = new Map(periods.map((p) => [p.period, p.deadline || '']));
    setCsvLink(
      'dl-completeness',
      `kcpipe-completeness-${state.region}-${state.year}-${state.from}-${state.to}-${state.units}.csv`,
      T.csv_cmp,
      provs.flatMap((pr) => (pr.months || []).filter((c) => c.state !== 'none').map((c) =>
        [c.period, String(pr.code), pr.name, c.state, cmpLabel(c.state), c.reported_at || '', deadline.get(c.period) || ''])),
    );
    document.body.dataset.cmp = String(provs.length);
  }

  /* The province of a rejected row is shown for this region: one of its
   * provinces (either scheme), or none, or a code no scheme knows. */
  const rejectInRegion = (r) => {
    if (r.province == null || r.province === '') return true;
    const regions = provRegions.get(String(r.province));
    return !regions || regions.has(state.region);
  };
  const rejectTime = (r) => (r.received ? Date.parse(r.received) || 0 : 0);
  const reasonLabel = (token) => T.reasons[token] || token;
  const rejectProvince = (r) => {
    if (r.province == null || r.province === '') return T.no_province;
    if (r.province_name) return `${r.province} ${r.province_name}`;
    return T.unknown_code(r.province);
  };

  function renderRejects() {
    if (!rejects) return;
    const tb = document.querySelector('#rejects-table tbody');
    const empty = $('rejects-empty');
    const more = $('rejects-more');
    if (rejects.error) {
      tb.replaceChildren();
      empty.textContent = T.rejects_error(rejects.error);
      empty.hidden = false;
      more.hidden = true;
      $('rejects-table').hidden = true;
      $('dl-rejects').removeAttribute('href');
      document.body.dataset.rejects = '0';
      return;
    }
    const all = (rejects.body.rejects || []).filter(rejectInRegion);
    all.sort((a, b) => rejectTime(b) - rejectTime(a) || String(a.producer).localeCompare(String(b.producer)) ||
      cmp(b.seq, a.seq));
    const shown = all.slice(0, REJECTS_SHOWN);
    tb.replaceChildren(
      ...shown.map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.producer = String(r.producer);
        tr.dataset.epoch = String(r.epoch);
        tr.dataset.seq = String(r.seq);
        tr.dataset.reason = String(r.reason);
        tr.dataset.province = r.province == null ? '' : String(r.province);
        tr.dataset.eventId = r.event_id == null ? '' : String(r.event_id);
        const why = document.createElement('td');
        const label = document.createElement('b');
        label.textContent = reasonLabel(r.reason);
        const token = document.createElement('span');
        token.className = 'reason-token';
        token.textContent = r.reason;
        const text = document.createElement('span');
        text.className = 'reason-text';
        text.textContent = r.text || '';
        why.append(label, token, text);
        const who = td(`${r.producer} · #${fmtInt(r.seq)}`);
        tr.append(td(r.received ? fmtTime(r.received) : '—', 'when'), th(rejectProvince(r)), who, why);
        return tr;
      }),
    );
    empty.textContent = T.rejects_empty;
    empty.hidden = shown.length > 0;
    $('rejects-table').hidden = shown.length === 0;
    const truncated = rejects.body.truncated === true || all.length > shown.length;
    more.textContent = truncated ? T.rejects_more(shown.length) : '';
    more.hidden = !truncated;
    // the panel's CSV: the region's rows the page fetched (no report table lists rejections)
    setCsvLink(
      'dl-rejects',
      `kcpipe-rejects-${state.region}.csv`,
      T.csv_rejects,
      all.map((r) => [r.received || '', r.province == null ? '' : String(r.province), r.province_name || '',
        String(r.producer), r.epoch, r.seq, r.event_id == null ? '' : String(r.event_id), String(r.reason),
        reasonLabel(r.reason), r.text || '']),
    );
    document.body.dataset.rejects = String(shown.length);
  }

  /* ---------- language ---------- */
  function applyLang() {
    T = I18N[state.lang];
    document.documentElement.lang = state.lang;
    document.title = T.doc_title;
    document.querySelectorAll('[data-i18n]').forEach((el) => {
      const v = T[el.dataset.i18n];
      if (typeof v === 'string') el.textContent = v;
    });
    document.querySelectorAll('[data-i18n-aria]').forEach((el) => {
      el.setAttribute('aria-label', T[el.dataset.i18nAria]);
    });
    const btn = $('lang-toggle');
    btn.textContent = T.toggle;
    btn.lang = state.lang === 'vi' ? 'en' : 'vi';
    btn.setAttribute('aria-pressed', state.lang === 'en' ? 'true' : 'false');
    fillMonths();
    setConn($('conn').dataset.state || 'connecting');
    if (serverNow == null) return;
    render();
  }

  function fillMonths() {
    for (const [id, v] of [['month-from', state.from], ['month-to', state.to]]) {
      const sel = $(id);
      sel.replaceChildren(
        ...Array.from({ length: 12 }, (_, i) => {
          const o = document.createElement('option');
          o.value = String(i + 1);
          o.textContent = T.month_long(i + 1);
          return o;
        }),
      );
      sel.value = String(v);
    }
  }

  /* ---------- controls ---------- */
  function syncUrl() {
    const q = new URLSearchParams();
    q.set('region', state.region);
    q.set('year', String(state.year));
    q.set('months', `${state.from}-${state.to}`);
    if (state.units === 34) q.set('units', '34');
    if (state.lang === 'en') q.set('lang', 'en');
    history.replaceState(null, '', '?' + q.toString());
    store('region', state.region);
    store('units', String(state.units));
    store('lang', state.lang);
    store('silent', String(state.silent));
  }

  function onFilters() {
    const y = Number($('year').value);
    if (Number.isInteger(y) && y >= 2000 && y <= 2100) state.year = y;
    state.region = $('region').value;
    let a = Number($('month-from').value);
    let b = Number($('month-to').value);
    if (b < a) {
      if (this === $('month-from')) b = a;
      else a = b;
      $('month-from').value = String(a);
      $('month-to').value = String(b);
    }
    state.from = a;
    state.to = b;
    state.units = document.querySelector('input[name="units"]:checked').value === '34' ? 34 : 63;
    state.silent = Number($('silent').value) || 86400;
    syncUrl();
    updateDownloads();
    refresh();
  }

  /* Without ?year=: the current year, or the latest of the last ten with data. */
  async function pickYear() {
    const now = new Date(serverNow || Date.now()).getUTCFullYear();
    for (let y = now; y > now - 10; y--) {
      try {
        const t = await getJSON(`/v1/totals?year=${y}`);
        if (t.events > 0) return y;
      } catch (e) {
        break;
      }
    }
    return now;
  }

  async function init() {
    $('region').value = state.region;
    $(state.units === 34 ? 'units-34' : 'units-63').checked = true;
    $('silent').value = String(state.silent);
    if (!$('silent').value) {
      state.silent = 86400;
      $('silent').value = '86400';
    }
    applyLang();
    for (const id of ['region', 'year', 'month-from', 'month-to', 'silent']) $(id).addEventListener('change', onFilters);
    document.querySelectorAll('input[name="units"]').forEach((r) => r.addEventListener('change', onFilters));
    $('lang-toggle').addEventListener('click', () => {
      state.lang = state.lang === 'vi' ? 'en' : 'vi';
      syncUrl();
      applyLang();
      updateDownloads();
    });
    $('print-btn').addEventListener('click', () => window.print());
    // the filters apply on change; Enter must not submit the form (no inline handler: the
    // page's Content-Security-Policy allows scripts from /assets only)
    $('filters').addEventListener('submit', (e) => e.preventDefault());
    document.querySelectorAll('#province-table thead th[data-sort] button').forEach((b) => {
      b.addEventListener('click', () => {
        const k = b.parentElement.dataset.sort;
        state.sort = { key: k, dir: state.sort.key === k ? -state.sort.dir : k === 'code' || k === 'name' ? 1 : -1 };
        render();
      });
    });
    window.addEventListener('beforeprint', () => {
      document.querySelectorAll('details.data').forEach((d) => {
        d.dataset.wasOpen = d.open ? '1' : '0';
        d.open = true;
      });
      for (const c of Object.values(charts)) c.resize();
    });
    window.addEventListener('afterprint', () => {
      document.querySelectorAll('details.data').forEach((d) => {
        d.open = d.dataset.wasOpen === '1';
      });
      for (const c of Object.values(charts)) c.resize();
    });

    try {
      const [st, acts, p63, p34] = await Promise.all([getJSON('/v1/status'), getJSON('/v1/activities'),
        getJSON('/v1/provinces?scheme=63'), getJSON('/v1/provinces?scheme=34')]);
      serverNow = Date.parse(st.time) || Date.now();
      noteRegions(p63);
      noteRegions(p34);
      for (const a of acts.activities || []) activityRef[a.code] = a;
      if (state.year == null) state.year = await pickYear();
    } catch (e) {
      if (state.year == null) state.year = new Date().getFullYear();
    }
    $('year').value = String(state.year);
    syncUrl();
    poll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
