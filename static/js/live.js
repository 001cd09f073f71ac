// live.js: live values (docs/ui-contract.md, "Live values").
//
// Every element with data-point="ID" shows point ID. The fields inside it (or on it) with data-field="value",
// "quality" or "time" get the formatted value, the quality in words and the time; the element gets the q-* classes
// of its quality and, for discrete points, state-N. Everything is written with textContent: a device or user text
// such as "<script>" stays text.

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

function valueText(p) {
  if (typeof p.text === 'string') return p.text;
  if (p.value === null || p.value === undefined) return '—';
  return String(p.value);
}

function show(el, p) {
  const q = p.quality || {};
  const text = valueText(p);
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
