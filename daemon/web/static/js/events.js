// The live event stream: one WebSocket to GET /api/v1/events for the whole
// page, resumed after any interruption from the last event id seen, so no
// change is missed (the daemon replays what happened meanwhile).

import {api, getToken} from './api.js';

const TOPICS = 'repository,ingestion,build,launch,comment';
const HEARTBEAT = 15; // seconds, asked of the daemon
// Silence longer than this means the connection is dead even if the
// browser has not noticed (a suspended laptop, a proxy that dropped it).
const SILENCE_MS = (HEARTBEAT * 2 + 10) * 1000;

export class EventStream {
  constructor(onState) {
    this.onState = onState || (() => {});
    this.listeners = new Set();
    this.lastId = null;
    this.ws = null;
    this.retry = 0;
    this.timer = null;
    this.watchdog = null;
    this.stopped = false;
  }

  // on registers fn(event) for every event; it returns the unsubscribe function.
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // init reads the cursor (GET /api/v1/events/last). Call it before the
  // page loads what it shows, and connect after: the stream replays
  // everything newer than the cursor, so the loaded state and the events
  // meet without a gap.
  async init() {
    try {
      const c = await api('GET', '/api/v1/events/last');
      if (this.lastId === null) this.lastId = c.last_id;
    } catch {
      // The stream may still work; without a cursor it starts live.
    }
  }

  // restart reconnects at once (a new token, the network came back).
  restart() {
    this.retry = 0;
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
      this.ws = null;
    }
    clearTimeout(this.timer);
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const u = new URL('/api/v1/events', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('topics', TOPICS);
    u.searchParams.set('heartbeat', `${HEARTBEAT}s`);
    if (this.lastId !== null) u.searchParams.set('since', String(this.lastId));
    // Browsers cannot set headers on a WebSocket handshake: a daemon with a
    // token takes it as access_token on this route (docs/api.md).
    const token = getToken();
    if (token) u.searchParams.set('access_token', token);
    this.onState(this.retry ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(u.href);
    } catch (err) {
      this.schedule(String(err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.onState('live');
      this.kick();
    };
    ws.onmessage = (m) => {
      this.kick();
      let ev;
      try { ev = JSON.parse(m.data); } catch { return; }
      if (ev.type === 'heartbeat') return;
      if (typeof ev.id === 'number' && ev.id > 0) {
        if (this.lastId !== null && ev.id <= this.lastId) return; // already seen
        this.lastId = ev.id;
      }
      for (const fn of [...this.listeners]) {
        try { fn(ev); } catch (err) { console.error('event listener failed', err); }
      }
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.watchdog);
      this.schedule(e.reason || `closed (${e.code})`);
    };
  }

  // kick re-arms the silence watchdog.
  kick() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.ws) this.ws.close(4000, 'no heartbeat');
    }, SILENCE_MS);
  }

  schedule(reason) {
    if (this.stopped) return;
    // 0.5s, 1s, 2s … 15s, with jitter so that many tabs do not reconnect at once.
    const base = Math.min(15000, 500 * 2 ** this.retry);
    const delay = base / 2 + Math.random() * base / 2;
    this.retry++;
    this.onState('reconnecting', reason);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
