// live.js: live values (docs/ui-contract.md, "Live values").
//
// Every element with data-point="ID" shows point ID. The fields inside it (or on it) with data-field="value",
// "quality", "time", "source_time" or "recv_time" get the formatted value, the quality in words and the times; the
// element gets the q-* classes of its quality and, for discrete points, state-N. Everything is written with
// textContent: a device or user text such as "<script>" stays text.
//
// The value's text comes from the server ("text" of the POINT object), so that every page says the same;
// formatNumber is the server's number rule (web/format.go), for a message without a text.

/** Quality flags of the contract: JSON field, class, words. */
const FLAGS = [
  ['iv', 'q-invalid', 'invalid'],
  ['nt', 'q-nt', 'not topical'],
  ['sb', 'q-sb', 'substituted'],
  ['bl', 'q-bl', 'blocked'],
  ['ov', 'q-ov', 'overflow'],
  ['commfail', 'q-commfail', 'comm fail'],
  ['stale', 'q-stale', 'stale'],
  ['initial', 'q-initial', 'no value yet'],
];
const BAD = ['iv', 'commfail', 'stale', 'initial'];
const DISCRETE = new Set(['single', 'double']);
const INTEGER_KINDS = new Set(['single', 'double', 'step', 'scaled', 'counter']);
const STATE_CLASS = /^state-\d+$/;
export const MAX_SUBSCRIPTION = 5000;

/** Quality in words: "good", or the flags joined with ", ". */
export function qualityText(q) {
  const words = FLAGS.filter(([f]) => q && q[f]).map(([, , w]) => w);
  return words.length === 0 ? 'good' : words.join(', ');
}

