// LaunchControl: the Launch / Stop buttons of an app and, once it runs,
// its preview links. It follows launch.* events of its app.

import {api, enc} from './api.js';
import {h, replace, badge, announce} from './dom.js';

const ACTIVE = new Set(['starting', 'running', 'stopping']);

// BUILD_PAGE is how many of an app's newest builds decide whether it can be
// launched (see launchBlocked).
export const BUILD_PAGE = 10;

// launchBlocked says why an app has nothing to launch, or '' when it may
// have: the one rule of the cards and the app page. builds are the app's
// newest builds (up to BUILD_PAGE); when none of them succeeded but there
// are that many, an older one may have, and the daemon decides.
export function launchBlocked(ingestStatus, builds) {
  const all = builds || [];
  if (all.some((b) => b.status === 'succeeded') || all.length >= BUILD_PAGE) return '';
  if (!all.length) {
    return ingestStatus === 'failed'
      ? 'Nothing to launch: ingestion failed (its error is on the app page).' : 'Nothing to launch yet: no build.';
  }
  let b = all[0];
  for (const x of all) if (x.id > b.id) b = x;
  if (b.status === 'queued' || b.status === 'running') return `Nothing to launch yet: build #${b.id} is ${b.status}.`;
  return `Nothing to launch: no build succeeded (build #${b.id} ${b.status}).`;
}

// The choices of a launch (POST …/launches): '' leaves it to the daemon.
const PROFILES = [['', 'profile: the app’s'], ['small', 'small (256 MiB)'], ['medium', 'medium (512 MiB)'], ['large', 'large (1 GiB)']];
const TTLS = [['', 'ends: default'], ['15m', '15 minutes'], ['30m', '30 minutes'], ['1h', '1 hour'], ['2h', '2 hours'], ['8h', '8 hours'], ['24h', '24 hours']];

export class LaunchControl {
  // slug: the app; launch: its newest active launch or null; onError(err)
  // shows a failure where the caller wants it. choices adds the profile
  // and time-to-live selects (the app page); starter says who started the
  // launch that runs.
  constructor(slug, launch, onError, {choices = false, starter = false} = {}) {
    this.starter = starter;
    this.slug = slug;
    this.launch = launch || null;
    this.onError = onError || ((err) => console.error(err));
    this.busy = false;
    this.lastError = '';
    // note says what the last Launch did (joined the running launch,
    // replaced another one).
    this.note = '';
    this.choices = null;
    if (choices) {
      const sel = (role, label, opts) => h('select', {'data-role': role, 'aria-label': label},
        opts.map(([v, t]) => h('option', {value: v}, t)));
      this.choices = {profile: sel('profile', `Resource profile of ${slug}`, PROFILES), ttl: sel('ttl', `How long ${slug} runs`, TTLS)};
    }
    // blocked says why there is nothing to launch (no build yet, or none
    // succeeded): the button is then disabled with the reason beside it,
    // instead of a click that can only fail.
    this.blocked = '';
    this.el = h('div', {class: 'launch', dataset: {slug}});
    this.render();
  }

  render() {
    const l = this.launch;
    const status = l && ACTIVE.has(l.status) ? l.status : 'none';
    this.el.dataset.status = status;
    const parts = [];
    if (status === 'none') {
      const why = this.busy ? '' : this.blocked;
      parts.push(h('button', {type: 'button', class: 'primary', 'data-action': 'launch', disabled: this.busy || !!why,
        'aria-label': `Launch ${this.slug}`, 'aria-describedby': why ? `launch-why-${this.slug}` : null,
        on: {click: () => this.start()}}, this.busy ? 'Launching…' : 'Launch'));
      if (this.choices && !why) parts.push(this.choices.profile, this.choices.ttl);
      if (why) parts.push(h('span', {class: 'small none', id: `launch-why-${this.slug}`, 'data-role': 'launch-blocked'}, why));
      if (this.lastError) parts.push(h('span', {class: 'error small'}, this.lastError));
    } else {
      parts.push(badge('launch', status, 'launch'));
      if (status === 'running' && l.preview_url) {
        parts.push(h('a', {class: 'preview', href: l.preview_url, target: '_blank', rel: 'noopener',
          'data-role': 'preview'}, 'Open preview'));
        parts.push(h('a', {class: 'preview alt', href: `/apps/${enc(this.slug)}/`, target: '_blank', rel: 'noopener',
          title: 'The same app under this address (path fallback)'}, `/apps/${this.slug}/`));
      }
      if (status !== 'stopping') {
        parts.push(h('button', {type: 'button', 'data-action': 'stop', disabled: this.busy,
          'aria-label': `Stop ${this.slug}`, on: {click: () => this.stop()}}, 'Stop'));
        if (this.choices) parts.push(this.choices.profile, this.choices.ttl,
          h('button', {type: 'button', 'data-action': 'relaunch', disabled: this.busy,
            title: 'Launch again with the profile and time chosen (the same profile keeps the launch and sets its end)',
            on: {click: () => this.start()}}, 'Apply'));
      }
    }
    if (status !== 'none' && this.starter && l.launched_by) {
      parts.push(h('span', {class: 'small none', 'data-role': 'launched-by'}, `started by ${l.launched_by}`));
    }
    if (this.note) parts.push(h('span', {class: 'small', 'data-role': 'launch-note'}, this.note));
    replace(this.el, parts);
  }

