// control.js: the control dialog (docs/ui-contract.md, "Control dialog").
//
// SBO points: choose a value -> Select (POST /api/v1/points/{id}/select) -> the selected state with a countdown of
// the select timeout -> Execute (POST /api/v1/commands/{cid}/execute) or Cancel (/cancel). Direct points: choose a
// value -> a confirmation ("Operate NAME to LABEL?") -> the same select call, which executes. The steps of the
// command (from the API answers and the socket's "command" messages, whichever comes first) are listed with their
// latencies as they arrive, and the outcome is said in words. A refusal (403/409/422) shows the server's text.
//
// Nothing is retried or replayed: every request is the answer to a click made while the socket is open. If the
// socket drops while a command is under way, the flow ends with "connection lost: the command's outcome is
// unknown; see the audit" and ignores whatever arrives later; the dialog stays open on that message until the
// operator closes it (a closed dialog could not say it).
//
// The dialog is <dialog id="control-dialog"> (or any dialog.control-dialog) whose data-point names the point.
// Elements the script needs and the page did not render (steps, outcome, countdown, confirmation text, the
// Confirm/Back/Execute/Cancel/Close buttons) are created.

import { ApiError, path, post } from './api.js';
import { formatTime } from './live.js';

export const LOST = "connection lost: the command's outcome is unknown; see the audit";
const RANK = { requested: 0, selecting: 1, selected: 2, executing: 3, cancelling: 3, confirmed: 4, terminated: 5, failed: 5, cancelled: 5 };
const ACTIVE = new Set(['selecting', 'selected', 'executing', 'cancelling']);
const COT = { 6: 'ACT', 7: 'ACTCON', 8: 'DEACT', 9: 'DEACTCON', 10: 'ACTTERM', 44: 'unknown type', 45: 'unknown cause', 46: 'unknown common address', 47: 'unknown object address' };

/** Parses a data-value: "true"/"false" as booleans, numbers as numbers, anything else as the string. */
export function parseValue(s) {
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(s)) return Number(s);
  return s;
}

/** The outcome of a command in words, with its kind (pending, ok, fail, info). */
export function outcomeOf(cmd) {
  const err = cmd.error ? String(cmd.error) : '';
  switch (cmd.state) {
    case 'requested':
    case 'selecting':
      return ['pending', 'Selecting: waiting for the device'];
    case 'selected':
      return ['pending', 'Selected: execute or cancel before the time runs out'];
    case 'executing':
      return ['pending', 'Executing: waiting for the device'];
    case 'cancelling':
      return ['pending', 'Cancelling: waiting for the device'];
    case 'confirmed':
      return ['ok', 'Confirmed by the device (ACTCON)'];
    case 'terminated':
      return ['ok', 'Done: the device confirmed and terminated the command'];
    case 'failed':
      return ['fail', 'Failed: ' + (err || 'the device refused the command')];
    case 'cancelled':
      return ['info', 'Cancelled' + (err ? ': ' + err : '')];
    default:
      return ['pending', String(cmd.state || 'unknown state') + (err ? ': ' + err : '')];
  }
}

function make(tag, attrs, text) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

export class ControlDialogs {
  /** @param {import('./ws.js').LiveSocket} socket */
  constructor(socket) {
    this.socket = socket;
    this.flow = null;
    this.seen = new Map(); // command id -> latest command message, for answers that race the API response
    this.locked = new WeakSet(); // value buttons and inputs the server rendered disabled (e.g. a "do not operate" tag)
    this.uis = new WeakMap(); // dialog -> its parts, found or created once
    for (const d of this.dialogs()) {
      for (const b of d.querySelectorAll('[data-control], [data-control-input]')) {
        if (b.disabled) this.locked.add(b);
      }
    }
    socket.addEventListener('message', (e) => {
      if (e.detail.type === 'command' && e.detail.command) this.onCommand(e.detail.command);
    });
    socket.addEventListener('offline', () => this.onOffline());
    socket.addEventListener('online', () => this.render());
  }

  dialogs() {
    return [...document.querySelectorAll('dialog#control-dialog, dialog.control-dialog')];
  }

  /** The control dialog of point id, or null. */
  dialogFor(id) {
    return this.dialogs().find((d) => d.getAttribute('data-point') === id) || null;
  }

