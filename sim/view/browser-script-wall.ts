/**
 * The timeline page's script: plain browser JavaScript, no libraries, run in the browser that
 * opens the page — never in the simulator. Its wall-clock reads (performance.now) time the
 * page's own loading and drawing, for the view test; model time is the data's, never the wall's.
 */
export const SCRIPT = String.raw`
(() => {
'use strict';
const started = performance.now();
const DATA = JSON.parse(document.getElementById('modemsim-data').textContent);
const $ = (id) => document.getElementById(id);
const canvas = $('canvas');
const ctx = canvas.getContext('2d');
const KIND = { c: 'command', d: 'data', e: 'echo', r: 'response', u: 'URC', p: 'prompt' };
const COLOR = { c: '#2563eb', d: '#7c3aed', e: '#9ca3af', r: '#0891b2', u: '#ea580c', p: '#16a34a' };
const RANK = { '#9ca3af': 0, '#0891b2': 1, '#2563eb': 2, '#7c3aed': 3, '#16a34a': 4, '#ea580c': 5, '#374151': 1 };
const MARK_COLOR = { net: '#0d9488', faults: '#dc2626', steps: '#6b7280' };
const RULER = 26;
const ROWH = 20;
const VIRTUAL_ABOVE = 3000;
const FONT = '11px ui-monospace, Menlo, Consolas, monospace';
let S = null;
let lanes = [];
let rows = [];
let view = { a: 0, b: 1 };
let sel = null;
let W = 0, H = 0, dpr = 1, charW = 6.6;
let drawPending = false;
let lastDrawMs = 0;

const esc = (s) => {
  let o = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13) o += '\\r';
    else if (c === 10) o += '\\n';
    else if (c === 9) o += '\\t';
    else if (c < 32 || c === 127) o += '\\x' + c.toString(16).padStart(2, '0');
    else o += s[i];
  }
  return o;
};
const fmtT = (ns) => (ns / 1e9).toFixed(9) + ' s';
const fmtDur = (ns) => ns < 1e3 ? ns + ' ns' : ns < 1e6 ? (ns / 1e3).toFixed(3) + ' µs' : ns < 1e9 ? (ns / 1e6).toFixed(3) + ' ms' : (ns / 1e9).toFixed(6) + ' s';
const lowerBound = (arr, t) => {
  let lo = 0, hi = arr.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (arr[m][0] < t) lo = m + 1; else hi = m;
  }
  return lo;
};
const hue = (s) => {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h % 360;
};
const maxDur = (items) => {
  let m = 0;
  for (const it of items) m = Math.max(m, it[1] - it[0]);
  return m;
};

function setup(session) {
  S = session;
  lanes = [];
  sel = null;
  let y = RULER;
  const add = (l) => { l.y = y; y += l.h; lanes.push(l); };
  add({ id: 'rx', label: 'host → module', type: 'line', items: S.rx, h: 30, maxDur: maxDur(S.rx) });
  add({ id: 'tx', label: 'module → host', type: 'line', items: S.tx, h: 30, maxDur: maxDur(S.tx) });
  const stateTop = y;
  const stateRows = S.state.length > 0 ? S.state : [{ what: '', label: '(no state records)', segs: [] }];
  // tall enough together for the group's vertical label
  const stateH = Math.max(20, Math.ceil(76 / stateRows.length));
  stateRows.forEach((row, k) => add({ id: 'state' + k, label: row.label, type: 'state', row, items: row.segs, h: stateH, sub: true }));
  const stateBottom = y;
  add({ id: 'net', label: 'network & broker', type: 'mark', items: S.net, h: 26 });
  add({ id: 'faults', label: 'faults & guards', type: 'mark', items: S.faults, h: 26 });
  add({ id: 'steps', label: 'steps & boots', type: 'mark', items: S.steps, h: 26 });
  H = y + 6;
  const labels = $('labels');
  labels.replaceChildren();
  labels.style.height = H + 'px';
  const group = document.createElement('div');
  group.className = 'lane-group';
  group.textContent = 'modem state';
  group.style.top = stateTop + 'px';
  group.style.height = stateBottom - stateTop + 'px';
  labels.append(group);
  for (const l of lanes) {
    const d = document.createElement('div');
    d.className = 'lane-label' + (l.sub ? ' sub' : '');
    d.dataset.lane = l.id;
    d.textContent = l.label;
    d.title = l.type === 'state' && l.row.what ? l.row.what : l.label;
    d.style.top = l.y + 'px';
    d.style.height = l.h + 'px';
    labels.append(d);
  }
  $('info').textContent = S.info + ' · ' + S.records + ' records · ' + S.tx.length + ' lines out, ' + S.rx.length + ' in';
  buildRows();
  fit();
  resize();
}

function buildRows() {
  rows = [];
  const lane = (id) => lanes.find((l) => l.id === id);
  for (const id of ['rx', 'tx', 'net', 'faults', 'steps']) {
    const l = lane(id);
    l.items.forEach((it, i) => rows.push({ t: it[0], l, i }));
  }
  for (const l of lanes) {
    if (l.type !== 'state') continue;
    l.items.forEach((it, i) => { if (i > 0) rows.push({ t: it[0], l, i }); });
  }
  rows.sort((a, b) => a.t - b.t || lanes.indexOf(a.l) - lanes.indexOf(b.l) || a.i - b.i);
  rows.forEach((r, k) => { r.k = k; });
  for (const l of lanes) l.rowOf = new Map();
  for (const r of rows) r.l.rowOf.set(r.i, r.k);
  const list = $('list');
  const inner = $('list-inner');
  inner.replaceChildren();
  list.scrollTop = 0;
  if (rows.length <= VIRTUAL_ABOVE) {
    inner.style.height = '';
    for (const r of rows) inner.append(rowEl(r, false));
  } else {
    inner.style.height = rows.length * ROWH + 'px';
    renderList();
  }
}

function rowText(r) {
  const it = r.l.items[r.i];
  if (r.l.type === 'line') return { kind: KIND[it[2]], text: esc(it[3]), color: COLOR[it[2]] };
  if (r.l.type === 'state') return { kind: 'state', text: r.l.label + ' → ' + it[1], color: '#4b5563' };
  return { kind: r.l.id === 'net' ? 'net' : r.l.id === 'faults' ? 'fault' : 'step', text: it[1] + (it[2] ? ' ' + it[2] : ''), color: MARK_COLOR[r.l.id] };
}

function rowEl(r, virtual) {
  const d = document.createElement('div');
  d.className = 'row' + (virtual ? ' virtual' : '') + (sel && sel.l === r.l && sel.i === r.i ? ' selected' : '');
  d.dataset.k = r.k;
  d.dataset.lane = r.l.id;
  if (virtual) d.style.top = r.k * ROWH + 'px';
  const x = rowText(r);
  const t = document.createElement('span'); t.className = 't'; t.textContent = fmtT(r.t);
  const lane = document.createElement('span'); lane.className = 'lane'; lane.textContent = r.l.type === 'state' ? 'modem state' : r.l.label;
  const kind = document.createElement('span'); kind.className = 'kind'; kind.textContent = x.kind; kind.style.setProperty('--c', x.color);
  const text = document.createElement('span'); text.className = 'text'; text.textContent = x.text.length > 400 ? x.text.slice(0, 400) + '…' : x.text;
  d.append(t, lane, kind, text);
  return d;
}

function renderList() {
  if (rows.length <= VIRTUAL_ABOVE) return;
  const list = $('list');
  const inner = $('list-inner');
  const first = Math.max(0, Math.floor(list.scrollTop / ROWH) - 10);
  const last = Math.min(rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROWH) + 10);
  const out = [];
  for (let k = first; k < last; k++) out.push(rowEl(rows[k], true));
  inner.replaceChildren(...out);
}

function fit() {
  const span = Math.max(S.end - S.start, 1e6);
  view = { a: S.start - span * 0.01, b: S.start + span * 1.01 };
  schedule();
}

function resize() {
  const wrap = $('canvas-wrap');
  dpr = window.devicePixelRatio || 1;
  W = Math.max(100, wrap.clientWidth);
  canvas.style.width = W + 'px';
  canvas.style.height = H + 'px';
  canvas.width = Math.round(W * dpr);
  canvas.height = Math.round(H * dpr);
  ctx.font = FONT;
  charW = ctx.measureText('0000000000').width / 10;
  schedule();
}

function schedule() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(draw);
}

const xOf = (t) => (t - view.a) * W / (view.b - view.a);
const tOf = (x) => view.a + x * (view.b - view.a) / W;

function fitText(text, room) {
  const n = Math.floor(room / charW);
  if (n <= 1) return '';
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

function draw() {
  drawPending = false;
  const began = performance.now();
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  ctx.font = FONT;
  ctx.textBaseline = 'middle';
  lanes.forEach((l, n) => {
    ctx.fillStyle = n % 2 ? '#fafafa' : '#ffffff';
    ctx.fillRect(0, l.y, W, l.h);
    ctx.fillStyle = '#f3f4f6';
    ctx.fillRect(0, l.y + l.h - 1, W, 1);
    if (l.type === 'line') drawLines(l);
    else if (l.type === 'mark') drawMarks(l);
    else drawState(l);
  });
  drawRuler();
  if (sel) drawSelection();
  lastDrawMs = performance.now() - began;
}

function drawRuler() {
  ctx.fillStyle = '#f9fafb';
  ctx.fillRect(0, 0, W, RULER);
  ctx.fillStyle = '#e5e7eb';
  ctx.fillRect(0, RULER - 1, W, 1);
  const span = view.b - view.a;
  const raw = span * 90 / W;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
  const decimals = Math.min(9, Math.max(0, 9 - Math.floor(Math.log10(step))));
  ctx.fillStyle = '#6b7280';
  for (let t = Math.ceil(view.a / step) * step; t <= view.b; t += step) {
    const x = Math.round(xOf(t)) + 0.5;
    ctx.fillRect(x, RULER - 7, 1, 6);
    ctx.fillText((t / 1e9).toFixed(decimals) + ' s', x + 3, 9);
    ctx.fillStyle = 'rgba(0,0,0,0.05)';
    ctx.fillRect(x, RULER, 1, H - RULER);
    ctx.fillStyle = '#6b7280';
  }
}

function drawLines(l) {
  const items = l.items;
  const top = l.y + 4, h = l.h - 8;
  let i = lowerBound(items, view.a - l.maxDur);
  let runA = 0, runB = -1, runC = null;
  const labels = [];
  let labelUntil = -Infinity;
  const runs = [];
  const flush = () => {
    if (runC === null) return;
    runs.push([runA, runB, runC]);
    runC = null;
  };
  for (; i < items.length; i++) {
    const it = items[i];
    if (it[0] > view.b) break;
    if (it[1] < view.a) continue;
    const x0 = xOf(it[0]);
    let x1 = xOf(it[1]);
    if (x1 - x0 < 1) x1 = x0 + 1;
    const c = COLOR[it[2]] || '#374151';
    // touching items of one kind are one rect; items of mixed kinds share a rect only within
    // one pixel column, coloured by the most telling kind among them (a URC, a prompt): at
    // most ~one rect per column however many items there are
    if (runC !== null && x0 <= runB + 1 && (c === runC || Math.floor(x0) <= Math.floor(runA))) {
      runB = Math.max(runB, x1);
      if (RANK[c] > RANK[runC]) runC = c;
    } else { flush(); runA = x0; runB = x1; runC = c; }
    if (x0 >= labelUntil) {
      const next = items[i + 1];
      const room = Math.min(next ? xOf(next[0]) : W, W) - Math.max(x0, 0) - 6;
      if (room > charW * 3) {
        const text = fitText(esc(it[3]), room);
        labels.push([Math.max(x0, 0) + 4, text]);
        labelUntil = Math.max(x0, 0) + text.length * charW + 8;
      }
    }
  }
  flush();
  // the rare kinds (URC, prompt, data) last, so a column of them is never painted over
  for (const pass of [false, true]) {
    for (const [a, b, c] of runs) {
      if ((RANK[c] >= 3) !== pass) continue;
      if (b - a < 3) {
        ctx.fillStyle = c;
        ctx.fillRect(a, top, b - a, h);
      } else {
        ctx.fillStyle = c + '33';
        ctx.fillRect(a, top, b - a, h);
        ctx.fillStyle = c;
        ctx.fillRect(a, top, 2, h);
      }
    }
  }
  ctx.fillStyle = '#111827';
  for (const [x, text] of labels) ctx.fillText(text, x, l.y + l.h / 2);
}

function drawMarks(l) {
  const items = l.items;
  const color = MARK_COLOR[l.id];
  let i = lowerBound(items, view.a - (view.b - view.a) * 0.01);
  let lastX = -Infinity;
  let labelUntil = -Infinity;
  for (; i < items.length; i++) {
    const it = items[i];
    if (it[0] > view.b) break;
    const x = Math.round(xOf(it[0]));
    const guard = l.id === 'faults' && it[1].startsWith('guard');
    if (x !== lastX) {
      ctx.fillStyle = guard ? '#7f1d1d' : color;
      ctx.fillRect(x - 1, l.y + 3, 2, l.h - 6);
      lastX = x;
    }
    if (x >= labelUntil) {
      const next = items[i + 1];
      const room = Math.min(next ? xOf(next[0]) : W, W) - x - 6;
      if (room > charW * 3) {
        const text = fitText(it[1], room);
        ctx.fillStyle = '#111827';
        ctx.fillText(text, x + 4, l.y + l.h / 2);
        labelUntil = x + text.length * charW + 8;
      }
    }
  }
}

function drawState(l) {
  const segs = l.items;
  if (segs.length === 0) return;
  let i = Math.max(0, lowerBound(segs, view.a) - 1);
  for (; i < segs.length; i++) {
    const s = segs[i];
    if (s[0] > view.b) break;
    const until = i + 1 < segs.length ? segs[i + 1][0] : Math.max(S.end, view.b);
    const x0 = Math.max(0, xOf(s[0]));
    const x1 = Math.min(W, xOf(until));
    if (x1 <= 0) continue;
    ctx.fillStyle = 'hsl(' + hue(s[1]) + ',55%,86%)';
    ctx.fillRect(x0, l.y + 2, Math.max(1, x1 - x0), l.h - 4);
    ctx.fillStyle = 'hsl(' + hue(s[1]) + ',55%,45%)';
    ctx.fillRect(x0, l.y + 2, 1, l.h - 4);
    if (x1 - x0 > charW * 3) {
      ctx.fillStyle = '#111827';
      ctx.fillText(fitText(s[1], x1 - x0 - 6), x0 + 4, l.y + l.h / 2);
    }
  }
}

function extent(l, i) {
  const it = l.items[i];
  if (l.type === 'line') return [it[0], it[1]];
  if (l.type === 'state') return [it[0], i + 1 < l.items.length ? l.items[i + 1][0] : S.end];
  return [it[0], it[0]];
}

function drawSelection() {
  const [a, b] = extent(sel.l, sel.i);
  const x0 = xOf(a) - 2, x1 = Math.max(xOf(b), xOf(a) + 1) + 2;
  ctx.strokeStyle = '#1d4ed8';
  ctx.lineWidth = 2;
  ctx.strokeRect(x0, sel.l.y + 1, x1 - x0, sel.l.h - 2);
}

function hit(x, y) {
  const l = lanes.find((q) => y >= q.y && y < q.y + q.h);
  if (!l || l.items.length === 0) return null;
  const t = tOf(x);
  const tol = 5 * (view.b - view.a) / W;
  if (l.type === 'state') {
    const i = lowerBound(l.items, t + 1) - 1;
    return i >= 0 ? { l, i } : null;
  }
  const wide = l.type === 'line' ? l.maxDur : 0;
  let best = null, bestD = Infinity;
  for (let i = lowerBound(l.items, t - tol - wide); i < l.items.length; i++) {
    const [a, b] = extent(l, i);
    if (a > t + tol) break;
    const d = t < a ? a - t : t > b ? t - b : 0;
    if (d <= tol && d < bestD) { best = { l, i }; bestD = d; }
  }
  return best;
}

function describe(h) {
  const it = h.l.items[h.i];
  if (h.l.type === 'line') {
    return h.l.label + ' · ' + KIND[it[2]] + '\n' + fmtT(it[0]) + ' … ' + fmtT(it[1]) + ' (' + fmtDur(it[1] - it[0]) + ', ' + it[3].length + ' bytes)\n' + (esc(it[3]).slice(0, 300) || '(empty)') + '\nclick for the bytes';
  }
  if (h.l.type === 'state') {
    const [a, b] = extent(h.l, h.i);
    return h.l.label + ': ' + it[1] + '\nfrom ' + fmtT(a) + ' for ' + fmtDur(b - a);
  }
  return h.l.label + ' · ' + it[1] + '\n' + fmtT(it[0]) + (it[2] ? '\n' + it[2].slice(0, 300) : '');
}

function hexDump(text) {
  const out = [];
  for (let off = 0; off < text.length; off += 16) {
    const chunk = text.slice(off, off + 16);
    let hex = '', asc = '';
    for (let j = 0; j < 16; j++) {
      if (j < chunk.length) {
        const c = chunk.charCodeAt(j);
        hex += c.toString(16).padStart(2, '0') + ' ';
        asc += c >= 32 && c < 127 ? chunk[j] : '.';
      } else hex += '   ';
    }
    out.push(off.toString(16).padStart(6, '0') + '  ' + hex + ' |' + asc + '|');
  }
  return out.join('\n');
}

function showDetail(h) {
  const d = $('detail');
  d.replaceChildren();
  const add = (tag, text, cls) => {
    const e = document.createElement(tag);
    e.textContent = text;
    if (cls) e.className = cls;
    d.append(e);
    return e;
  };
  if (!h) { add('p', 'Click a line, a state or an event for its details and bytes.', 'muted'); return; }
  const it = h.l.items[h.i];
  if (h.l.type === 'line') {
    add('h3', h.l.label + ' · ' + KIND[it[2]]);
    add('div', 'first byte ' + fmtT(it[0]) + ' · last byte ' + fmtT(it[1]) + ' · ' + fmtDur(it[1] - it[0]));
    add('div', it[3].length + ' bytes (times are the ends of the stop bits; the line terminator is not shown)', 'muted');
    add('pre', esc(it[3]) || '(empty)', 'text');
    add('pre', hexDump(it[3]), 'hex');
  } else if (h.l.type === 'state') {
    const [a, b] = extent(h.l, h.i);
    add('h3', 'modem state · ' + h.l.label);
    add('div', it[1] + ' from ' + fmtT(a) + ' for ' + fmtDur(b - a));
    if (h.l.row.what) add('div', h.l.row.what, 'muted');
  } else {
    add('h3', h.l.label + ' · ' + it[1]);
    add('div', fmtT(it[0]));
    if (it[2]) {
      let pretty = it[2];
      try { pretty = JSON.stringify(JSON.parse(it[2]), null, 2); } catch (e) { /* plain text detail */ }
      add('pre', pretty);
    }
  }
}

function select(h, reveal) {
  sel = h;
  showDetail(h);
  if (h && reveal) {
    // off screen or too thin to see: centre it, zoomed so it and its neighbours show
    const [a, b] = extent(h.l, h.i);
    const span = view.b - view.a;
    if (b < view.a || a > view.b || (b - a) * W / span < 3) {
      const next = Math.min(span, Math.max((b - a) * 10, 2e7));
      view = { a: (a + b) / 2 - next / 2, b: (a + b) / 2 + next / 2 };
    }
  }
  const list = $('list');
  const k = h ? h.l.rowOf.get(h.i) : undefined;
  if (k !== undefined) {
    if (k * ROWH < list.scrollTop || (k + 1) * ROWH > list.scrollTop + list.clientHeight) list.scrollTop = k * ROWH - list.clientHeight / 2;
  }
  if (rows.length > VIRTUAL_ABOVE) renderList();
  else for (const e of $('list-inner').children) e.classList.toggle('selected', h !== null && Number(e.dataset.k) === k);
  schedule();
}

function zoom(factor, x) {
  const span = view.b - view.a;
  const full = Math.max(S.end - S.start, 1e6) * 1.5;
  const next = Math.min(full, Math.max(200, span * factor));
  const at = x === undefined ? W / 2 : x;
  const tm = tOf(at);
  view = { a: tm - at / W * next, b: tm - at / W * next + next };
  schedule();
}

function pan(dx) {
  const d = dx * (view.b - view.a) / W;
  view = { a: view.a - d, b: view.b - d };
  schedule();
}

const tip = $('tip');
let drag = null;
canvas.addEventListener('wheel', (e) => {
  e.preventDefault();
  const r = canvas.getBoundingClientRect();
  if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) pan(-(e.deltaX || e.deltaY));
  else zoom(Math.exp(e.deltaY * 0.0015), e.clientX - r.left);
}, { passive: false });
canvas.addEventListener('pointerdown', (e) => {
  drag = { x: e.clientX, a: view.a, b: view.b, moved: false };
  canvas.setPointerCapture(e.pointerId);
  canvas.classList.add('dragging');
});
canvas.addEventListener('pointermove', (e) => {
  const r = canvas.getBoundingClientRect();
  const x = e.clientX - r.left, y = e.clientY - r.top;
  $('cursor').textContent = 'cursor ' + fmtT(Math.round(tOf(x)));
  if (drag) {
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    const d = dx * (drag.b - drag.a) / W;
    view = { a: drag.a - d, b: drag.b - d };
    tip.hidden = true;
    schedule();
    return;
  }
  const h = hit(x, y);
  if (!h) { tip.hidden = true; return; }
  tip.textContent = describe(h);
  tip.hidden = false;
  const left = Math.min(x + 14, W - 320);
  tip.style.left = Math.max(0, left) + 'px';
  tip.style.top = y + 16 + 'px';
});
canvas.addEventListener('pointerleave', () => { tip.hidden = true; });
canvas.addEventListener('pointerup', (e) => {
  canvas.classList.remove('dragging');
  const was = drag;
  drag = null;
  if (was && !was.moved) {
    const r = canvas.getBoundingClientRect();
    select(hit(e.clientX - r.left, e.clientY - r.top), false);
  }
});
canvas.addEventListener('dblclick', (e) => {
  const r = canvas.getBoundingClientRect();
  zoom(0.25, e.clientX - r.left);
});
$('list').addEventListener('scroll', renderList);
$('list').addEventListener('click', (e) => {
  const row = e.target.closest('.row');
  if (!row) return;
  const r = rows[Number(row.dataset.k)];
  select({ l: r.l, i: r.i }, true);
});
$('fit').addEventListener('click', fit);
$('zoom-in').addEventListener('click', () => zoom(0.5));
$('zoom-out').addEventListener('click', () => zoom(2));
window.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLSelectElement) return;
  if (e.key === '+' || e.key === '=') zoom(0.5);
  else if (e.key === '-') zoom(2);
  else if (e.key === '0') fit();
  else if (e.key === 'ArrowLeft') pan(W / 8);
  else if (e.key === 'ArrowRight') pan(-W / 8);
});
window.addEventListener('resize', resize);
const chooser = $('session');
if (DATA.sessions.length > 1) {
  DATA.sessions.forEach((s, i) => {
    const o = document.createElement('option');
    o.value = String(i);
    o.textContent = s.name;
    chooser.append(o);
  });
  chooser.addEventListener('change', () => { setup(DATA.sessions[Number(chooser.value)]); showDetail(null); });
} else chooser.hidden = true;
if (DATA.sessions.length === 0) { $('info').textContent = 'no sessions in this trace'; return; }
setup(DATA.sessions[0]);
showDetail(null);
window.modemsimView = {
  get loadMs() { return loadMs; },
  get drawMs() { return lastDrawMs; },
  get rows() { return rows.length; },
  get view() { return { a: view.a, b: view.b }; },
  zoom, pan, fit,
  selectRow: (k) => select({ l: rows[k].l, i: rows[k].i }, true),
  /** Where row k's item is drawn now, in canvas pixels. */
  itemBox: (k) => { const r = rows[k]; const [a, b] = extent(r.l, r.i); return { x0: xOf(a), x1: xOf(b), y: r.l.y, h: r.l.h }; },
  /** What the pointer would hit at canvas pixel (x, y): lane id and the item's text. */
  hitAt: (x, y) => { const h = hit(x, y); return h && { lane: h.l.id, text: rowText({ l: h.l, i: h.i }).text }; },
};
let loadMs = 0;
requestAnimationFrame(() => {
  loadMs = performance.now() - started;
  document.body.dataset.ready = 'true';
});
})();
`;