  // body is what a Launch asks for: the choices made, if any.
  body() {
    if (!this.choices) return undefined;
    const b = {};
    if (this.choices.profile.value) b.profile = this.choices.profile.value;
    if (this.choices.ttl.value) b.ttl = this.choices.ttl.value;
    return b;
  }

  async start() {
    this.busy = true;
    this.lastError = '';
    this.render();
    try {
      // 201: a container of its own; 200: the one already running.
      const l = await api('POST', `/api/v1/repositories/${enc(this.slug)}/launches`, {body: this.body()});
      // Say what was done: the launch running was kept (its end set), or
      // a new one replaces it once it answers.
      const ends = l.expires_at ? ` ends ${new Date(l.expires_at).toLocaleTimeString()}` : '';
      this.note = l.origin === 'reused' ? `Already running (launch ${l.id});${ends}.`
        : l.replaces ? `Launch ${l.id} replaces launch ${l.replaces} once it answers.` : '';
      if (this.note) announce(this.note);
      this.set(l);
    } catch (err) {
      this.onError(err);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  async stop() {
    if (!this.launch) return;
    this.busy = true;
    this.render();
    try {
      this.set(await api('DELETE', `/api/v1/launches/${this.launch.id}`));
    } catch (err) {
      this.onError(err);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  // setBlocked records why nothing can be launched ('' when it can).
  setBlocked(reason) {
    if (reason === this.blocked) return;
    this.blocked = reason || '';
    this.render();
  }

  // set takes a launch object from the API.
  set(l) {
    if (!l) return;
    if (this.launch && l.id < this.launch.id && ACTIVE.has(this.launch.status)) return; // an older one
    this.launch = l;
    if (l.status === 'failed') this.lastError = `Last launch failed${l.error_message ? `: ${l.error_message}` : ''}`;
    this.render();
    if (this.onChange) this.onChange(l);
  }

  // handle applies a launch.* event of this app.
  handle(ev) {
    const d = ev.data || {};
    if (!ev.type.startsWith('launch.') || d.slug !== this.slug || d.warm) return;
    const cur = this.launch;
    if (cur && d.launch_id < cur.id) return;
    const changed = !cur || cur.id !== d.launch_id || cur.status !== d.status;
    // A launch first seen here was started by the event's actor, unless
    // that is the daemon (a wake, a redeploy): launched_by names no one then.
    const starter = ev.actor && !/^appstored(:|$)/.test(ev.actor) ? ev.actor : undefined;
    const l = {...(cur && cur.id === d.launch_id ? cur : {launched_by: starter}), id: d.launch_id, status: d.status, error_message: d.error};
    this.set(l);
    if (!changed) return;
    if (d.status === 'running') {
      announce(`${this.slug} is running`);
      // Events carry no preview URL: the launch resource has it.
      api('GET', `/api/v1/launches/${d.launch_id}`).then((full) => {
        if (this.launch && this.launch.id === full.id) this.set(full);
      }).catch((err) => this.onError(err));
    } else if (d.status === 'failed') {
      announce(`Launch of ${this.slug} failed`);
    }
  }
}

// activeLaunches returns the newest active launch of each app, by slug.
export async function activeLaunches(slug) {
  const query = {active: 'true', limit: 1000};
  if (slug) query.repository = slug;
  const list = await api('GET', '/api/v1/launches', {query});
  const by = new Map();
  for (const l of list.launches || []) {
    if (l.warm) continue;
    const cur = by.get(l.repository);
    if (!cur || l.id > cur.id) by.set(l.repository, l);
  }
  return by;
}
