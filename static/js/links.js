// links.js: the live decoded traffic of a link (data-page="link").
//
// The page marks the view with data-traffic="LINK": a <table> (rows go to its first tbody) or any other element
// (rows are <div>s). The socket's hello asks for the link's traffic ({"type":"traffic","link":LINK}); each frame
// of a "traffic" message becomes a row (time, direction, decoded text), the newest at the bottom, at most
// MAX_ROWS rows. The view follows the newest frame while it is scrolled to the bottom. A pause button
// ([data-traffic-pause], created when the page has none) freezes the view: frames that arrive meanwhile are kept
// (up to MAX_ROWS) and shown on resume. Frames already shown (seq not above the last one) are skipped, so that a
// server that replays its ring buffer after a reconnection shows no duplicates.

import { formatTime } from './live.js';

export const MAX_ROWS = 500;

export class TrafficView {
  constructor(el) {
    this.el = el;
    this.link = el.getAttribute('data-traffic');
    this.table = el instanceof HTMLTableElement ? el : null;
    this.body = this.table ? this.table.tBodies[0] || this.table.createTBody() : el;
    this.scroller = this.table ? this.table.closest('.scroll, .traffic-scroll') || this.table.parentElement : el;
    this.paused = false;
    this.held = [];
    this.lastSeq = -1;
    this.fresh = false; // true after a reconnection, until the first traffic message
    this.button = document.querySelector('[data-traffic-pause]');
    if (!this.button) {
      this.button = document.createElement('button');
      this.button.type = 'button';
      this.button.className = 'traffic-pause';
      this.button.setAttribute('data-traffic-pause', '');
      (this.table || el).before(this.button);
    }
    this.button.addEventListener('click', () => this.toggle());
    this.label();
  }

  /** The hello message for the socket. */
  hello() {
    return { type: 'traffic', link: this.link };
  }

  reconnected() {
    this.fresh = true;
  }

  /** Handles a "traffic" message. */
  receive(msg) {
    if (msg.link !== this.link || !Array.isArray(msg.frames)) return;
    let frames = msg.frames.filter((f) => f && typeof f === 'object');
    if (this.fresh && frames.length > 0) {
      this.fresh = false;
      const max = Math.max(...frames.map((f) => Number(f.seq) || 0));
      if (max <= this.lastSeq) {
        // Everything is older than what we have: the server restarted and counts again.
        this.lastSeq = -1;
        this.separator('server restarted');
      }
    }
    frames = frames.filter((f) => typeof f.seq !== 'number' || f.seq > this.lastSeq);
    for (const f of frames) {
      if (typeof f.seq === 'number') this.lastSeq = f.seq;
    }
    if (frames.length === 0) return;
    if (this.paused) {
      this.held.push(...frames);
      if (this.held.length > MAX_ROWS) this.held.splice(0, this.held.length - MAX_ROWS);
      this.label();
      return;
    }
    this.append(frames);
  }

  toggle() {
    this.paused = !this.paused;
    if (!this.paused && this.held.length > 0) {
      const held = this.held;
      this.held = [];
      this.append(held);
    }
    this.label();
  }

  label() {
    this.button.setAttribute('aria-pressed', String(this.paused));
    this.button.textContent = this.paused
      ? 'Resume' + (this.held.length > 0 ? ' (' + this.held.length + ' new)' : '')
      : 'Pause';
  }

  atBottom() {
    const s = this.scroller;
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  append(frames) {
    const follow = this.atBottom();
    const frag = document.createDocumentFragment();
    for (const f of frames) frag.append(this.row(f));
    this.body.append(frag);
    this.trim();
    if (follow && this.scroller) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  trim() {
    const rows = this.table ? this.body.rows : this.body.children;
    let extra = rows.length - MAX_ROWS;
    while (extra-- > 0) rows[0].remove();
  }

  row(f) {
    const dir = f.dir === 'tx' ? 'tx' : 'rx';
    const cells = [formatTime(f.time), dir === 'tx' ? 'TX →' : 'RX ←', String(f.text ?? '')];
    const row = document.createElement(this.table ? 'tr' : 'div');
    row.className = 'frame dir-' + dir;
    if (typeof f.seq === 'number') row.setAttribute('data-seq', String(f.seq));
    for (const [i, text] of cells.entries()) {
      const c = document.createElement(this.table ? 'td' : 'span');
      c.className = ['frame-time', 'frame-dir', 'frame-text'][i];
      c.textContent = text;
      row.append(c);
    }
    return row;
  }

  separator(text) {
    const row = document.createElement(this.table ? 'tr' : 'div');
    row.className = 'frame frame-separator';
    const c = document.createElement(this.table ? 'td' : 'span');
    if (this.table) c.colSpan = 3;
    c.textContent = '— ' + text + ' —';
    row.append(c);
    this.body.append(row);
  }
}
