// ws.js: the page's one WebSocket to /ws (docs/ui-contract.md, "WebSocket /ws").
//
// LiveSocket connects to the same origin (ws: or wss: as the page), sends the page's hello messages (subscribe,
// traffic) on every open, and reconnects with a backoff of 0.5 s doubling to 10 s. After a (re)connection it drops
// "points" batches until the snapshot of the new subscription has arrived, so that deltas are never applied to a
// state the snapshot would then overwrite.
//
// While the socket is not open the page is offline, at once: the #conn-banner shows, <body> has the class
// "offline", and every enabled [data-control] element is disabled (and re-enabled on reconnection; elements the
// server rendered disabled stay disabled). send() drops what it cannot send: nothing is queued, so no user action
// is ever replayed after a reconnection. A ping every 20 s, and no message for 45 s, detect a dead connection that
// TCP has not noticed yet.
//
// A close with 1008 "session ended" means the session is over (logout, password changed, user removed, idle or
// absolute limit): a new socket would be refused, so the socket does not reconnect; the page stays offline, says
// why, and LiveSocket fires "ended" (app.js then goes to the login page).

export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 10000;
const PING_EVERY_MS = 20000;
const DEAD_AFTER_MS = 45000;
const FIRST_CONNECT_GRACE_MS = 2000;
const OFFLINE_MARK = 'data-offline-disabled';
/** The close code and reason of a socket whose session has ended (server.SessionEndedReason). */
export const SESSION_ENDED_CODE = 1008;
export const SESSION_ENDED_REASON = 'session ended';

