/**
 * The live status page served on the admin port (`/` and `/status/ui`): pipelines and their
 * components (dormant ones marked), throughput per component over the last minutes (an SVG
 * chart), metered usage by team and by model over the last hour or day (bar charts), the open
 * batch and when it is cut, the last object written and the delivery backlog in plain words,
 * write-ahead log backlog, LLM calls by span layout and the spans that could not be billed, and the
 * last warnings and errors; per
 * worker with `--workers N`. Self-contained: no external assets.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>spanmeter status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --fg:#1d2330; --muted:#6b7385; --bg:#f6f7f9; --card:#fff; --line:#e3e6eb; --bad:#c0392b; --ok:#1e8449; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  header { padding:14px 24px; background:#1d2330; color:#fff; display:flex; gap:18px; align-items:baseline; flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; }
  header .state { padding:2px 8px; border-radius:10px; background:#2e7d32; font-size:12px; }
  header .state.not { background:#b71c1c; }
  main { padding:18px 24px; display:grid; gap:18px; grid-template-columns: minmax(0,2fr) minmax(0,1fr); }
  section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size:14px; margin:0 0 10px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
  table { border-collapse:collapse; width:100%; }
  td, th { text-align:left; padding:4px 8px 4px 0; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--muted); font-weight:600; }
  .num { text-align:right; font-variant-numeric: tabular-nums; }
  .muted { color:var(--muted); }
  .err { color:var(--bad); }
  #legend { display:flex; flex-wrap:wrap; gap:6px 16px; margin-top:8px; font-size:12px; }
  #legend span i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:5px; vertical-align:-1px; }
  svg { width:100%; height:260px; display:block; }
  code { font-size:12px; }
  .tabs { float:right; text-transform:none; letter-spacing:0; }
  .tabs button { font:12px system-ui, sans-serif; border:1px solid var(--line); background:#fff; color:var(--fg); padding:2px 10px; cursor:pointer; }
  .tabs button.on { background:#1d2330; color:#fff; border-color:#1d2330; }
  .usage { display:grid; grid-template-columns: 1fr 1fr; gap:18px; }
  .usage h3 { font-size:12px; margin:0 0 4px; color:var(--muted); font-weight:600; }
  svg.bars { height:auto; }
  td.words { font-size:13px; }
  .dormant { color:var(--muted); font-style:italic; }
</style>
</head>
<body>
<header><h1>spanmeter</h1><span id="version" class="muted"></span><span id="state" class="state">…</span><span id="budget" class="muted"></span></header>
<main>
  <section class="wide">
    <h2>Throughput (per second, last minutes)</h2>
    <svg id="chart" viewBox="0 0 1000 260" preserveAspectRatio="none" role="img" aria-label="throughput chart"></svg>
    <div id="legend"></div>
  </section>
  <section class="wide" id="usage">
    <h2>Metered usage <span class="tabs"><button data-window="hour" class="on">last hour</button><button data-window="day">last day</button></span></h2>
    <div class="usage">
      <div><h3>by team (tokens in + out; calls)</h3><svg id="usage-team" class="bars" viewBox="0 0 480 30" preserveAspectRatio="xMinYMin meet" role="img" aria-label="metered usage by team"></svg></div>
      <div><h3>by model (tokens in + out; calls)</h3><svg id="usage-model" class="bars" viewBox="0 0 480 30" preserveAspectRatio="xMinYMin meet" role="img" aria-label="metered usage by model"></svg></div>
    </div>
    <p id="usage-total" class="muted"></p>
  </section>
  <section>
    <h2>Pipelines</h2>
    <table id="components"><thead><tr><th>component</th><th>state</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Write-ahead log</h2>
    <table id="wal"><thead><tr><th>pipeline</th><th class="num">log</th><th class="num">waiting</th><th class="num">not in spool</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>Open batch: the next file</h2>
    <table id="batches"><thead><tr><th>batch</th><th>what waits, and when it is cut</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>LLM calls read, and spans not billed</h2>
    <table id="spans"><thead><tr><th>processor</th><th>LLM calls by span layout</th><th>spans that look like LLM calls but were not billed</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>Delivery</h2>
    <table id="delivery"><thead><tr><th>exporter</th><th>last object written</th><th>backlog</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>Last warnings and errors</h2>
    <table id="errors"><thead><tr><th>time</th><th>level</th><th>component</th><th>message</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
const COLORS = ['#1f77b4','#e4572e','#2ca02c','#9467bd','#ff9f1c','#17becf','#8c564b','#e377c2','#7f7f7f','#bcbd22'];
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const mib = (n) => ((n || 0) / 1048576).toFixed(1) + ' MiB';
async function get(path) { const r = await fetch(path, { cache: 'no-store' }); return r.json(); }
function drawChart(data) {
  const svg = document.getElementById('chart'); const legend = document.getElementById('legend');
  const names = Object.keys(data.series).filter((n) => data.series[n].kind === 'rate' && data.series[n].values.some((v) => v > 0));
  let max = 0; for (const n of names) for (const v of data.series[n].values) if (v != null && v > max) max = v;
  max = max > 0 ? max * 1.1 : 1;
  const W = 1000, H = 260, L = 0, B = 20, count = Math.max(2, data.t.length);
  const x = (i) => L + (i / (count - 1)) * (W - L);
  const y = (v) => (H - B) - (v / max) * (H - B - 10);
  let out = '';
  for (let g = 0; g <= 4; g++) { const gy = y((max / 4) * g); out += '<line x1="0" x2="1000" y1="' + gy + '" y2="' + gy + '" stroke="#e3e6eb" stroke-width="1"/>'; }
  // Earlier series are drawn wider, so lines that coincide stay visible as bands.
  names.forEach((n, k) => {
    const vals = data.series[n].values; let d = ''; let pen = false;
    vals.forEach((v, i) => { if (v == null) { pen = false; return; } d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1) + ' '; pen = true; });
    out += '<path class="series" data-name="' + esc(n) + '" d="' + d + '" fill="none" stroke="' + COLORS[k % COLORS.length] + '" stroke-width="' + (2 + (names.length - 1 - k) * 2.5) + '" stroke-linejoin="round" vector-effect="non-scaling-stroke"/>';
  });
  out += '<text x="4" y="14" font-size="12" fill="#6b7385">' + Math.round(max) + '/s</text>';
  svg.innerHTML = out;
  legend.innerHTML = names.length
    ? names.map((n, k) => { const v = data.series[n].values.filter((x) => x != null); return '<span><i style="background:' + COLORS[k % COLORS.length] + '"></i>' + esc(n) + ' <b>' + Math.round(v[v.length - 1] || 0) + '</b></span>'; }).join('')
    : '<span class="muted">no traffic yet</span>';
}
const fmt = (n) => n >= 1e9 ? (n / 1e9).toFixed(1) + 'G' : n >= 1e6 ? (n / 1e6).toFixed(1) + 'M' : n >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : String(Math.round(n));
let usageWindow = 'hour'; let lastUsage = null;
// Horizontal bars, the largest first (at most 8, the rest summed as "others"): input tokens dark, output light.
function drawBars(id, groups) {
  const svg = document.getElementById(id); const top = groups.slice(0, 8);
  if (groups.length > 8) top.push(groups.slice(8).reduce((o, g) => ({ name: 'others (' + (groups.length - 8) + ')', calls: o.calls + g.calls, errors: o.errors + g.errors, inputTokens: o.inputTokens + g.inputTokens, outputTokens: o.outputTokens + g.outputTokens }), { calls: 0, errors: 0, inputTokens: 0, outputTokens: 0 }));
  const ROW = 26, W = 480, LABEL = 130, NUM = 110; const max = Math.max(1, ...top.map((g) => g.inputTokens + g.outputTokens));
  const scale = (v) => (v / max) * (W - LABEL - NUM);
  let out = '';
  top.forEach((g, i) => {
    const y = i * ROW + 4; const wi = scale(g.inputTokens), wo = scale(g.outputTokens); const color = COLORS[i % COLORS.length];
    out += '<text x="0" y="' + (y + 14) + '" font-size="12" fill="#1d2330">' + esc(g.name.length > 18 ? g.name.slice(0, 17) + '…' : g.name) + '</text>';
    out += '<rect class="bar" data-name="' + esc(g.name) + '" data-tokens="' + (g.inputTokens + g.outputTokens) + '" data-calls="' + g.calls + '" x="' + LABEL + '" y="' + y + '" width="' + Math.max(wi + wo, 1).toFixed(1) + '" height="18" fill="' + color + '" fill-opacity="0.45"/>';
    out += '<rect x="' + LABEL + '" y="' + y + '" width="' + Math.max(wi, 0).toFixed(1) + '" height="18" fill="' + color + '"/>';
    out += '<text x="' + (W - NUM + 6) + '" y="' + (y + 14) + '" font-size="12" fill="#6b7385">' + fmt(g.inputTokens + g.outputTokens) + ' · ' + fmt(g.calls) + (g.errors ? ' · ' + fmt(g.errors) + ' err' : '') + '</text>';
  });
  if (!top.length) out = '<text x="0" y="18" font-size="12" fill="#6b7385">no metered calls in this window</text>';
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + Math.max(30, top.length * ROW + 8));
  svg.style.height = Math.max(30, top.length * ROW + 8) + 'px';
  svg.innerHTML = out;
}
function drawUsage() {
  const u = lastUsage; const total = document.getElementById('usage-total');
  document.querySelectorAll('#usage .tabs button').forEach((b) => b.classList.toggle('on', b.dataset.window === usageWindow));
  if (!u) { drawBars('usage-team', []); drawBars('usage-model', []); total.textContent = 'usage is counted per worker: see the spanmeter_metered_* metrics'; return; }
  const w = u[usageWindow];
  drawBars('usage-team', w.byTeam); drawBars('usage-model', w.byModel);
  total.textContent = 'last ' + usageWindow + ': ' + w.total.calls + ' calls (' + w.total.errors + ' failed), ' + w.total.inputTokens + ' tokens in, ' + w.total.outputTokens + ' tokens out' + (w.coveredMinutes < w.minutes ? ' (running for ' + w.coveredMinutes + ' min)' : '');
}
document.querySelectorAll('#usage .tabs button').forEach((b) => b.addEventListener('click', () => { usageWindow = b.dataset.window; drawUsage(); }));
// One process, or each worker of --workers N (the primary's /status lists them under "workers").
const perWorker = (status) => status.workers ? status.workers.map((w) => [w, 'worker ' + w.worker + ' ']) : [[status, '']];
function wordsRows(status, pick, cols) {
  const rows = [];
  for (const [s, who] of perWorker(status)) {
    if (s.error) { rows.push('<tr><td>' + esc(who) + '</td><td colspan="' + cols + '" class="err">' + esc(s.error) + '</td></tr>'); continue; }
    for (const [k, w] of Object.entries(s.words || {})) { const cells = pick(w); if (cells) rows.push('<tr><td><code>' + esc(who + k.replace(/^[a-z]+:/, '')) + '</code></td>' + cells.map((c) => '<td class="words">' + esc(c) + '</td>').join('') + '</tr>'); }
  }
  return rows.join('');
}
async function refresh() {
  try {
    const [status, series, errors, ready, usage] = await Promise.all([get('/status'), get('/status/series'), get('/status/errors'), get('/health/ready'), get('/status/usage')]);
    lastUsage = usage; drawUsage();
    document.getElementById('version').textContent = 'v' + status.version + ' · ' + status.instanceId + (status.workers ? ' · ' + status.workers.length + ' workers' : '');
    const st = document.getElementById('state'); st.textContent = ready.status; st.className = 'state' + (ready.status === 'ready' ? '' : ' not');
    const d = status.durability || {};
    document.getElementById('budget').textContent = d.enabled === false ? 'durability off' : 'disk ' + mib(d.usedBytes) + ' of ' + (d.maxDiskBytes ? mib(d.maxDiskBytes) : '∞');
    const states = status.states || {};
    document.querySelector('#components tbody').innerHTML = Object.entries(ready.components || {}).map(([k, v]) => {
      const why = (states[k] || {}).dormant;
      const cls = v === 'started' ? '' : v === 'dormant' ? 'dormant' : 'err';
      return '<tr><td><code>' + esc(k) + '</code></td><td class="' + cls + '"' + (why ? ' title="' + esc(why) + '"' : '') + '>' + esc(why || v) + '</td></tr>';
    }).join('');
    document.querySelector('#wal tbody').innerHTML = (status.wal || []).map((w) => '<tr><td>' + (w.worker != null ? 'worker ' + esc(w.worker) + ' ' : '') + esc(w.pipeline) + '</td><td class="num">' + mib(w.bytes) + '</td><td class="num">' + (w.lastSeq - w.forwardedSeq) + '</td><td class="num">' + (w.lastSeq - w.checkpoint) + '</td></tr>').join('') || '<tr><td colspan="4" class="muted">no write-ahead log</td></tr>';
    document.querySelector('#batches tbody').innerHTML = wordsRows(status, (w) => w.openBatch ? [w.openBatch] : null, 1) || '<tr><td colspan="2" class="muted">no batch processor</td></tr>';
    document.querySelector('#spans tbody').innerHTML = wordsRows(status, (w) => w.calls ? [w.calls, w.unbillable || ''] : null, 2) || '<tr><td colspan="3" class="muted">no span processor</td></tr>';
    document.querySelector('#delivery tbody').innerHTML = wordsRows(status, (w) => w.lastObject ? [w.lastObject, w.delivery || ''] : null, 2) || '<tr><td colspan="3" class="muted">no object exporter active</td></tr>';
    document.querySelector('#errors tbody').innerHTML = errors.length ? errors.slice().reverse().map((e) => '<tr><td class="muted">' + esc(e.time) + '</td><td class="' + (e.level === 'warn' ? '' : 'err') + '">' + esc(e.level) + '</td><td>' + (e.worker != null ? 'worker ' + esc(e.worker) + ' ' : '') + esc(e.component || '') + '</td><td>' + esc(e.msg) + (e.err ? ' <span class="muted">(' + esc(e.err) + ')</span>' : '') + '</td></tr>').join('') : '<tr><td colspan="4" class="muted">none</td></tr>';
    drawChart(series);
    document.body.dataset.loaded = 'true';
  } catch (e) { document.getElementById('state').textContent = 'unreachable'; document.getElementById('state').className = 'state not'; }
}
refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>
`;
