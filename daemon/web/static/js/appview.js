// An app's page (/app/<slug>): description, tags by source, the ingestion
// timeline, builds, the live build log, Launch/Stop and the preview link.
// Everything follows the app's events, so a build started elsewhere shows
// up and finishes here without a reload.

import {api, jsonLines, isAbort, enc} from './api.js';
import {h, replace, badge, timeEl, duration, shortSHA, announce} from './dom.js';
import {LaunchControl, activeLaunches, launchBlocked, BUILD_PAGE} from './launch.js';
import {tagText} from './cards.js';
import {safeHTML} from './safehtml.js';
import {Cover} from './cover.js';
import {Community} from './community.js';
import {BuildFacts} from './buildfacts.js';

const SOURCES = [
  ['manual', 'Manual', 'added by people; kept across re-ingestion'],
  ['author', 'Author', 'declared by the repository (tags.yaml, README front matter)'],
  ['auto', 'Detected', 'read from the code (languages, frameworks, Dockerfile, license)'],
];
const MAX_LOG_LINES = 5000;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const LIVE = new Set(['starting', 'running']);

export class AppView {
  constructor(root, ctx, slug) {
    this.ctx = ctx;
    this.slug = slug;
    this.repo = null;
    this.builds = new Map(); // id → build
    this.lastStep = 0;
    this.logBuild = null; // the build whose log is shown
    this.logAuto = true; // follow the newest build until one is picked
    this.logCtrl = null;
    this.gone = false;
    // Events that arrive while the page loads wait for it: applied on top
    // of what was loaded, in order, they end in the current state whether
    // or not the load already saw them.
    this.loading = true;
    this.pending = [];

    this.heading = h('h1', {tabindex: '-1'}, slug);
    this.meta = h('p', {class: 'meta'});
    this.desc = h('p', {class: 'desc'});
    this.cover = new Cover({slug}, {large: true});
    this.banner = h('p', {class: 'notice', hidden: true});
    this.alert = h('p', {class: 'error', role: 'alert', hidden: true});
    this.statusEl = h('p', {class: 'status', id: 'app-status'});
    this.ingestError = h('pre', {class: 'ingest-error', hidden: true});
    // The Dockerfile, stage, port and storage (buildfacts.js).
    this.buildFacts = new BuildFacts(slug);
    this.launch = new LaunchControl(slug, null, (err) => this.fail(err), {choices: true, starter: true});
    // The star button and the comments (community.js).
    this.community = new Community(slug, (err) => this.fail(err));
    this.launch.onChange = () => this.followOutput();
    this.noCache = h('input', {type: 'checkbox', id: 'no-cache'});
    this.actions = h('div', {class: 'actions'},
      h('button', {type: 'button', 'data-action': 'refresh', on: {click: () => this.refresh()}}, 'Ingest again'),
      h('button', {type: 'button', 'data-action': 'rebuild', on: {click: () => this.rebuild()}}, 'Rebuild'),
      h('label', {class: 'check', for: 'no-cache'}, this.noCache, ' without cache'),
      h('button', {type: 'button', class: 'danger', 'data-action': 'remove', on: {click: () => this.askRemove()}}, 'Remove app…'));
    // Removal asks first, in the page, saying what runs.
    this.confirmRemove = h('div', {class: 'confirm', role: 'group', 'aria-label': 'Confirm removal', hidden: true});
    this.tags = h('div', {class: 'tags-by-source'});
    // What the app declares it reads and what sets each (secrets by name
    // only: no route answers a value).
    this.config = h('div', {class: 'config', 'data-role': 'config'});
    this.configPanel = h('section', {class: 'panel', 'aria-labelledby': 'config-title', hidden: true},
      h('h2', {id: 'config-title'}, 'Configuration'), this.config);
    this.tagInput = h('input', {type: 'text', id: 'new-tag', autocomplete: 'off', spellcheck: 'false', placeholder: 'key:value'});
    this.tagForm = h('form', {class: 'row tag-form', on: {submit: (e) => { e.preventDefault(); this.addTag(); }}},
      h('label', {for: 'new-tag', class: 'visually-hidden'}, 'Add a tag'), this.tagInput,
      h('button', {type: 'submit', 'data-action': 'add-tag'}, 'Add tag'));
    // The README, rendered by the daemon and rebuilt here from an
    // allow-list (safehtml.js).
    this.readme = h('div', {class: 'readme', 'data-role': 'readme'});
    // The app's own output while a launch runs.
    this.outState = h('p', {class: 'log-state', id: 'out-state'}, 'The app is not running: its output shows here while it runs.');
    this.out = h('pre', {class: 'log out', role: 'log', tabindex: '0', 'aria-labelledby': 'out-title', 'aria-describedby': 'out-state'});
    this.outLaunch = 0;
    this.outCtrl = null;
    this.timeline = h('ol', {class: 'timeline', 'aria-label': 'Ingestion steps, oldest first'});
    this.buildRows = h('tbody', {});
    this.logTitle = h('h2', {id: 'log-title'}, 'Build log');
    this.logState = h('p', {class: 'log-state', id: 'log-state'});
    this.log = h('pre', {class: 'log', role: 'log', tabindex: '0', 'aria-labelledby': 'log-title', 'aria-describedby': 'log-state'});

    // The panels of an app; hidden while there is no app (an unknown slug,
    // or one removed under the page), whose buttons could only fail.
    this.panels = [
      h('section', {class: 'panel', 'aria-labelledby': 'st-title'},
        h('h2', {id: 'st-title'}, 'Status'), this.statusEl, this.ingestError, this.launch.el, this.actions, this.confirmRemove),
      this.buildFacts.el,
      this.community.commentsPanel,
      h('section', {class: 'panel', 'aria-labelledby': 'tags-title'}, h('h2', {id: 'tags-title'}, 'Tags'), this.tags, this.tagForm),
      this.configPanel,

      h('div', {class: 'two'},
          h('section', {class: 'panel', 'aria-labelledby': 'tl-title'}, h('h2', {id: 'tl-title'}, 'Ingestion timeline'), this.timeline),
          h('section', {class: 'panel', 'aria-labelledby': 'builds-title'}, h('h2', {id: 'builds-title'}, 'Builds'),
            h('div', {class: 'table-wrap'}, h('table', {class: 'builds'},
              h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Build'), h('th', {scope: 'col'}, 'Status'),
                h('th', {scope: 'col'}, 'Commit'), h('th', {scope: 'col'}, 'Took'), h('th', {scope: 'col'}, 'Queued'))),
              this.buildRows)))),
      h('section', {class: 'panel', 'aria-labelledby': 'log-title'}, this.logTitle, this.logState, this.log),
      h('section', {class: 'panel', 'aria-labelledby': 'out-title'}, h('h2', {id: 'out-title'}, 'App output'), this.outState, this.out),
      h('section', {class: 'panel', 'aria-labelledby': 'readme-title'}, h('h2', {id: 'readme-title'}, 'README'), this.readme),
    ];
    replace(root,
      h('p', {class: 'crumbs'}, h('a', {href: '/', 'data-nav': true}, '← All apps')),
      h('article', {class: 'app', dataset: {slug}},
        h('header', {class: 'app-head'}, this.heading, this.meta, this.community.starButton, this.desc),
        this.cover.el,
        this.banner,
        this.alert,
        ...this.panels));

    if (history.state && history.state.added) {
      this.banner.textContent = 'Registered. Its ingestion and build are followed live below.';
      this.banner.hidden = false;
    }
    this.unsubscribe = ctx.events.on((ev) => this.event(ev));
    this.load();
  }

  focusTarget() { return this.heading; }

  destroy() {
    this.unsubscribe();
    this.community.destroy();
    if (this.logCtrl) this.logCtrl.abort();
    if (this.outCtrl) this.outCtrl.abort();
  }

  fail(err) {
    this.alert.textContent = err.message;
    this.alert.hidden = false;
  }

  setGone(gone) {
    this.gone = gone;
    this.cover.el.hidden = gone;
    this.community.starButton.hidden = gone;
    for (const p of this.panels) p.hidden = gone;
  }

  async load() {
    this.loading = true;
    try {
      const [repo, steps, builds, launches] = await Promise.all([
        api('GET', `/api/v1/repositories/${enc(this.slug)}`),
        api('GET', `/api/v1/repositories/${enc(this.slug)}/events`, {query: {limit: 100}}),
        api('GET', `/api/v1/repositories/${enc(this.slug)}/builds`, {query: {limit: BUILD_PAGE}}),
        activeLaunches(this.slug).catch(() => new Map()),
      ]);
      if (this.gone) {
        // Registered again (repository.created) after it was missing.
        this.setGone(false);
        this.alert.hidden = true;
      }
      this.showRepo(repo);
      this.timeline.replaceChildren();
      this.lastStep = 0;
      this.addSteps(steps.events || []);
      this.builds.clear();
      this.buildRows.replaceChildren();
      for (const b of (builds.builds || []).slice().reverse()) this.putBuild(b);
      this.renderStatus(); // also without builds: the table and Launch say so
      const l = launches.get(this.slug);
      if (l) this.launch.set(l);
      this.loadConfig();
      this.followOutput();
      this.loadReadme();
      this.community.load();
      if (this.logAuto) this.followNewest();
    } catch (err) {
      if (err.status === 404) {
        this.setGone(true);
        this.heading.textContent = `No app “${this.slug}”`;
        this.fail(new Error('It is not registered (or was removed). Search for it, or add it.'));
        return;
      }
      this.fail(err);
    } finally {
      this.loading = false;
      const pending = this.pending;
      this.pending = [];
      for (const ev of pending) this.event(ev);
    }
  }

  showRepo(r) {
    this.repo = r;
    this.cover.set(r);
    this.heading.textContent = r.emoji ? `${r.emoji} ${r.name || r.slug}` : r.name || r.slug;
    document.title = `${r.name || r.slug} — appstore`;
    replace(this.meta, h('code', {}, r.slug), ' · ', h('span', {class: 'giturl'}, r.git_url),
      r.homepage ? [' · ', h('a', {href: r.homepage, rel: 'noopener noreferrer'}, 'homepage')] : null,
      // The user who owns the app, linked to the search of its apps.
      r.owned_by ? [' · owned by ', h('a', {class: 'owner', href: `/?q=${enc('owner:' + r.owned_by)}`, 'data-nav': true,
        title: r.registered_by && r.registered_by !== r.owned_by ? `registered by ${r.registered_by}` : `Apps of ${r.owned_by}`}, r.owned_by)] : null,
      r.last_commit_sha ? [' · commit ', h('code', {}, shortSHA(r.last_commit_sha))] : null,
      // Fields set by hand (appstore edit): ingestion leaves them alone.
      r.manual_fields && r.manual_fields.length ? [' · ', h('span', {class: 'manual-fields', title: 'Set by hand with appstore edit: ingestion leaves these alone until they are reset'},
        `set by hand: ${r.manual_fields.join(', ')}`)] : null);
    this.desc.textContent = r.description || 'No description yet.';
    this.desc.className = r.description ? 'desc' : 'desc none';
    this.renderStatus();
    this.buildFacts.set(r);
    const groups = SOURCES.map(([src, label, help]) => {
      const tags = (r.tags || []).filter((t) => (t.source || 'manual') === src);
      if (!tags.length) return null;
      return h('div', {class: 'tag-group', dataset: {source: src}},
        h('h3', {title: help}, label, h('span', {class: 'help'}, ` — ${help}`)),
        h('ul', {class: 'chips'}, tags.map((t) => h('li', {},
          h('a', {class: 'chip', href: `/?q=${enc(tagText(t))}`, 'data-nav': true, title: `Search apps tagged ${tagText(t)}`}, tagText(t)),
          // Manual tags are the ones people set, and can remove.
          src === 'manual' ? h('button', {type: 'button', class: 'chip-remove', 'data-action': 'remove-tag', 'data-tag': tagText(t),
            'aria-label': `Remove the tag ${tagText(t)}`, on: {click: () => this.removeTag(tagText(t))}}, '×') : null))));
    });
    replace(this.tags, groups.some(Boolean) ? groups : h('p', {class: 'none'}, 'No tags yet: they are read when ingestion finishes.'));
  }

  newestBuild() {
    let newest = null;
    for (const b of this.builds.values()) if (!newest || b.id > newest.id) newest = b;
    return newest;
  }

  renderStatus() {
    const r = this.repo;
    if (!r) return;
    const b = this.newestBuild();
    replace(this.statusEl,
      badge('ingest', r.ingest_status, 'ingest'),
      b ? badge('build', b.status, `build #${b.id}`) : badge('build', 'none', 'build'));
    this.ingestError.textContent = r.ingest_status === 'failed' ? (r.ingest_error || 'failed') : '';
    this.ingestError.hidden = r.ingest_status !== 'failed';
    this.launch.setBlocked(this.launchBlocked());
    // An empty table under its headings reads as broken: say why.
    const none = this.buildRows.querySelector('tr.none');
    if (this.builds.size && none) none.remove();
    if (!this.builds.size && !none) {
      this.buildRows.append(h('tr', {class: 'none'}, h('td', {colspan: '5'},
        r.ingest_status === 'failed' ? 'No builds: ingestion failed (see above).' : 'No builds yet.')));
    }
  }

  // launchBlocked says why there is no image to launch, or '' when there
  // may be one. Only the newest builds are loaded: when none of them
  // succeeded but older ones exist, the daemon decides.
  launchBlocked() {
    const why = launchBlocked(this.repo && this.repo.ingest_status, [...this.builds.values()]);
    if (why || !this.configMissing || !this.configMissing.length) return why;
    // The daemon refuses the launch until these are set: say so first.
    return `Not launchable until ${this.configMissing.join(', ')} ${this.configMissing.length > 1 ? 'are' : 'is'} set (see Configuration).`;
  }

  async loadReadme() {
    try {
      const r = await api('GET', `/api/v1/repositories/${enc(this.slug)}/readme`);
      if (!r.markdown.trim()) {
        replace(this.readme, h('p', {class: 'none'}, 'No README: it is read from the repository when ingestion finishes.'));
        return;
      }
      replace(this.readme, safeHTML(r.html));
    } catch (err) {
      if (!isAbort(err)) replace(this.readme, h('p', {class: 'error small'}, `The README could not be read: ${err.message}`));
    }
  }

  // followOutput follows the output of the app's running launch, and says
  // so when there is none.
  followOutput() {
    const l = this.launch.launch;
    const id = l && LIVE.has(l.status) ? l.id : 0;
    if (id === this.outLaunch) return;
    if (this.outCtrl) this.outCtrl.abort();
    this.outCtrl = null;
    this.outLaunch = id;
    if (!id) {
      if (this.out.childNodes.length) this.outState.textContent = 'The app stopped; its last output is above.';
      return;
    }
    this.out.replaceChildren();
    this.out.dataset.launchId = String(id);
    const ctrl = this.outCtrl = new AbortController();
    this.streamOutput(id, ctrl);
  }

  async streamOutput(id, ctrl) {
    for (let failures = 0; !ctrl.signal.aborted;) {
      this.outState.textContent = `Following the output of launch ${id}…`;
      try {
        // The daemon keeps the answer open while the app runs.
        await jsonLines(`/api/v1/launches/${id}/logs`, {follow: 1, tail: 200},
          (line) => this.appendOutput(line), ctrl.signal);
        if (!ctrl.signal.aborted) this.outState.textContent = `Launch ${id} ended; its last output is above.`;
        return;
      } catch (err) {
        if (isAbort(err) || ctrl.signal.aborted) return;
        const l = this.launch.launch;
        if (!l || l.id !== id || !LIVE.has(l.status)) return;
        failures++;
        this.outState.textContent = `Output stream interrupted (${err.message}); resuming…`;
        await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** failures)));
        this.out.replaceChildren();
      }
    }
  }

  appendOutput(line) {
    const pre = this.out;
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
    pre.append(line.stream === 'stderr' ? h('span', {class: 'stderr'}, `${line.line}\n`) : document.createTextNode(`${line.line}\n`));
    if (pre.childNodes.length > MAX_LOG_LINES) pre.firstChild.remove();
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  async addTag() {
    const text = this.tagInput.value.trim();
    if (!text) return;
    this.alert.hidden = true;
    try {
      this.showRepo(await api('PATCH', `/api/v1/repositories/${enc(this.slug)}`, {body: {add_tags: text.split(/[\s,]+/).filter(Boolean)}}));
      this.tagInput.value = '';
      announce(`Tagged ${text}`);
    } catch (err) {
      this.fail(err);
      this.tagInput.setAttribute('aria-invalid', 'true');
      return;
    }
    this.tagInput.removeAttribute('aria-invalid');
  }

  async removeTag(tag) {
    this.alert.hidden = true;
    try {
      this.showRepo(await api('PATCH', `/api/v1/repositories/${enc(this.slug)}`, {body: {remove_tags: [tag]}}));
      announce(`Removed the tag ${tag}`);
    } catch (err) {
      this.fail(err);
    }
  }

  // askRemove shows the confirmation, with what runs: removal stops it.
  askRemove() {
    const l = this.launch.launch;
    const runs = l && LIVE.has(l.status) ? ` It is running (launch ${l.id}); removing it stops it.` : '';
    replace(this.confirmRemove,
      h('p', {'data-role': 'remove-question'}, `Remove ${this.slug} from the store, with its tags, builds and history?${runs}`),
      h('button', {type: 'button', class: 'danger', 'data-action': 'confirm-remove', on: {click: () => this.remove()}}, `Remove ${this.slug}`),
      ' ',
      h('button', {type: 'button', 'data-action': 'keep', on: {click: () => { this.confirmRemove.hidden = true; }}}, 'Keep it'));
    this.confirmRemove.hidden = false;
    this.confirmRemove.querySelector('[data-action="keep"]').focus();
  }

  async remove() {
    this.alert.hidden = true;
    try {
      await api('DELETE', `/api/v1/repositories/${enc(this.slug)}`);
      announce(`Removed ${this.slug}`);
      this.ctx.navigate('/', {removed: this.slug});
    } catch (err) {
      this.fail(err);
    }
  }

  addSteps(steps) {
    for (const s of steps) {
      if (s.id <= this.lastStep) continue;
      this.lastStep = s.id;
      this.timeline.append(h('li', {dataset: {status: s.status, id: String(s.id)}},
        timeEl(s.created_at), ' ', badge('step', s.status),
        s.attempt ? h('span', {class: 'attempt'}, ` attempt ${s.attempt}`) : null,
        s.duration_ms !== undefined ? h('span', {class: 'took'}, ` ${duration(s.duration_ms)}`) : null,
        // Who caused the step: a user, or appstored:<cause> for the
        // daemon's own work (an ingestion run, a sync).
        s.actor ? h('span', {class: 'actor', 'data-role': 'actor'}, ` by ${s.actor}`) : null,
        s.message ? h('span', {class: 'msg'}, s.message) : null));
    }
  }

  async moreSteps() {
    try {
      const res = await api('GET', `/api/v1/repositories/${enc(this.slug)}/events`, {query: {after: this.lastStep, limit: 100}});
      this.addSteps(res.events || []);
    } catch (err) {
      this.fail(err);
    }
  }

  // loadConfig shows the app's configuration: each declared variable with
  // what sets it, a missing required one with the command that sets it,
  // then the variables and secrets it does not declare. The panel stays
  // hidden for an app that declares and has none (or a daemon without the
  // route).
  async loadConfig() {
    let c;
    try {
      c = await api('GET', `/api/v1/repositories/${enc(this.slug)}/env`);
    } catch (err) {
      this.configPanel.hidden = true;
      return;
    }
    const declared = new Set((c.declared || []).map((d) => d.name));
    const missing = new Set(c.missing || []);
    const rows = (c.declared || []).map((d) => {
      const need = (d.required ? 'required' : 'optional') + (d.secret ? ', secret' : '');
      let state;
      if (d.set_by === 'default') state = h('span', {class: 'none'}, `default (${d.default})`);
      else if (d.set_by) state = `set (${d.set_by})`;
      else if (missing.has(d.name)) {
        const cmd = d.secret ? `appstore secret set ${this.slug} ${d.name}` : `appstore env set ${this.slug} ${d.name}=…`;
        state = h('span', {class: 'error'}, 'missing — ', h('code', {}, cmd));
      } else state = h('span', {class: 'none'}, 'not set');
      return h('tr', {dataset: {name: d.name, state: d.set_by || (missing.has(d.name) ? 'missing' : 'unset')}},
        h('th', {scope: 'row'}, h('code', {}, d.name)), h('td', {}, need), h('td', {}, state),
        h('td', {class: 'none'}, d.description || `from ${d.source}`));
    });
    for (const v of c.variables || []) {
      if (!declared.has(v.name)) rows.push(h('tr', {dataset: {name: v.name, state: 'variable'}},
        h('th', {scope: 'row'}, h('code', {}, v.name)), h('td', {}, 'variable'), h('td', {}, 'set'), h('td', {})));
    }
    for (const s of c.secrets || []) {
      if (!declared.has(s.name)) rows.push(h('tr', {dataset: {name: s.name, state: 'secret'}},
        h('th', {scope: 'row'}, h('code', {}, s.name)), h('td', {}, 'secret'), h('td', {}, 'set'), h('td', {})));
    }
    this.configPanel.hidden = rows.length === 0;
    this.configMissing = [...missing];
    this.renderStatus();
    replace(this.config, h('div', {class: 'table-wrap'}, h('table', {class: 'builds'},
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Variable'), h('th', {scope: 'col'}, 'Needs'),
        h('th', {scope: 'col'}, 'Set'), h('th', {scope: 'col'}, 'About'))),
      h('tbody', {}, rows))),
    missing.size ? h('p', {class: 'error'}, `Launching is refused until ${[...missing].join(', ')} ${missing.size > 1 ? 'are' : 'is'} set.`) : null);
  }

  async refreshRepo() {
    try {
      this.showRepo(await api('GET', `/api/v1/repositories/${enc(this.slug)}`));
    } catch (err) {
      if (!isAbort(err)) this.fail(err);
    }
  }

  // putBuild adds or updates a build's row.
  putBuild(b) {
    const old = this.builds.get(b.id);
    const merged = {...(old || {}), ...b};
    this.builds.set(b.id, merged);
    const row = h('tr', {dataset: {buildId: String(b.id), status: merged.status}, class: this.logBuild === b.id ? 'selected' : ''},
      h('td', {}, h('button', {type: 'button', class: 'linklike', 'aria-pressed': String(this.logBuild === b.id),
        'aria-label': `Show the log of build ${b.id}`, on: {click: () => this.showLog(b.id, false)}}, `#${b.id}`)),
      h('td', {}, badge('build', merged.status), merged.cached ? h('span', {class: 'help'}, ' cached') : null,
        merged.error_message ? h('div', {class: 'error small'}, merged.error_message) : null),
      h('td', {}, h('code', {}, shortSHA(merged.commit_sha))),
      h('td', {}, duration(merged.duration_ms)),
      h('td', {}, timeEl(merged.created_at)));
    const existing = this.buildRows.querySelector(`tr[data-build-id="${b.id}"]`);
    if (existing) {
      existing.replaceWith(row);
    } else {
      // Newest first.
      const after = [...this.buildRows.children].find((tr) => Number(tr.dataset.buildId) < b.id);
      this.buildRows.insertBefore(row, after || null);
    }
    if (b.id === this.logBuild && this.log.dataset.done !== 'true' && !TERMINAL.has(merged.status)) {
      this.logState.textContent = `Following live (build ${merged.status})…`;
    }
    this.renderStatus();
  }

  followNewest() {
    const b = this.newestBuild();
    if (b && b.id !== this.logBuild) this.showLog(b.id, true);
    if (!b) {
      this.logState.textContent = this.repo && this.repo.ingest_status === 'failed'
        ? 'No build: ingestion failed, so none starts. Fix the repository, then Ingest again.'
        : 'No build yet: one starts when ingestion finishes.';
    }
  }

  // showLog shows (and, while the build runs, follows) build id's log.
  showLog(id, auto) {
    this.logAuto = auto;
    if (this.logCtrl) this.logCtrl.abort();
    this.logBuild = id;
    for (const tr of this.buildRows.children) {
      const sel = Number(tr.dataset.buildId) === id;
      tr.classList.toggle('selected', sel);
      tr.querySelector('button').setAttribute('aria-pressed', String(sel));
    }
    this.logTitle.textContent = `Build #${id} log`;
    this.log.replaceChildren();
    this.log.dataset.buildId = String(id);
    this.log.dataset.done = 'false';
    this.lines = 0;
    const ctrl = this.logCtrl = new AbortController();
    this.followLog(id, ctrl);
  }

  async followLog(id, ctrl) {
    let since = 0;
    let failures = 0;
    for (;;) {
      const b = this.builds.get(id);
      const done = b && TERMINAL.has(b.status);
      this.logState.textContent = done ? 'Loading…' : `Following live (build ${b ? b.status : 'queued'})…`;
      try {
        // With follow=1 the daemon keeps the answer open until the build
        // ends; since= resumes after the last line received.
        await jsonLines(`/api/v1/builds/${id}/logs`, {follow: done ? 0 : 1, since},
          (line) => { since = line.id; this.appendLog(line.line); }, ctrl.signal);
        failures = 0;
        const fresh = await api('GET', `/api/v1/builds/${id}`, {signal: ctrl.signal});
        this.putBuild(fresh);
        if (TERMINAL.has(fresh.status)) {
          this.log.dataset.done = 'true';
          this.logState.textContent = `Build #${id} ${fresh.status}${fresh.duration_ms !== undefined ? ` in ${duration(fresh.duration_ms)}` : ''}; ${this.lines} log lines.`;
          return;
        }
      } catch (err) {
        if (isAbort(err) || ctrl.signal.aborted) return;
        failures++;
        this.logState.textContent = `Log stream interrupted (${err.message}); resuming…`;
        await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** failures)));
        if (ctrl.signal.aborted) return;
      }
    }
  }

  appendLog(text) {
    const pre = this.log;
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
    pre.append(document.createTextNode(`${text}\n`));
    this.lines++;
    if (pre.childNodes.length > MAX_LOG_LINES) {
      pre.firstChild.remove();
      if (!pre.dataset.cut) {
        pre.dataset.cut = 'true';
        pre.prepend(document.createTextNode('[earlier lines not shown: see `appstore logs`]\n'));
      }
    }
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  async refresh() {
    this.alert.hidden = true;
    try {
      this.showRepo(await api('POST', `/api/v1/repositories/${enc(this.slug)}/refresh`, {body: {}}));
      announce('Ingestion queued');
    } catch (err) {
      this.fail(err);
    }
  }

  async rebuild() {
    this.alert.hidden = true;
    try {
      const b = await api('POST', `/api/v1/repositories/${enc(this.slug)}/builds`, {body: {no_cache: this.noCache.checked}});
      this.putBuild(b);
      this.showLog(b.id, true);
      announce(`Build #${b.id} queued`);
    } catch (err) {
      this.fail(err);
    }
  }

  event(ev) {
    if (this.loading) {
      this.pending.push(ev);
      return;
    }
    if (this.gone && ev.type !== 'repository.created') return;
    if (ev.type === 'stream.truncated') {
      this.load();
      return;
    }
    if (ev.subject !== this.slug) return;
    const d = ev.data || {};
    const [topic, what] = [ev.type.split('.')[0], ev.type.slice(ev.type.indexOf('.') + 1)];
    switch (topic) {
      case 'repository':
        if (what === 'deleted') {
          this.setGone(true);
          this.fail(new Error('This app was removed.'));
          if (this.logCtrl) this.logCtrl.abort();
        } else if (what === 'created') {
          this.load();
        } else if (what === 'starred') {
          this.community.starred(d);
        } else if (what === 'config_changed') {
          this.loadConfig();
        } else {
          this.refreshRepo();
        }
        break;
      case 'ingestion':
        if (this.repo && d.ingest_status) {
          this.repo.ingest_status = d.ingest_status;
          this.renderStatus();
        }
        this.moreSteps();
        if (what === 'ready' || what === 'failed') {
          this.refreshRepo();
          if (what === 'ready') {
            this.loadReadme(); // it may have changed
            this.loadConfig(); // and what the app declares it needs
          }
          announce(`Ingestion ${what}`);
        }
        break;
      case 'build':
        if (!d.build_id) break;
        if (this.builds.has(d.build_id)) {
          if (d.status) {
            const upd = {id: d.build_id, status: d.status, cached: d.cached, duration_ms: d.duration_ms, error_message: d.error};
            for (const k of Object.keys(upd)) if (upd[k] === undefined) delete upd[k];
            this.putBuild(upd);
          }
        } else {
          api('GET', `/api/v1/builds/${d.build_id}`).then((b) => {
            this.putBuild(b);
            if (this.logAuto) this.followNewest();
          }).catch((err) => this.fail(err));
        }
        if (TERMINAL.has(d.status)) announce(`Build #${d.build_id} ${d.status}`);
        break;
      case 'launch':
        this.launch.handle(ev);
        // A launch makes the data volume, and ends using it.
        if (['running', 'stopped', 'expired', 'storage_over'].includes(what)) this.buildFacts.volumeChanged();
        break;
      case 'comment':
        this.community.commentEvent(what, d);
        break;
    }
  }
}