/** The URL of /ws on the page's own origin. */
export function socketURL(loc = window.location) {
  return (loc.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + loc.host + '/ws';
}

/**
 * Shows or hides the page's offline state: banner, body.offline, [data-control] disabled. Exported for the
 * scripts that create controls while offline.
 */
export function showOffline(offline) {
  document.body.classList.toggle('offline', offline);
  const banner = document.getElementById('conn-banner');
  if (banner) {
    banner.hidden = !offline;
    if (offline && banner.textContent.trim() === '') {
      banner.textContent = 'Connection to the server lost: values are not live';
    }
  }
  if (offline) {
    disableControls(document);
  } else {
    for (const el of document.querySelectorAll('[' + OFFLINE_MARK + ']')) {
      el.removeAttribute(OFFLINE_MARK);
      el.disabled = false;
    }
  }
}

/** Disables every enabled [data-control] under root and marks it so that the reconnection re-enables it. */
export function disableControls(root) {
  for (const el of root.querySelectorAll('[data-control]')) {
    if (!el.disabled && 'disabled' in el) {
      el.setAttribute(OFFLINE_MARK, '');
      el.disabled = true;
    }
  }
}

/**
 * LiveSocket events (all CustomEvent): "message" (detail: the decoded server message), "online" (after the open
 * and the hello messages), "offline" (the socket closed or failed; detail: {code, reason}), "ended" (the server
 * closed the socket because the session has ended; no reconnection follows).
 */
export class LiveSocket extends EventTarget {
  /**
   * @param {object} opts
   * @param {() => object[]} opts.hello messages to send after each open (subscribe, traffic)
   * @param {string} [opts.url] defaults to socketURL()
   */
  constructor({ hello = () => [], url = socketURL() } = {}) {
    super();
    this.url = url;
    this.hello = hello;
    this.ws = null;
    this.backoff = BACKOFF_MIN_MS;
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.graceTimer = 0;
    this.lastMessage = 0;
    this.awaitingSnapshot = false;
    this.wasOnline = false;
    this.stopped = false;
  }

  /** True while the socket is open. */
  get online() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Connects. Until the first open, controls are disabled; the banner shows if it fails or takes over 2 s. */
  start() {
    disableControls(document);
    this.graceTimer = setTimeout(() => {
      if (!this.online) showOffline(true);
    }, FIRST_CONNECT_GRACE_MS);
    window.addEventListener('online', () => this.reconnectNow());
    window.addEventListener('pagehide', () => this.stop());
    window.addEventListener('pageshow', (ev) => {
      // Back from the back/forward cache: the old socket is gone; start again.
      if (ev.persisted && this.stopped) {
        this.stopped = false;
        this.backoff = BACKOFF_MIN_MS;
        this.connect();
      }
    });
    this.connect();
  }

  /** Closes the socket for good (page unload). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000, 'page closed');
  }

  /**
   * Sends msg if the socket is open and returns true; otherwise drops it and returns false. Never queues.
   */
  send(msg) {
    if (!this.online) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Sends the hello messages again, e.g. after the page changed its subscription. */
  resubscribe() {
    if (this.online) this.sendHello();
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      console.warn('hmi: websocket:', err);
      this.down(1006, 'cannot connect');
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (ws !== this.ws) return;
      clearTimeout(this.graceTimer);
      this.backoff = BACKOFF_MIN_MS;
      this.lastMessage = Date.now();
      this.sendHello();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.keepAlive(), PING_EVERY_MS);
      this.wasOnline = true;
      showOffline(false);
      this.dispatchEvent(new CustomEvent('online'));
    });
    ws.addEventListener('message', (ev) => {
      if (ws !== this.ws) return;
      this.lastMessage = Date.now();
      this.receive(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (ws !== this.ws) return;
      if (ev.code === SESSION_ENDED_CODE && ev.reason === SESSION_ENDED_REASON) {
        this.ended();
        return;
      }
      this.down(ev.code, ev.reason);
    });
    // An "error" is always followed by "close"; nothing to do here but not to let it go unhandled.
    ws.addEventListener('error', () => {});
  }

  sendHello() {
    this.awaitingSnapshot = false;
    for (const msg of this.hello()) {
      if (msg.type === 'subscribe') this.awaitingSnapshot = true;
      this.ws.send(JSON.stringify(msg));
    }
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('hmi: websocket: a message that is not JSON');
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    switch (msg.type) {
      case 'pong':
        return;
      case 'resync':
        // The server drops us because we fell behind: reconnect at once and resynchronise from a snapshot.
        this.reconnectNow();
        return;
      case 'snapshot':
        this.awaitingSnapshot = false;
        break;
      case 'points':
        if (this.awaitingSnapshot) return;
        break;
    }
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
  }

  keepAlive() {
    if (!this.online) return;
    if (Date.now() - this.lastMessage > DEAD_AFTER_MS) {
      this.reconnectNow();
      return;
    }
    this.send({ type: 'ping' });
  }

  /** Drops the current socket (if any), shows the offline state and connects again at once. */
  reconnectNow() {
    if (this.stopped) return;
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      this.ws = null;
      ws.close(1000, 'reconnecting');
      this.down(1000, 'reconnecting', 0);
      return;
    }
    if (!ws || ws.readyState === WebSocket.CLOSED) {
      this.backoff = BACKOFF_MIN_MS;
      this.connect();
    }
  }

  /** The session has ended: offline for good, with the reason on the banner, and no reconnection. */
  ended() {
    const wasStopped = this.stopped;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.graceTimer);
    clearInterval(this.pingTimer);
    this.ws = null;
    this.awaitingSnapshot = false;
    if (wasStopped) return; // leaving the page
    showOffline(true);
    const banner = document.getElementById('conn-banner');
    if (banner) banner.textContent = 'Your session has ended: log in again';
    this.dispatchEvent(new CustomEvent('offline', { detail: { code: SESSION_ENDED_CODE, reason: SESSION_ENDED_REASON } }));
    this.dispatchEvent(new CustomEvent('ended'));
  }

  down(code, reason, delay = this.backoff) {
    clearInterval(this.pingTimer);
    this.ws = null;
    this.awaitingSnapshot = false;
    if (this.stopped) return; // leaving the page: no banner
    showOffline(true);
    this.dispatchEvent(new CustomEvent('offline', { detail: { code, reason } }));
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    if (delay > 0) this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
  }
}
