/**
 * The report page's script (inline; allowed by its hash in the page's CSP). Plain ES5-ish
 * browser code kept as a string: no template syntax inside. Rules it keeps:
 * - every value from the trace reaches the DOM through textContent, title or className of
 *   fixed names, never innerHTML;
 * - the waterfall is virtual: only the rows in view exist in the DOM (a gopls trace has
 *   thousands of processes), redrawn on scroll in an animation frame;
 * - marks per row are capped so one process with thousands of evidence spans stays cheap.
 */
export const CLIENT_JS = String.raw`(function () {
'use strict';
var data = JSON.parse(document.getElementById('gostall-data').textContent);
var ROW = 22, OVERSCAN = 8, MARKS_PER_ROW = 300;
var st = { t: 0, query: '', cause: -1, sel: -1, rows: [], hl: {}, scheduled: false };
var ui = {};

function el(tag, cls, txt) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (txt !== undefined) e.textContent = String(txt);
  return e;
}
function fmt(ns) {
  if (ns < 1e6) return Math.round(ns / 1e3) + ' \u00b5s';
  if (ns < 1e9) return (ns / 1e6).toFixed(ns < 1e7 ? 1 : 0) + ' ms';
  if (ns < 120e9) return (ns / 1e9).toFixed(2) + ' s';
  var s = Math.round(ns / 1e9);
  return Math.floor(s / 60) + 'm' + (s % 60 < 10 ? '0' : '') + (s % 60) + 's';
}
function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }
function trace() { return data.traces[st.t]; }

function build() {
  var body = document.body;
  body.appendChild(el('h1', '', 'gostall report'));
  if (data.malformedLines > 0 || data.problems.length > 0) {
    body.appendChild(el('div', 'problems', data.malformedLines + ' malformed line(s) skipped' +
      (data.problems.length ? ':\n' + data.problems.join('\n') : '')));
  }
  if (data.traces.length === 0) { body.appendChild(el('p', '', 'No gostall trace found in the input.')); return; }
  if (data.traces.length > 1) {
    var pick = el('select', 'pick');
    pick.setAttribute('aria-label', 'trace');
    data.traces.forEach(function (t, i) {
      var o = el('option', '', t.title + ' \u2014 ' + t.traceId + ' (' + t.processes.length + ' processes)');
      o.value = String(i);
      pick.appendChild(o);
    });
    pick.addEventListener('change', function () { st.t = Number(pick.value); st.cause = -1; st.sel = -1; showTrace(); });
    body.appendChild(pick);
  }
  ui.sub = body.appendChild(el('div', 'sub'));
  ui.causes = body.appendChild(el('div', 'causes'));
  var det = body.appendChild(el('details', 'summary'));
  det.appendChild(el('summary', '', 'terminal summary'));
  ui.summary = det.appendChild(el('pre', ''));
  var controls = body.appendChild(el('div', 'controls'));
  ui.search = controls.appendChild(el('input', 'search'));
  ui.search.type = 'search';
  ui.search.placeholder = 'search a path, process, pid or command line';
  ui.search.setAttribute('aria-label', 'search');
  ui.search.addEventListener('input', function () { st.query = ui.search.value.toLowerCase(); filter(); });
  ui.count = controls.appendChild(el('span', 'count'));
  var legend = controls.appendChild(el('span', 'legend'));
  [['on', 'on CPU'], ['rq', 'waiting for a CPU'], ['s', 'sleeping (S)'], ['d', 'uninterruptible (D)']].forEach(function (x) {
    var s = legend.appendChild(el('span', ''));
    var i = s.appendChild(el('i', ''));
    i.style.background = 'var(--' + x[0] + ')';
    s.appendChild(document.createTextNode(x[1]));
  });
  legend.appendChild(el('span', '', 'marks: syscalls, off-CPU waits, connects, episodes'));
  ui.axis = body.appendChild(el('div', 'axis'));
  ui.wf = body.appendChild(el('div', 'wf'));
  ui.wf.setAttribute('role', 'list');
  ui.spacer = ui.wf.appendChild(el('div', 'spacer'));
  ui.wf.addEventListener('scroll', schedule);
  window.addEventListener('resize', schedule);
  ui.panel = body.appendChild(el('div', 'panel'));
  ui.panel.hidden = true;
  showTrace();
}

function showTrace() {
  var t = trace();
  t.byProc = t.byProc || indexEvidence(t);
  ui.sub.textContent = t.title + ' \u00b7 trace ' + t.traceId + ' \u00b7 ' + new Date(t.startEpochMs).toISOString() +
    ' \u00b7 ' + fmt(t.duration) + ' \u00b7 ' + plural(t.processes.length, 'process', 'processes') + ' \u00b7 ' + plural(t.evidence.length, 'evidence span', 'evidence spans');
  ui.summary.textContent = t.summary;
  drawCauses(t);
  drawAxis(t);
  ui.panel.hidden = true;
  filter();
}

function indexEvidence(t) {
  var by = t.processes.map(function () { return []; });
  t.evidence.forEach(function (e, i) { if (by[e.proc]) by[e.proc].push(i); });
  by.forEach(function (list) {
    if (list.length > MARKS_PER_ROW) {
      list.sort(function (a, b) { return (t.evidence[b].end - t.evidence[b].start) - (t.evidence[a].end - t.evidence[a].start); });
      list.length = MARKS_PER_ROW;
    }
  });
  return by;
}

function drawCauses(t) {
  ui.causes.textContent = '';
  if (t.causes.length === 0) { ui.causes.appendChild(el('div', 'nocause', 'No cause found in this trace.')); return; }
  t.causes.forEach(function (c, i) {
    var b = el('button', 'cause');
    b.type = 'button';
    b.setAttribute('aria-pressed', 'false');
    b.dataset.cause = c.id;
    b.appendChild(el('span', 'id', (i + 1) + '. ' + c.id));
    b.appendChild(document.createTextNode(' \u2014 ' + c.process + ' (pid ' + c.pid + ')'));
    b.appendChild(el('span', 'ev', c.evidence));
    b.appendChild(el('span', 'fix', c.hint));
    b.addEventListener('click', function () { selectCause(i === st.cause ? -1 : i); });
    ui.causes.appendChild(b);
  });
}

function selectCause(i) {
  var t = trace();
  st.cause = i;
  st.hl = {};
  var buttons = ui.causes.querySelectorAll('button.cause');
  for (var k = 0; k < buttons.length; k++) buttons[k].setAttribute('aria-pressed', k === i ? 'true' : 'false');
  if (i >= 0) {
    var id = t.causes[i].id;
    t.processes.forEach(function (p, n) { if (p.causes.indexOf(id) !== -1) st.hl[n] = true; });
    st.hl[t.causes[i].proc] = true;
    var row = st.rows.indexOf(t.causes[i].proc);
    if (row === -1 && st.query) { ui.search.value = ''; st.query = ''; filter(); row = st.rows.indexOf(t.causes[i].proc); }
    if (row !== -1) ui.wf.scrollTop = Math.max(0, row * ROW - ui.wf.clientHeight / 3);
    select(t.causes[i].proc);
  }
  schedule();
}

function drawAxis(t) {
  ui.axis.textContent = '';
  var step = niceStep(t.duration / 8);
  for (var x = 0; x <= t.duration; x += step) {
    var s = ui.axis.appendChild(el('span', '', x === 0 ? '0' : fmt(x)));
    s.style.left = (x / t.duration * 100) + '%';
  }
}
function niceStep(raw) {
  var p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  var m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function matches(t, n, q) {
  var p = t.processes[n];
  if (p.name.toLowerCase().indexOf(q) !== -1 || p.cmd.toLowerCase().indexOf(q) !== -1 || String(p.pid) === q) return true;
  var list = t.byProc[n];
  for (var i = 0; i < list.length; i++) {
    var e = t.evidence[list[i]];
    if (e.detail.toLowerCase().indexOf(q) !== -1 || e.name.toLowerCase().indexOf(q) !== -1) return true;
  }
  return false;
}

function filter() {
  var t = trace();
  st.rows = [];
  for (var n = 0; n < t.processes.length; n++) if (!st.query || matches(t, n, st.query)) st.rows.push(n);
  ui.count.textContent = st.query ? st.rows.length + ' of ' + t.processes.length + ' processes match' : plural(t.processes.length, 'process', 'processes');
  ui.spacer.style.height = (st.rows.length * ROW) + 'px';
  schedule();
}

function schedule() {
  if (st.scheduled) return;
  st.scheduled = true;
  requestAnimationFrame(function () { st.scheduled = false; render(); });
}

function render() {
  var t = trace();
  var first = Math.max(0, Math.floor(ui.wf.scrollTop / ROW) - OVERSCAN);
  var last = Math.min(st.rows.length, Math.ceil((ui.wf.scrollTop + ui.wf.clientHeight) / ROW) + OVERSCAN);
  ui.axis.style.marginRight = (ui.wf.offsetWidth - ui.wf.clientWidth) + 'px';
  var frag = document.createDocumentFragment();
  for (var r = first; r < last; r++) frag.appendChild(rowEl(t, st.rows[r], r));
  ui.spacer.textContent = '';
  ui.spacer.appendChild(frag);
}

function pct(ns, t) { return (ns / t.duration * 100) + '%'; }

function rowEl(t, n, r) {
  var p = t.processes[n];
  var row = el('div', 'row' + (st.hl[n] ? ' hl' : '') + (st.sel === n ? ' sel' : '') + (p.error ? ' err' : ''));
  row.setAttribute('role', 'listitem');
  row.dataset.pid = String(p.pid);
  row.dataset.proc = String(n);
  row.style.top = (r * ROW) + 'px';
  var label = row.appendChild(el('div', 'label'));
  label.style.paddingLeft = (6 + Math.min(p.depth, 24) * 12) + 'px';
  label.appendChild(el('span', 'name', p.name));
  label.appendChild(el('span', 'pid', p.pid));
  label.title = p.name + ' (pid ' + p.pid + ') ' + p.exit + ', ' + fmt(p.end - p.start) + '\n' + p.cmd;
  var track = row.appendChild(el('div', 'track'));
  var bar = track.appendChild(el('div', 'bar'));
  bar.style.left = pct(p.start, t);
  bar.style.width = pct(Math.max(0, p.end - p.start), t);
  var sum = p.on + p.rq + p.s + p.d;
  if (sum > 0) {
    [['on', p.on], ['rq', p.rq], ['s', p.s], ['d', p.d]].forEach(function (x) {
      if (x[1] <= 0) return;
      var seg = bar.appendChild(el('i', x[0]));
      seg.style.width = (x[1] / sum * 100) + '%';
    });
  }
  bar.title = 'on CPU ' + fmt(p.on) + ' \u00b7 waiting for a CPU ' + fmt(p.rq) + ' \u00b7 sleeping ' + fmt(p.s) + ' \u00b7 D ' + fmt(p.d) + ' (summed over threads)';
  var list = t.byProc[n];
  for (var i = 0; i < list.length; i++) {
    var e = t.evidence[list[i]];
    var m = track.appendChild(el('div', 'mark ' + e.kind + (e.error ? ' err' : '') +
      (st.query && (e.detail.toLowerCase().indexOf(st.query) !== -1 || e.name.toLowerCase().indexOf(st.query) !== -1) ? ' match' : '')));
    m.style.left = pct(e.start, t);
    m.style.width = pct(Math.max(0, e.end - e.start), t);
    m.title = e.name + ' ' + e.detail;
  }
  row.addEventListener('click', function () { select(n); schedule(); });
  return row;
}

function select(n) {
  var t = trace();
  var p = t.processes[n];
  st.sel = n;
  ui.panel.hidden = false;
  ui.panel.textContent = '';
  ui.panel.appendChild(el('h2', '', p.name + ' (pid ' + p.pid + '): ' + p.exit + ' after ' + fmt(p.end - p.start)));
  if (p.cmd) ui.panel.appendChild(el('pre', '', p.cmd));
  var table = ui.panel.appendChild(el('table', ''));
  p.attrs.forEach(function (kv) {
    var tr = table.appendChild(el('tr', ''));
    tr.appendChild(el('td', '', kv[0]));
    tr.appendChild(el('td', '', kv[1]));
  });
  var list = t.byProc[n];
  if (list.length) {
    ui.panel.appendChild(el('h3', '', 'evidence (' + list.length + (list.length >= MARKS_PER_ROW ? ', the longest' : '') + ')'));
    var ul = ui.panel.appendChild(el('ul', ''));
    list.slice().sort(function (a, b) { return t.evidence[a].start - t.evidence[b].start; }).forEach(function (k) {
      var e = t.evidence[k];
      ul.appendChild(el('li', '', '+' + fmt(e.start) + ' ' + e.name + ' ' + e.detail));
    });
  }
}

build();
})();
`;