  /** Opens the dialog of point id; false when the page has none. */
  open(id) {
    const dialog = this.dialogFor(id);
    if (!dialog) return false;
    const old = this.flow;
    if (old) {
      this.flow = null;
      this.release(old);
      if (old.dialog.open) old.dialog.close();
    }
    const ui = this.ui(dialog);
    this.flow = {
      dialog,
      ui,
      point: id,
      sbo: dialog.getAttribute('data-sbo') !== 'false',
      timeoutMs: parseInt(dialog.getAttribute('data-select-timeout-ms') || '', 10) || 10000,
      phase: 'choose',
      value: null,
      label: '',
      cid: '',
      cmd: null,
      deadline: 0,
      ticker: 0,
    };
    ui.steps.replaceChildren();
    this.setOutcome('', '');
    for (const b of ui.choices) b.classList.remove('chosen');
    this.render();
    dialog.showModal();
    return true;
  }

  /** Finds (or creates) the parts of the dialog and wires its buttons, once per dialog. */
  ui(dialog) {
    if (this.uis.has(dialog)) return this.uis.get(dialog);
    const find = (sel, create) => dialog.querySelector(sel) || create();
    const host = dialog.querySelector('form') || dialog;
    const actions = find('.dialog-actions', () => host.appendChild(make('div', { class: 'dialog-actions' })));
    const before = (el) => {
      actions.before(el);
      return el;
    };
    const button = (attr, text, cls) =>
      find('[' + attr + ']', () => actions.appendChild(make('button', { type: 'button', [attr]: '', class: cls }, text)));
    const ui = {
      confirmText: find('[data-confirm-text]', () => before(make('p', { 'data-confirm-text': '', class: 'confirm-text' }))),
      countdown: find('[data-countdown]', () => before(make('p', { 'data-countdown': '', class: 'countdown' }))),
      steps: find('[data-steps]', () => before(make('ol', { 'data-steps': '', class: 'steps' }))),
      outcome: find('[data-outcome]', () => before(make('p', { 'data-outcome': '', class: 'outcome', role: 'status', 'aria-live': 'polite' }))),
      input: dialog.querySelector('[data-control-input]'),
      confirm: button('data-confirm', 'Confirm', 'btn-danger'),
      back: button('data-back', 'Back', ''),
      execute: button('data-execute', 'Execute', 'btn-danger'),
      cancel: button('data-cancel', 'Cancel', ''),
      // Not "Close": next to a breaker's "Close" choice that word would be ambiguous.
      close: button('data-close', 'Dismiss', ''),
    };
    for (const b of [ui.confirm, ui.execute, ui.cancel]) b.setAttribute('data-control', '');
    ui.choices = [...dialog.querySelectorAll('[data-control]')].filter((b) => ![ui.confirm, ui.execute, ui.cancel].includes(b) && b !== ui.input);
    if (ui.input && !ui.choices.some((b) => !b.hasAttribute('data-value'))) {
      // A set-point input needs a button that takes its value.
      const send = make('button', { type: 'button', 'data-control': '', class: 'btn-primary' }, 'Send value');
      if (this.locked.has(ui.input)) this.locked.add(send);
      (ui.input.closest('label') || ui.input).after(send);
      ui.choices.push(send);
    }
    for (const b of ui.choices) {
      b.addEventListener('click', (e) => {
        e.preventDefault();
        this.choose(b);
      });
    }
    if (ui.input) {
      ui.input.addEventListener('keydown', (e) => {
        if (e.key !== 'Enter') return;
        e.preventDefault();
        const b = ui.choices.find((c) => !c.hasAttribute('data-value'));
        if (b && !b.disabled) this.choose(b);
      });
    }
    const on = (b, fn) =>
      b.addEventListener('click', (e) => {
        e.preventDefault();
        fn();
      });
    on(ui.confirm, () => this.confirm());
    on(ui.back, () => this.back());
    on(ui.execute, () => this.execute());
    on(ui.cancel, () => this.cancel());
    on(ui.close, () => dialog.close());
    dialog.addEventListener('close', () => this.closed(dialog));
    this.uis.set(dialog, ui);
    return ui;
  }

  /** The name of the point for the confirmation text. */
  pointName(dialog, id) {
    const n = dialog.getAttribute('data-point-name') || dialog.querySelector('[data-point-name]')?.textContent || '';
    return n.trim() || id;
  }

