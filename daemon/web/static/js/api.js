// The REST API under /api/v1 (docs/api.md): JSON in and out, errors as
// {"error":{code, message, field?, slug?, position?}}.

const TOKEN_KEY = 'appstore.token';

// The daemon token lives in sessionStorage: this tab only, gone when it closes.
export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lasts until reload */ }
  // Views that depend on who is asking (my star, which comments I may
  // remove) read it again.
  window.dispatchEvent(new Event('appstore:token'));
}

// APIError is an error answer of the daemon (or a network failure, status 0).
export class APIError extends Error {
  constructor(status, detail) {
    super(detail.message || `HTTP ${status}`);
    this.name = 'APIError';
    this.status = status;
    this.code = detail.code || '';
    this.field = detail.field || '';
    this.slug = detail.slug || '';
    this.position = detail.position;
  }
}

// isAbort reports whether err comes from an AbortController.
export function isAbort(err) {
  return err && (err.name === 'AbortError');
}

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u.pathname + u.search;
}

function headers(method, hasBody, auth) {
  const hd = {Accept: 'application/json'};
  if (hasBody) hd['Content-Type'] = 'application/json';
  const token = getToken();
  // Only changes need the token; reads are open (docs/api.md, Auth),
  // except those that ask who is reading (auth: whether I starred an app).
  if (token && (method !== 'GET' || auth)) hd.Authorization = `Bearer ${token}`;
  return hd;
}

async function errorOf(resp) {
  let detail = {message: `${resp.status} ${resp.statusText}`};
  try {
    const body = await resp.json();
    if (body && body.error) detail = body.error;
  } catch { /* not JSON: keep the status line */ }
  if (resp.status === 401 && !getToken()) {
    detail = {...detail, message: `${detail.message} — open “Token” at the top of the page and enter it.`};
  }
  return new APIError(resp.status, detail);
}

// api calls the API and returns the decoded answer (null for 204).
export async function api(method, path, {query, body, signal, auth} = {}) {
  let resp;
  try {
    resp = await fetch(url(path, query), {
      method,
      headers: headers(method, body !== undefined, auth),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new APIError(0, {code: 'unavailable', message: `appstored does not answer (${err.message}); is it running?`});
  }
  if (!resp.ok) throw await errorOf(resp);
  if (resp.status === 204) return null;
  return resp.json();
}

// jsonLines reads a stream of JSON lines (build logs with ?follow=1) and
// calls onItem for each object; blank lines are the daemon's keep-alives.
// It resolves when the daemon ends the stream.
export async function jsonLines(path, query, onItem, signal) {
  let resp;
  try {
    resp = await fetch(url(path, query), {headers: {Accept: 'application/x-ndjson'}, signal, cache: 'no-store'});
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new APIError(0, {code: 'unavailable', message: `appstored does not answer (${err.message})`});
  }
  if (!resp.ok) throw await errorOf(resp);
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buf += decoder.decode(value, {stream: true});
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onItem(JSON.parse(line));
    }
  }
  buf += decoder.decode();
  if (buf.trim()) onItem(JSON.parse(buf));
}

const encoder = new TextEncoder();

// byteOffset converts a string index (UTF-16) to the UTF-8 byte offset the
// API counts in (autocomplete pos, suggestion cursors, error positions).
export function byteOffset(str, index) {
  return encoder.encode(str.slice(0, index)).length;
}

// charIndex converts a UTF-8 byte offset into str to a string index.
export function charIndex(str, bytes) {
  let b = 0;
  let i = 0;
  for (const ch of str) {
    if (b >= bytes) break;
    const cp = ch.codePointAt(0);
    b += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += ch.length;
  }
  return i;
}

export const enc = encodeURIComponent;
