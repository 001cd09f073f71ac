// api.js: the fetch wrapper for the JSON API under /api/v1.
//
// Unsafe methods carry the X-CSRF-Token header with the token of <meta name="csrf-token">. A response that is not
// 2xx becomes an ApiError whose message is the server's {"error": "..."} when there is one, so that a refusal
// ("interlock: earth switch closed") reaches the operator as the server wrote it.

/** An error answer of the API, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }

  /** True for the answers that mean "the server refused this" (role, tag, interlock, state), not a failure. */
  get refused() {
    return this.status === 403 || this.status === 409 || this.status === 422;
  }
}

/** The page's CSRF token, from <meta name="csrf-token">; empty when the page has none. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') || '' : '';
}

/**
 * Calls the API and returns the decoded JSON body (null when empty). Throws ApiError on a non-2xx answer or when
 * the server cannot be reached. body, when given, is sent as JSON.
 */
export async function api(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'manual', signal };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['X-CSRF-Token'] = csrfToken();
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  let text;
  try {
    res = await fetch(path, init);
    text = await res.text();
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'no answer from the server (' + (err && err.message ? err.message : 'network error') + ')');
  }
  if (res.type === 'opaqueredirect') {
    // The API answers 401 itself; a redirect means something in between sends us to the login page.
    throw new ApiError(401, errorMessage({ status: 401, headers: new Headers() }, '', null), null);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    throw new ApiError(res.status, errorMessage(res, text, data), data);
  }
  return data;
}

/** POST with a JSON body ({} when none is given). */
export function post(path, body) {
  return api('POST', path, body === undefined ? {} : body);
}

/** GET. */
export function get(path) {
  return api('GET', path);
}

function errorMessage(res, text, data) {
  if (data && typeof data.error === 'string' && data.error !== '') {
    return data.error;
  }
  if (res.status === 401) {
    return 'not logged in (the session may have expired): reload the page to log in again';
  }
  const type = res.headers.get('Content-Type') || '';
  if (type.startsWith('text/plain') && text.trim() !== '') {
    return text.trim().slice(0, 300);
  }
  return 'the server answered ' + res.status + (res.statusText ? ' ' + res.statusText : '');
}

/** Builds an API path from a template's parts, escaping each dynamic segment: path`/points/${id}/select`. */
export function path(strings, ...parts) {
  let out = '/api/v1';
  strings.forEach((s, i) => {
    out += s;
    if (i < parts.length) out += encodeURIComponent(String(parts[i]));
  });
  return out;
}
