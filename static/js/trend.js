// trend.js: extends a server-rendered trend (figure.trend[data-trend=POINT-ID]) with the live values of its point.
//
// The server draws the last span of history (data-from-ms .. data-to-ms) into an SVG of data-width x
// data-height: a polyline.line of averages, a polygon.band of min/max, grid lines (line.grid) and labels. The plot
// area is read from the grid: the horizontal lines span it left to right, the vertical ones top to bottom. The
// script keeps the time of every vertex, and once a second slides the window to end now (same span), appends
// the live samples to the line, drops what left the window and renames the time labels under the vertical grid
// lines. Values outside data-min .. data-max are drawn at the edge. Samples of bad quality are left out.

const REDRAW_MS = 1000;
const MAX_LIVE = 3600;

function num(el, name, dflt) {
  const v = parseFloat(el.getAttribute(name) || '');
  return Number.isFinite(v) ? v : dflt;
}

function parsePoints(s) {
  const out = [];
  for (const pair of (s || '').trim().split(/\s+/)) {
    const [x, y] = pair.split(',').map(Number);
    if (Number.isFinite(x) && Number.isFinite(y)) out.push([x, y]);
  }
  return out;
}

/**
 * The vertices [time, y] of series (in time order) inside [from, to], starting with one interpolated at from when
 * the series began earlier, so that a line leaves the left edge instead of jumping in from a later vertex.
 */
export function clip(series, from, to) {
  const out = [];
  for (let i = 0; i < series.length; i++) {
    const [t, y] = series[i];
    if (t < from) {
      const next = series[i + 1];
      if (next && next[0] > from) out.push([from, y + ((from - t) / (next[0] - t)) * (next[1] - y)]);
      continue;
    }
    if (t > to) break;
    out.push([t, y]);
  }
  return out;
}

function hhmm(t) {
  const d = new Date(t);
  return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
}

export class Trend {
  constructor(fig) {
    this.fig = fig;
    this.id = fig.getAttribute('data-trend');
    this.svg = fig.querySelector('svg');
    this.line = fig.querySelector('polyline.line');
    this.band = fig.querySelector('polygon.band');
    this.from = num(fig, 'data-from-ms', 0);
    this.to = num(fig, 'data-to-ms', 0);
    this.min = num(fig, 'data-min', 0);
    this.max = num(fig, 'data-max', 1);
    const w = num(fig, 'data-width', 800);
    const h = num(fig, 'data-height', 240);
    this.span = this.to - this.from;
    this.plot = { left: 0, right: w, top: 0, bottom: h };
    const vertical = [];
    for (const g of fig.querySelectorAll('line.grid')) {
      const [x1, y1, x2, y2] = ['x1', 'y1', 'x2', 'y2'].map((a) => num(g, a, NaN));
      if (y1 === y2 && x1 !== x2) {
        this.plot.left = Math.min(x1, x2);
        this.plot.right = Math.max(x1, x2);
      } else if (x1 === x2 && y1 !== y2) {
        this.plot.top = Math.min(y1, y2);
        this.plot.bottom = Math.max(y1, y2);
        vertical.push(x1);
      }
    }
    // The time labels: the texts below the plot whose x is that of a vertical grid line.
    this.timeLabels = [...fig.querySelectorAll('text')]
      .filter((t) => num(t, 'y', 0) > this.plot.bottom && vertical.some((x) => Math.abs(x - num(t, 'x', NaN)) < 0.5))
      .map((t) => ({ el: t, f: (num(t, 'x', 0) - this.plot.left) / (this.plot.right - this.plot.left) }));
    // Vertices as [time, y]: y stays valid while min and max do.
    this.history = this.line ? parsePoints(this.line.getAttribute('points')).map(([x, y]) => [this.timeAt(x), y]) : [];
    // The band is the upper edge left to right, then the lower edge right to left.
    const band = this.band ? parsePoints(this.band.getAttribute('points')).map(([x, y]) => [this.timeAt(x), y]) : [];
    this.upper = band.slice(0, band.length / 2);
    this.lower = band.slice(band.length / 2).reverse();
    this.live = [];
    this.dirty = false;
    this.ok = this.line !== null && this.span > 0 && this.plot.right > this.plot.left;
    if (this.ok) setInterval(() => this.redraw(), REDRAW_MS);
  }

  timeAt(x) {
    return this.from + ((x - this.plot.left) / (this.plot.right - this.plot.left)) * this.span;
  }

  /** Takes the point's sample from a snapshot or points message. */
  add(p) {
    if (!this.ok || typeof p.value !== 'number' || !Number.isFinite(p.value)) return;
    const q = p.quality || {};
    if (q.iv || q.commfail || q.stale || q.initial) return;
    // The sample's time, but never before the last vertex: a snapshot brings values that changed long ago and
    // still hold, and they belong at the end of the line, now.
    const last = this.live[this.live.length - 1] || this.history[this.history.length - 1];
    let t = Date.parse(p.source_time || p.recv_time || '') || Date.now();
    if (last && t <= last[0]) t = Date.now();
    if (last && t <= last[0]) return;
    const f = (p.value - this.min) / (this.max - this.min);
    const y = this.plot.bottom - Math.min(1, Math.max(0, f)) * (this.plot.bottom - this.plot.top);
    this.live.push([t, Math.round(y * 10) / 10]);
    if (this.live.length > MAX_LIVE) this.live.shift();
    this.dirty = true;
  }

  redraw() {
    const now = Date.now();
    if (now <= this.to && !this.dirty) return;
    this.dirty = false;
    const to = Math.max(now, this.to);
    const from = to - this.span;
    const x = (t) => Math.round((this.plot.left + ((t - from) / this.span) * (this.plot.right - this.plot.left)) * 10) / 10;
    const fmt = (pts) => pts.map(([t, y]) => x(t) + ',' + Math.round(y * 10) / 10).join(' ');
    this.line.setAttribute('points', fmt(clip([...this.history, ...this.live], from, to)));
    if (this.band && this.upper.length > 0) {
      this.band.setAttribute('points', fmt([...clip(this.upper, from, to), ...clip(this.lower, from, to).reverse()]));
    }
    for (const l of this.timeLabels) l.el.textContent = hhmm(from + l.f * this.span);
  }
}

/** The trends of the page. */
export function initTrends(root = document) {
  return [...root.querySelectorAll('figure.trend[data-trend], .trend[data-trend]')].map((f) => new Trend(f));
}
