// alarms.js: the alarm banner of every page, the audible alarm, the actions of the alarm list, and the
// out-of-service actions of the alarm list and of a point's alarms (docs/ui-contract.md, "Every page" and
// "Alarm list").

import { ApiError, path, post } from './api.js';
import { notify } from './notice.js';

const SILENCE_KEY = 'hmi.alarm.silenced';
const HINT_DELAY_MS = 400;
const UNACKED_STATES = ['st-active_unacked', 'st-returned_unacked'];
const ACTIONS = '[data-ack], [data-ack-selected], [data-ack-visible], [data-shelve], [data-unshelve], [data-out-of-service], [data-in-service]';
const DONE = { ack: 'Acknowledged ', shelve: 'Shelved ', unshelve: 'Unshelved ', oos: 'Took out of service ', ins: 'Returned to service ' };

/** The operation of an alarm action button. */
function opOf(btn) {
  if (btn.hasAttribute('data-shelve')) return 'shelve';
  if (btn.hasAttribute('data-unshelve')) return 'unshelve';
  if (btn.hasAttribute('data-out-of-service')) return 'oos';
  if (btn.hasAttribute('data-in-service')) return 'ins';
  return 'ack';
}

/** Runs the operation op on one alarm through its own endpoint. */
function runOne(op, id, comment, duration) {
  switch (op) {
    case 'ack':
      return post(path`/alarms/${id}/ack`, { comment });
    case 'shelve':
      return post(path`/alarms/${id}/shelve`, { duration, comment });
    case 'unshelve':
      return post(path`/alarms/${id}/unshelve`, { comment });
    case 'oos':
      return post(path`/alarms/${id}/out-of-service`, { comment });
    case 'ins':
      return post(path`/alarms/${id}/in-service`, { comment });
  }
  throw new Error('unknown alarm action ' + op);
}

