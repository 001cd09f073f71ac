// notice.js: short messages to the operator in a live region at the bottom of the page (outcomes of alarm actions,
// "not connected" refusals). Text only: device and user text is never parsed as HTML.

const KEEP_MS = { info: 6000, ok: 6000, error: 0 }; // 0: stays until closed

function region() {
  let r = document.getElementById('notices');
  if (!r) {
    r = document.createElement('div');
    r.id = 'notices';
    r.className = 'notices';
    r.setAttribute('role', 'status');
    r.setAttribute('aria-live', 'polite');
    document.body.append(r);
  }
  return r;
}

/** Shows text as a notice of the kind info, ok or error. Errors stay until the operator closes them. */
export function notify(text, kind = 'info') {
  const item = document.createElement('div');
  item.className = 'notice notice-' + kind;
  const msg = document.createElement('span');
  msg.textContent = text;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'notice-close';
  close.setAttribute('aria-label', 'Close');
  close.textContent = '×';
  close.addEventListener('click', () => item.remove());
  item.append(msg, close);
  region().append(item);
  const keep = KEEP_MS[kind] ?? KEEP_MS.info;
  if (keep > 0) setTimeout(() => item.remove(), keep);
  return item;
}
