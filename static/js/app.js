// app.js: the entry module of every page (<script type="module" src="/static/js/app.js?v=HASH">).
//
// It reads <body data-page>, opens the page's one WebSocket (every page but the login page), and wires the other
// modules: live values, the alarm banner and sound, control dialogs, sortable and filterable tables, the alarm
// list, the traffic view of a link, live trends. See docs/ui-contract.md for the markup each of them relies on.

import { AlarmBanner, AlarmList, AlarmSound, PointAlarms } from './alarms.js';
import { ControlDialogs } from './control.js';
import { TrafficView } from './links.js';
import { LiveValues, MAX_SUBSCRIPTION } from './live.js';
import { notify } from './notice.js';
import { initTables } from './table.js';
import { initTrends } from './trend.js';
import { LiveSocket } from './ws.js';

function start() {
  const body = document.body;
  const page = body.getAttribute('data-page') || '';
  initTables();
  initForms();
  initClock();
  initMenus();
  if (page === 'login') {
    const user = document.querySelector('input[name="username"], input[autocomplete="username"]');
    if (user && !user.value) user.focus();
    return;
  }

  const live = new LiveValues();
  const trends = initTrends();
  const banner = new AlarmBanner();
  const sound = new AlarmSound();
  const trafficEl = document.querySelector('[data-traffic]');
  const traffic = trafficEl ? new TrafficView(trafficEl) : null;
  const alarmTable = page === 'alarms' ? document.getElementById('alarms') : null;
  const alarmList = alarmTable ? new AlarmList(alarmTable) : null;
  const pointAlarms = page === 'point' && document.getElementById('point-alarms') ? new PointAlarms() : null;

  const socket = new LiveSocket({
    hello() {
      const msgs = [];
      const ids = [...new Set([...live.ids(), ...trends.map((t) => t.id)])].slice(0, MAX_SUBSCRIPTION);
      if (ids.length > 0) msgs.push({ type: 'subscribe', points: ids });
      if (traffic) msgs.push(traffic.hello());
      return msgs;
    },
  });
  // Before socket.start(), which disables the controls until the socket opens: the dialogs note which buttons the
  // server itself rendered disabled.
  const control = new ControlDialogs(socket);

  const first = banner.rendered();
  banner.show(first.summary, first.unacked);
  sound.update(first.summary, false);

  socket.addEventListener('message', (e) => {
    const msg = e.detail;
    switch (msg.type) {
      case 'snapshot':
      case 'points':
        live.apply(msg.points);
        if (trends.length > 0 && Array.isArray(msg.points)) {
          for (const p of msg.points) {
            for (const t of trends) if (p && t.id === p.id) t.add(p);
          }
        }
        break;
      case 'alarms':
        banner.show(msg.summary, msg.unacked);
        sound.update(msg.summary, msg.new === true);
        if (alarmList) alarmList.refreshSoon();
        if (pointAlarms) pointAlarms.refreshSoon();
        break;
      case 'traffic':
        if (traffic) traffic.receive(msg);
        break;
    }
  });
  // The session has ended (logged out, elsewhere too; password changed; user removed; timed out): to the login
  // page, which comes back here after the login. A navigation of the page itself (the logout form, a password
  // change, which ends the session too) is not cut short: it goes on, and only if it does not leave the page does
  // the login page follow.
  socket.addEventListener('ended', () => {
    const login = () => window.location.assign(loginURL());
    if (leaving) setTimeout(login, LEAVING_GRACE_MS);
    else login();
  });
  socket.addEventListener('online', () => {
    if (traffic) traffic.reconnected();
    // Values and alarms may have changed while we were away: the snapshot brings the values, the list is fetched.
    if (alarmList) alarmList.refreshSoon();
    if (pointAlarms) pointAlarms.refreshSoon();
  });
  document.addEventListener('hmi:table-changed', () => {
    const before = live.ids().join('\n');
    live.scan();
    if (live.ids().join('\n') !== before) socket.resubscribe();
  });

  document.addEventListener('click', (e) => pointClick(e, { page, socket, control }));
  document.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === ' ') && e.target instanceof SVGElement && e.target.hasAttribute('data-point')) {
      e.preventDefault();
      pointClick(e, { page, socket, control });
    }
  });
  // SVG display elements are not focusable by themselves.
  for (const el of document.querySelectorAll('svg [data-point]')) {
    if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '0');
    if (el.getAttribute('data-controllable') === 'true') el.setAttribute('role', 'button');
    else if (!el.hasAttribute('role')) el.setAttribute('role', 'link');
  }

  socket.start();
}