  choose(btn) {
    const f = this.flow;
    if (!f || f.dialog !== btn.closest('dialog') || f.phase !== 'choose' || btn.disabled) return;
    if (!this.socket.online) return; // never queued: the button is disabled anyway
    if (btn.hasAttribute('data-value')) {
      f.value = parseValue(btn.getAttribute('data-value'));
      f.label = btn.textContent.trim() || String(f.value);
    } else {
      const input = f.ui.input;
      if (!input || input.value.trim() === '' || !input.checkValidity()) {
        if (input) input.reportValidity();
        return;
      }
      f.value = Number(input.value);
      const unit = input.getAttribute('data-unit');
      f.label = input.value + (unit ? ' ' + unit : '');
    }
    for (const b of f.ui.choices) b.classList.toggle('chosen', b === btn);
    if (f.sbo) {
      this.select();
    } else {
      f.phase = 'confirm';
      f.ui.confirmText.textContent = 'Operate ' + this.pointName(f.dialog, f.point) + ' to ' + f.label + '?';
      this.render();
    }
  }

  confirm() {
    const f = this.flow;
    if (!f || f.phase !== 'confirm' || !this.socket.online) return;
    this.select();
  }

  back() {
    const f = this.flow;
    if (!f || f.phase !== 'confirm') return;
    f.phase = 'choose';
    for (const b of f.ui.choices) b.classList.remove('chosen');
    this.render();
  }

  async select() {
    const f = this.flow;
    f.phase = 'selecting';
    this.setOutcome('pending', f.sbo ? 'Selecting ' + f.label + '…' : 'Operating ' + f.label + '…');
    this.render();
    await this.request(f, path`/points/${f.point}/select`, { value: f.value });
  }

  async execute() {
    const f = this.flow;
    if (!f || f.phase !== 'selected' || !this.socket.online) return;
    this.stopCountdown(f);
    f.phase = 'executing';
    this.setOutcome('pending', 'Executing ' + f.label + '…');
    this.render();
    await this.request(f, path`/commands/${f.cid}/execute`, {});
  }

  async cancel() {
    const f = this.flow;
    if (!f || f.phase !== 'selected' || !this.socket.online) return;
    this.stopCountdown(f);
    f.phase = 'cancelling';
    this.setOutcome('pending', 'Cancelling…');
    this.render();
    await this.request(f, path`/commands/${f.cid}/cancel`, {});
  }

  /** Sends one request of flow f and applies its answer, unless the flow ended meanwhile. */
  async request(f, url, body) {
    let cmd;
    try {
      cmd = await post(url, body);
    } catch (err) {
      if (this.flow !== f || f.phase === 'unknown') return;
      this.stopCountdown(f);
      f.phase = 'done';
      if (err instanceof ApiError && err.refused) {
        this.setOutcome('refused', err.message);
      } else {
        this.setOutcome('fail', 'Error: ' + (err instanceof ApiError ? err.message : String(err)));
      }
      this.render();
      return;
    }
    if (this.flow !== f) {
      // The operator closed the dialog while the select was under way: release the selection now.
      if (cmd && typeof cmd.id === 'string' && cmd.state === 'selected' && this.socket.online) {
        post(path`/commands/${cmd.id}/cancel`, {}).catch(() => {});
      }
      return;
    }
    if (f.phase === 'unknown') return;
    if (cmd && typeof cmd.id === 'string') {
      f.cid = cmd.id;
      const early = this.seen.get(cmd.id);
      this.track(f, early && better(early, cmd) ? early : cmd);
    }
  }

  onCommand(cmd) {
    if (typeof cmd.id !== 'string') return;
    const prev = this.seen.get(cmd.id);
    if (!prev || better(cmd, prev)) this.seen.set(cmd.id, cmd);
    if (this.seen.size > 50) this.seen.delete(this.seen.keys().next().value);
    const f = this.flow;
    if (f && f.cid === cmd.id && f.phase !== 'unknown') this.track(f, cmd);
  }

  /** Applies a command state to flow f (ignoring one that is older than what it shows). */
  track(f, cmd) {
    if (f.cmd && !better(cmd, f.cmd)) return;
    f.cmd = cmd;
    this.renderSteps(f, cmd.steps);
    const [kind, text] = outcomeOf(cmd);
    switch (cmd.state) {
      case 'requested':
      case 'selecting':
        f.phase = 'selecting';
        break;
      case 'selected':
        if (f.phase !== 'selected') {
          f.phase = 'selected';
          this.startCountdown(f);
        }
        break;
      case 'executing':
      case 'cancelling':
        this.stopCountdown(f);
        f.phase = cmd.state;
        break;
      default:
        this.stopCountdown(f);
        f.phase = 'done';
    }
    if (f.phase !== 'selected' || !f.ticker) this.setOutcome(kind, text);
    else this.setOutcome(kind, 'Selected ' + f.label + ': execute or cancel');
    this.render();
  }