/** Fetches the page as the server renders it now, parsed with DOMParser (its scripts never run); null on failure. */
async function fetchPage() {
  try {
    const res = await fetch(window.location.href, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/html' } });
    if (!res.ok) return null;
    return new DOMParser().parseFromString(await res.text(), 'text/html');
  } catch {
    return null; // the socket banner says we are offline
  }
}

/** Replaces the element with that id by the one of doc, if both exist. */
function replaceByID(doc, id) {
  const old = document.getElementById(id);
  const fresh = doc.getElementById(id);
  if (old && fresh) old.replaceWith(document.importNode(fresh, true));
}

/** Reads an integer from text; 0 when there is none. */
function int(text) {
  const n = parseInt(String(text ?? '').trim(), 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * The banner (#alarm-banner): counts per priority from "alarms" messages. Each .alarm-count gets the classes
 * has-unacked / has-active / is-zero; #alarm-banner gets data-unacked with the total.
 */
export class AlarmBanner {
  constructor() {
    this.el = document.getElementById('alarm-banner');
  }

  /** The counts the server rendered into the page: {summary, unacked}. */
  rendered() {
    const summary = {};
    let unacked = 0;
    if (!this.el) return { summary, unacked };
    for (const a of this.el.querySelectorAll('.alarm-count[data-priority]')) {
      const u = int(a.querySelector('[data-count="unacked"]')?.textContent);
      const act = int(a.querySelector('[data-count="active"]')?.textContent);
      summary[a.getAttribute('data-priority')] = { unacked: u, active: act };
      unacked += u;
    }
    if (this.el.hasAttribute('data-unacked')) unacked = int(this.el.getAttribute('data-unacked'));
    return { summary, unacked };
  }

  show(summary, unacked) {
    if (!this.el) return;
    let total = 0;
    for (const a of this.el.querySelectorAll('.alarm-count[data-priority]')) {
      const s = (summary && summary[a.getAttribute('data-priority')]) || { unacked: 0, active: 0 };
      const u = int(s.unacked);
      const act = int(s.active);
      total += u;
      const us = a.querySelector('[data-count="unacked"]');
      const as = a.querySelector('[data-count="active"]');
      if (us) us.textContent = String(u);
      if (as) as.textContent = String(act);
      a.classList.toggle('has-unacked', u > 0);
      a.classList.toggle('has-active', act > 0);
      a.classList.toggle('is-zero', u === 0 && act === 0);
      a.setAttribute('title', 'Priority ' + a.getAttribute('data-priority') + ': ' + u + ' unacknowledged, ' + act + ' active');
    }
    this.el.setAttribute('data-unacked', String(typeof unacked === 'number' ? unacked : total));
  }
}

/** The highest priority (1 is highest) that has unacknowledged alarms, or 0. */
function topPriority(summary) {
  for (const p of [1, 2, 3, 4]) {
    const s = summary && summary[String(p)];
    if (s && int(s.unacked) > 0) return p;
  }
  return 0;
}

// Beep patterns per priority: tone (Hz), beeps per burst, repeat period (ms).
const PATTERNS = {
  1: { hz: 1046, beeps: 3, every: 2000 },
  2: { hz: 880, beeps: 2, every: 3000 },
  3: { hz: 784, beeps: 1, every: 4000 },
  4: { hz: 659, beeps: 1, every: 6000 },
};

/**
 * The audible alarm: beeps that repeat while there are unacknowledged alarms, until they are acknowledged or the
 * operator silences this browser (#silence). The silence is kept in sessionStorage, so it holds across the pages
 * of this tab, and ends with the next new alarm. Browsers start audio only after a user gesture on the page: until
 * then a hint ("click anywhere to enable the alarm sound") shows, and the first click or key press starts it.
 */
export class AlarmSound {
  constructor() {
    this.ctx = null;
    this.timer = 0;
    this.priority = 0;
    this.playing = 0; // the priority of the pattern the timer repeats
    this.created = 0; // when ctx was created (ms)
    this.button = document.getElementById('silence');
    this.hint = null;
    if (this.button) {
      this.button.addEventListener('click', () => this.silence());
    }
    const unlock = () => this.unlock();
    document.addEventListener('pointerdown', unlock, true);
    document.addEventListener('keydown', unlock, true);
  }

  get silenced() {
    try {
      return sessionStorage.getItem(SILENCE_KEY) === '1';
    } catch {
      return false;
    }
  }

  set silenced(v) {
    try {
      if (v) sessionStorage.setItem(SILENCE_KEY, '1');
      else sessionStorage.removeItem(SILENCE_KEY);
    } catch {
      // Storage disabled: the silence lasts until the next page.
    }
  }

  /** Updates from an alarm summary; isNew: a new unacknowledged alarm arrived. */
  update(summary, isNew) {
    if (isNew) this.silenced = false;
    this.priority = topPriority(summary);
    this.render();
  }

  silence() {
    this.silenced = true;
    this.render();
  }

  get wanted() {
    return this.priority > 0 && !this.silenced;
  }

  render() {
    if (this.button) {
      const state = this.priority === 0 ? 'quiet' : this.silenced ? 'silenced' : 'sounding';
      this.button.setAttribute('data-state', state);
      this.button.setAttribute('aria-pressed', String(this.silenced));
    }
    if (!this.wanted || !this.ready()) {
      clearTimeout(this.timer);
      this.timer = 0;
      this.playing = 0;
      // The hint only when the browser really holds the audio back, not while a new context starts.
      this.showHint(this.wanted && this.ctx !== null && Date.now() - this.created >= HINT_DELAY_MS);
      return;
    }
    this.showHint(false);
    // Already beeping at this priority: keep the rhythm (summaries can change every 100 ms).
    if (this.timer && this.playing === this.priority) return;
    clearTimeout(this.timer);
    this.playing = this.priority;
    this.burst();
  }

  /**
   * True when the audio context runs. The context is created when the sound is first wanted: the browser lets it
   * run at once if its autoplay policy allows (a gesture on this page or, in Chrome, on the previous page of the
   * same site; kiosks can run Chromium with --autoplay-policy=no-user-gesture-required), otherwise it stays
   * suspended until unlock() resumes it on a gesture.
   */
  ready() {
    if (!this.create()) return false;
    return this.ctx.state === 'running';
  }

  create() {
    if (this.ctx) return true;
    if (typeof AudioContext === 'undefined') return false;
    try {
      this.ctx = new AudioContext();
    } catch {
      return false;
    }
    this.created = Date.now();
    this.ctx.addEventListener('statechange', () => this.render());
    // A context that is allowed to run may still start "suspended" for a moment: look again before the hint.
    setTimeout(() => this.render(), HINT_DELAY_MS + 50);
    return true;
  }

  unlock() {
    if (!this.wanted && !this.ctx) return;
    if (!this.create()) return;
    if (this.ctx.state !== 'running') {
      this.ctx.resume().catch(() => {});
    }
  }

  burst() {
    const pat = PATTERNS[this.priority] || PATTERNS[4];
    const t0 = this.ctx.currentTime + 0.02;
    for (let i = 0; i < pat.beeps; i++) this.beep(pat.hz, t0 + i * 0.25, 0.15);
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.render();
    }, pat.every);
  }

  beep(hz, at, len) {
    const osc = this.ctx.createOscillator();
    const gain = this.ctx.createGain();
    osc.type = 'square';
    osc.frequency.value = hz;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.15, at + 0.01);
    gain.gain.setValueAtTime(0.15, at + len - 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + len);
    osc.connect(gain).connect(this.ctx.destination);
    osc.start(at);
    osc.stop(at + len + 0.01);
  }

  showHint(on) {
    if (on && !this.hint) {
      this.hint = document.createElement('span');
      this.hint.className = 'sound-hint';
      this.hint.setAttribute('role', 'status');
      this.hint.textContent = 'Click anywhere to enable the alarm sound';
      const banner = document.getElementById('alarm-banner');
      if (banner) banner.append(this.hint);
      else document.body.prepend(this.hint);
    }
    if (this.hint) this.hint.hidden = !on;
  }
}

/**
 * The alarm list (table#alarms): acknowledge one, the selected or all visible alarms; shelve and unshelve; the
 * list refreshes from the server's HTML after each action and when the alarm summary changes.
 */
export class AlarmList {
  constructor(table) {
    this.table = table;
    this.refreshTimer = 0;
    this.busy = false;
    document.addEventListener('click', (e) => this.click(e));
    document.addEventListener('change', (e) => {
      const all = e.target.closest && e.target.closest('[data-select-all]');
      if (!all) return;
      for (const row of this.rows()) {
        const box = row.querySelector('[data-select-alarm]');
        if (box && !row.hidden) box.checked = all.checked;
      }
    });
  }

  rows() {
    return [...this.table.querySelectorAll('tr[data-alarm]')];
  }

  selected() {
    return this.rows().filter((r) => r.querySelector('[data-select-alarm]:checked'));
  }

  comment() {
    const c = document.querySelector('[data-alarm-comment]');
    return c ? c.value.trim() : '';
  }

  async click(e) {
    const btn = e.target.closest && e.target.closest(ACTIONS);
    if (!btn || btn.disabled) return;
    e.preventDefault();
    if (this.busy) return;
    // A button inside a row acts on that row; a toolbar button on the selected rows.
    const own = btn.closest('tr[data-alarm]');
    let rows;
    let op;
    if (btn.hasAttribute('data-ack-visible')) {
      rows = this.rows().filter((r) => !r.hidden);
      op = 'ack';
    } else {
      rows = own ? [own] : this.selected();
      op = opOf(btn);
    }
    if (op === 'ack') rows = rows.filter((r) => UNACKED_STATES.some((c) => r.classList.contains(c)));
    if (op === 'unshelve') rows = rows.filter((r) => r.classList.contains('st-shelved'));
    if (op === 'ins') rows = rows.filter((r) => r.classList.contains('st-out_of_service'));
    if (rows.length === 0) {
      notify(op === 'ack' ? 'Nothing to acknowledge: select unacknowledged alarms first' : op === 'unshelve' ? 'Select shelved alarms first' : 'Select alarms first', 'info');
      return;
    }
    const ids = rows.map((r) => r.getAttribute('data-alarm'));
    this.busy = true;
    btn.setAttribute('aria-busy', 'true');
    try {
      await this.run(op, ids, own !== null);
      const what = ids.length === 1 ? '1 alarm' : ids.length + ' alarms';
      notify(DONE[op] + what, 'ok');
      const c = document.querySelector('[data-alarm-comment]');
      if (c) c.value = '';
    } catch (err) {
      notify(err instanceof ApiError ? err.message : String(err), 'error');
    } finally {
      this.busy = false;
      btn.removeAttribute('aria-busy');
      this.refresh();
    }
  }

  /** Runs op on the alarms ids: a row's own button uses the alarm's endpoint, the toolbar the bulk one. */
  async run(op, ids, row) {
    const comment = this.comment();
    if (op === 'ack') {
      if (row) return post(path`/alarms/${ids[0]}/ack`, { comment });
      return post(path`/alarms/ack`, { ids, comment });
    }
    const sel = document.querySelector('[data-shelve-duration]');
    const duration = sel ? sel.value : '';
    for (const id of ids) await runOne(op, id, comment, duration);
    return null;
  }

  /** Asks for a refresh of the list soon (several summary changes in a row give one fetch). */
  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh(), 300);
  }

  /**
   * Replaces the rows with those of the page as the server renders it now, keeping the selection. The server's
   * HTML is parsed with DOMParser (its scripts never run) and only the table body is taken.
   */
  async refresh() {
    clearTimeout(this.refreshTimer);
    const doc = await fetchPage();
    if (!doc) return;
    replaceByID(doc, 'alarms-oos');
    const fresh = doc.getElementById('alarms');
    if (!fresh || !fresh.tBodies[0] || !this.table.tBodies[0]) return;
    const keep = new Set(this.selected().map((r) => r.getAttribute('data-alarm')));
    const body = document.importNode(fresh.tBodies[0], true);
    for (const row of body.querySelectorAll('tr[data-alarm]')) {
      const box = row.querySelector('[data-select-alarm]');
      if (box && keep.has(row.getAttribute('data-alarm'))) box.checked = true;
    }
    this.table.tBodies[0].replaceWith(body);
    this.table.dispatchEvent(new CustomEvent('hmi:table-changed', { bubbles: true }));
  }
}