/** How long a page that is navigating already waits before it goes to the login page after its session ended. */
const LEAVING_GRACE_MS = 5000;

/** True once the page started to navigate away (a link, a form, a reload). */
let leaving = false;
window.addEventListener('beforeunload', () => {
  leaving = true;
});
window.addEventListener('pageshow', () => {
  leaving = false;
});

/** The login page's URL that comes back to this page, and says that the session ended. */
export function loginURL(loc = window.location) {
  return '/login?ended=1&next=' + encodeURIComponent(loc.pathname + loc.search);
}

const INTERACTIVE = 'a, button, input, select, textarea, label, summary, dialog, [data-no-open]';

/**
 * A click on an element with data-point: the point's control dialog if data-controllable="true", otherwise the
 * point's page. Clicks on links, buttons and form fields inside it keep their own meaning, except a button that is
 * itself the controllable data-point element ("Operate..." on the point page) or has data-control-open.
 */
function pointClick(e, { page, socket, control }) {
  const target = e.target instanceof Element ? e.target : null;
  if (!target || (e.type === 'click' && e.defaultPrevented)) return;
  const opener = target.closest('[data-control-open]');
  const el = opener ? opener.closest('[data-point]') || opener : target.closest('[data-point]');
  if (!el) return;
  if (el.closest('dialog')) return; // inside a dialog: its own buttons
  const id = (opener && opener.getAttribute('data-point')) || el.getAttribute('data-point');
  if (!id) return;
  const controllable = opener !== null || el.getAttribute('data-controllable') === 'true';
  if (!opener) {
    const inner = target.closest(INTERACTIVE);
    if (inner && inner !== el && el.contains(inner)) return;
  }
  if (controllable) {
    e.preventDefault();
    if (!socket.online) {
      notify('Not connected to the server: controls are disabled until the connection is back', 'error');
      return;
    }
    if (control.open(id)) return;
    // No dialog for this point on this page: its own page has one.
  } else {
    if (page === 'point' || String(window.getSelection() || '') !== '') return;
    if (target.closest('a, button, input, select, textarea, label')) return;
  }
  window.location.assign('/points/' + encodeURIComponent(id));
}

/** Forms: data-confirm="Question?" asks before submitting; data-autosubmit on a field submits its form on change. */
function initForms() {
  document.addEventListener('submit', (e) => {
    const form = e.target;
    const q = form instanceof HTMLFormElement ? form.getAttribute('data-confirm') : null;
    if (q && !window.confirm(q)) e.preventDefault();
  });
  document.addEventListener('change', (e) => {
    const el = e.target instanceof Element ? e.target.closest('[data-autosubmit]') : null;
    if (el && el.form) el.form.requestSubmit();
  });
}

/**
 * Menus (details[data-menu]: the displays of the navigation, the user's menu): one open at a time; a click
 * elsewhere or Escape closes them.
 */
function initMenus() {
  const open = () => [...document.querySelectorAll('details[data-menu][open]')];
  document.addEventListener('click', (e) => {
    for (const m of open()) if (!(e.target instanceof Node && m.contains(e.target))) m.open = false;
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    for (const m of open()) {
      m.open = false;
      m.querySelector('summary')?.focus();
    }
  });
  // "toggle" does not bubble: listen in the capture phase.
  document.addEventListener(
    'toggle',
    (e) => {
      const m = e.target;
      if (!(m instanceof HTMLDetailsElement) || !m.open || !m.hasAttribute('data-menu')) return;
      for (const o of open()) if (o !== m) o.open = false;
    },
    true,
  );
}

/** [data-clock] elements show the local time, HH:MM:SS. */
function initClock() {
  const clocks = document.querySelectorAll('[data-clock]');
  if (clocks.length === 0) return;
  const tick = () => {
    const now = new Date();
    const text = now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    for (const c of clocks) c.textContent = text;
  };
  tick();
  setInterval(tick, 1000);
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