  renderSteps(f, steps) {
    if (!Array.isArray(steps)) return;
    const items = steps.map((s) => {
      const li = make('li', { class: 'step' });
      li.append(make('span', { class: 'step-name' }, String(s.step ?? '')));
      if (s.cot !== undefined && s.cot !== null && s.cot !== 0) {
        li.append(make('span', { class: 'step-cot' }, 'COT ' + s.cot + (COT[s.cot] ? ' ' + COT[s.cot] : '')));
      }
      if (typeof s.latency_ms === 'number') {
        li.append(make('span', { class: 'step-latency' }, s.latency_ms + ' ms'));
      }
      if (s.at) li.append(make('time', { class: 'step-time', datetime: String(s.at) }, formatTime(s.at)));
      return li;
    });
    f.ui.steps.replaceChildren(...items);
  }

  startCountdown(f) {
    this.stopCountdown(f);
    f.deadline = Date.now() + f.timeoutMs;
    const tick = () => {
      const left = f.deadline - Date.now();
      if (left <= 0) {
        this.stopCountdown(f);
        if (f.phase === 'selected') {
          f.phase = 'expired';
          f.ui.countdown.hidden = false;
          f.ui.countdown.textContent = 'Select timed out: the server cancels the selection';
          f.ui.countdown.classList.add('expired');
          this.render();
        }
        return;
      }
      const s = Math.ceil(left / 1000);
      f.ui.countdown.textContent = 'Execute within ' + s + ' s';
      f.ui.countdown.classList.toggle('urgent', s <= 3);
    };
    f.ui.countdown.classList.remove('expired', 'urgent');
    tick();
    f.ticker = setInterval(tick, 200);
  }

  stopCountdown(f) {
    if (f.ticker) clearInterval(f.ticker);
    f.ticker = 0;
  }

  onOffline() {
    const f = this.flow;
    if (!f) return;
    if (ACTIVE.has(f.phase) || f.phase === 'expired') {
      this.stopCountdown(f);
      f.phase = 'unknown';
      this.setOutcome('unknown', LOST);
    } else if (f.phase === 'confirm') {
      f.phase = 'choose'; // ask again once the values are live
      for (const b of f.ui.choices) b.classList.remove('chosen');
    }
    this.render();
  }

  closed(dialog) {
    const f = this.flow;
    // dialog.open: the close event of a dialog that open() has reopened since.
    if (!f || f.dialog !== dialog || dialog.open) return;
    this.flow = null;
    this.release(f);
  }

  /** Ends flow f; a selection it holds is cancelled (the operator's own action, closing the dialog, made now). */
  release(f) {
    this.stopCountdown(f);
    if (f.phase === 'selected' && f.cid && this.socket.online) {
      post(path`/commands/${f.cid}/cancel`, {}).catch(() => {});
    }
  }

  setOutcome(kind, text) {
    const f = this.flow;
    if (!f) return;
    const o = f.ui.outcome;
    o.textContent = text;
    o.className = 'outcome' + (kind ? ' outcome-' + kind : '');
    o.hidden = text === '';
  }

  /** Shows and enables the dialog's parts for the flow's phase and the socket's state. */
  render() {
    const f = this.flow;
    if (!f) return;
    const ui = f.ui;
    const online = this.socket.online;
    const ph = f.phase;
    for (const b of ui.choices) b.disabled = this.locked.has(b) || !online || ph !== 'choose';
    if (ui.input) ui.input.disabled = this.locked.has(ui.input) || !online || ph !== 'choose';
    ui.confirmText.hidden = ph !== 'confirm';
    ui.confirm.hidden = ui.back.hidden = ph !== 'confirm';
    ui.confirm.disabled = !online;
    ui.execute.hidden = ui.cancel.hidden = ph !== 'selected';
    ui.execute.disabled = ui.cancel.disabled = !online || ph !== 'selected';
    ui.countdown.hidden = ph !== 'selected' && ph !== 'expired';
    ui.steps.hidden = ui.steps.children.length === 0;
    f.dialog.setAttribute('data-phase', ph);
    // Marked by ws.js when it disabled them; our own rule decides now.
    for (const b of [...ui.choices, ui.confirm, ui.execute, ui.cancel]) b.removeAttribute('data-offline-disabled');
  }
}

/** True if command a is at least as far along as b (state rank, then number of steps). */
function better(a, b) {
  const ra = RANK[a.state] ?? 0;
  const rb = RANK[b.state] ?? 0;
  if (ra !== rb) return ra > rb;
  return (a.steps?.length ?? 0) >= (b.steps?.length ?? 0);
}