/** A time as local HH:MM:SS.mmm; "" for a missing or unparsable time. */
export function formatTime(t) {
  if (!t) return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  const p2 = (n) => String(n).padStart(2, '0');
  return p2(d.getHours()) + ':' + p2(d.getMinutes()) + ':' + p2(d.getSeconds()) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

/** Drops the trailing zeros of a decimal fraction, and its point when nothing is left after it. */
function trimZeros(s) {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/**
 * A number as people read it, by the server's rule (web/format.go formatNumber; both are tested against
 * web/testdata/numbers.json): kinds whose values are integers (single, double, step, scaled, counter) holding an
 * integer show all its digits (below 1e15); otherwise from 0.001 to below 1e9 in magnitude plain decimals, three
 * below 10, two below 100, one below 1000, none from 1000 on, rounded half away from zero (toFixed), trailing zeros
 * trimmed; beyond that, three significant digits in scientific notation ("1.23e+9", "5e-4"); never "-0"; NaN,
 * +Inf, -Inf.
 */
export function formatNumber(x, kind) {
  if (typeof x !== 'number') return String(x);
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return '0';
  if (INTEGER_KINDS.has(kind) && Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  let s;
  if (a >= 1e9 || a < 1e-3) {
    const [m, e] = a.toExponential(2).split('e');
    s = trimZeros(m) + 'e' + e;
  } else {
    s = trimZeros(a.toFixed(a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : 3));
  }
  return x < 0 && s !== '0' ? '-' + s : s;
}

/** A time as local YYYY-MM-DD HH:MM:SS.mmm; "" for a missing or unparsable time. */
export function formatDateTime(t) {
  if (!t) return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  const p2 = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p2(d.getMonth() + 1) + '-' + p2(d.getDate()) + ' ' + formatTime(t);
}

/**
 * The raw state of a discrete point as a small integer, or null. kind is the point's kind when known (from the
 * message or the element's data-kind); without it, a boolean or an integer 0..3 counts as a state.
 */
export function stateOf(value, kind) {
  let n = null;
  if (typeof value === 'boolean') n = value ? 1 : 0;
  else if (typeof value === 'number' && Number.isInteger(value)) n = value;
  if (n === null) return null;
  if (kind) return DISCRETE.has(kind) ? n : null;
  return n >= 0 && n <= 3 ? n : null;
}

export class LiveValues {
  constructor(root = document) {
    this.root = root;
    /** @type {Map<string, Element[]>} */
    this.byID = new Map();
    this.scan();
  }

  /** Collects the data-point elements again (after the page replaced part of its DOM). */
  scan() {
    this.byID.clear();
    for (const el of this.root.querySelectorAll('[data-point]')) {
      const id = el.getAttribute('data-point');
      if (!id) continue;
      if (!this.byID.has(id)) this.byID.set(id, []);
      this.byID.get(id).push(el);
    }
  }

  /** The IDs to subscribe to, at most MAX_SUBSCRIPTION. */
  ids() {
    return [...this.byID.keys()].slice(0, MAX_SUBSCRIPTION);
  }

  /** Applies a snapshot or points message; returns the number of points shown. */
  apply(points) {
    if (!Array.isArray(points)) return 0;
    let n = 0;
    for (const p of points) {
      if (!p || typeof p.id !== 'string') continue;
      const els = this.byID.get(p.id);
      if (!els) continue;
      for (const el of els) show(el, p);
      n++;
    }
    if (n > 0) document.dispatchEvent(new CustomEvent('hmi:points'));
    return n;
  }
}

/** The data-field elements that belong to el: el itself, and descendants not inside a nested data-point. */
function fields(el, name) {
  const out = [];
  if (el.getAttribute('data-field') === name) out.push(el);
  for (const f of el.querySelectorAll('[data-field="' + name + '"]')) {
    if (f.parentElement && f.parentElement.closest('[data-point]') === el) out.push(f);
  }
  return out;
}

/** The value's text: the server's, or (without one) the number by the server's rule with el's data-unit. */
function valueText(p, el) {
  if (typeof p.text === 'string') return p.text;
  if (p.value === null || p.value === undefined) return '—';
  if (typeof p.value !== 'number') return String(p.value);
  const unit = el.getAttribute('data-unit') || '';
  return formatNumber(p.value, p.kind || el.getAttribute('data-kind') || '') + (unit ? ' ' + unit : '');
}

/** Fills the data-field=name elements of el with the date and time t, or their data-none text without one. */
function showDateTime(el, name, t) {
  for (const f of fields(el, name)) {
    const text = formatDateTime(t);
    f.textContent = text || f.getAttribute('data-none') || '';
    f.classList.toggle('muted', text === '');
    if (f.localName === 'time') {
      if (text) f.setAttribute('datetime', t);
      else f.removeAttribute('datetime');
    }
  }
}

function show(el, p) {
  const q = p.quality || {};
  const text = valueText(p, el);
  for (const f of fields(el, 'value')) {
    if (f.textContent !== text) f.textContent = text;
  }
  const qtext = qualityText(q);
  for (const f of fields(el, 'quality')) {
    f.textContent = qtext;
  }
  const t = p.source_time || p.recv_time;
  const ttext = formatTime(t);
  for (const f of fields(el, 'time')) {
    f.textContent = ttext;
    if (t) {
      f.setAttribute('title', (p.source_time ? 'source time ' : 'received ') + new Date(t).toLocaleString());
      if (f.localName === 'time') f.setAttribute('datetime', t);
    }
  }
  showDateTime(el, 'source_time', p.source_time);
  showDateTime(el, 'recv_time', p.recv_time);

  const cl = el.classList;
  for (const [flag, cls] of FLAGS) cl.toggle(cls, Boolean(q[flag]));
  cl.toggle('q-bad', BAD.some((f) => q[f]));

  const kind = p.kind || el.getAttribute('data-kind') || '';
  const st = stateOf(p.value, kind);
  for (const c of [...cl]) {
    if (STATE_CLASS.test(c) && c !== 'state-' + st) cl.remove(c);
  }
  if (st !== null) cl.add('state-' + st);
}