/**
 * The alarms of a point page (#point-alarms): take one out of service or return it to service (engineers), with
 * the panel's comment; the panel refreshes from the server's HTML after each action and when the alarm summary
 * changes.
 */
export class PointAlarms {
  constructor() {
    this.busy = false;
    this.refreshTimer = 0;
    document.addEventListener('click', (e) => this.click(e));
  }

  async click(e) {
    const btn = e.target.closest && e.target.closest('#point-alarms [data-out-of-service], #point-alarms [data-in-service]');
    const row = btn && btn.closest('tr[data-alarm]');
    if (!row || btn.disabled) return;
    e.preventDefault();
    if (this.busy) return;
    const op = opOf(btn);
    const c = document.querySelector('#point-alarms [data-alarm-comment]');
    this.busy = true;
    btn.setAttribute('aria-busy', 'true');
    try {
      await runOne(op, row.getAttribute('data-alarm'), c ? c.value.trim() : '');
      notify(DONE[op] + '1 alarm', 'ok');
    } catch (err) {
      notify(err instanceof ApiError ? err.message : String(err), 'error');
    } finally {
      this.busy = false;
      btn.removeAttribute('aria-busy');
      this.refresh();
    }
  }

  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh(), 300);
  }

  async refresh() {
    clearTimeout(this.refreshTimer);
    const doc = await fetchPage();
    if (doc) replaceByID(doc, 'point-alarms');
  }
}
