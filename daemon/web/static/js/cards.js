// App cards of the search results: name, description, tags as chips,
// ingest and build status, Launch. Each card follows its app's events.

import {api, enc} from './api.js';
import {h, replace, badge} from './dom.js';
import {LaunchControl, launchBlocked, BUILD_PAGE} from './launch.js';
import {Cover} from './cover.js';

export function tagText(t) { return `${t.key}:${t.value}`; }

export class Card {
  // r: a search result; launch: its active launch or null; addTag(text)
  // puts a tag into the query; onError(err) shows a failure.
  constructor(r, launch, {addTag, onError}) {
    this.slug = r.slug;
    this.ingest = r.ingest_status;
    this.build = r.latest_build || null;
    this.launch = new LaunchControl(r.slug, launch, onError);
    this.statusEl = h('p', {class: 'status'});
    this.starCount = r.star_count || 0;
    this.starsEl = h('span', {class: 'stars', 'data-role': 'stars', title: 'Stars'});
    const titleId = `card-${r.slug}`;
    const chips = (r.tags || []).map((t) => h('li', {},
      h('button', {type: 'button', class: 'chip', 'data-tag': tagText(t),
        'aria-label': `Add ${tagText(t)} to the search`, on: {click: () => addTag(tagText(t))}}, tagText(t))));
    this.cover = new Cover(r);
    this.el = h('article', {class: 'card', 'aria-labelledby': titleId, dataset: {slug: r.slug}},
      h('a', {href: `/app/${enc(r.slug)}`, 'data-nav': true, tabindex: '-1', 'aria-hidden': 'true', class: 'cover-link'}, this.cover.el),
      h('h3', {id: titleId},
        r.emoji ? h('span', {class: 'emoji', 'aria-hidden': 'true'}, `${r.emoji} `) : null,
        h('a', {href: `/app/${enc(r.slug)}`, 'data-nav': true}, r.name || r.slug)),
      h('p', {class: r.description ? 'desc' : 'desc none'}, r.description || 'No description yet.'),
      chips.length ? h('ul', {class: 'chips', 'aria-label': `Tags of ${r.name || r.slug}`}, chips) : null,
      this.statusEl,
      this.launch.el);
    this.renderStatus();
  }

  renderStatus() {
    const b = this.build;
    this.starsEl.textContent = `★ ${this.starCount}`;
    this.starsEl.setAttribute('aria-label', `${this.starCount} ${this.starCount === 1 ? 'star' : 'stars'}`);
    replace(this.statusEl,
      badge('ingest', this.ingest, 'ingest'),
      b ? badge('build', b.status, `build #${b.id}`) : badge('build', 'none', 'build'),
      ' ', this.starsEl);
    // The app page's rule (launchBlocked). A result carries only the
    // newest build: when that one did not succeed, the newest builds are
    // read to see whether an older one did.
    if (!b || b.status === 'succeeded') {
      this.launch.setBlocked(launchBlocked(this.ingest, b ? [b] : []));
      return;
    }
    this.launch.setBlocked(launchBlocked(this.ingest, [b]));
    const seq = this.buildsSeq = (this.buildsSeq || 0) + 1;
    api('GET', `/api/v1/repositories/${enc(this.slug)}/builds`, {query: {limit: BUILD_PAGE}}).then((page) => {
      if (seq !== this.buildsSeq) return;
      const builds = page.builds || [];
      if (!builds.some((x) => x.id === b.id)) builds.push(b);
      this.launch.setBlocked(launchBlocked(this.ingest, builds.map((x) => (x.id === b.id ? {...x, status: b.status} : x))));
    }).catch(() => { /* keep the rule on what is known */ });
  }

  // handle applies an event whose subject is this card's app.
  handle(ev) {
    const d = ev.data || {};
    if (ev.type.startsWith('ingestion.') && d.ingest_status) {
      this.ingest = d.ingest_status;
      this.renderStatus();
    } else if (ev.type.startsWith('build.') && d.build_id && d.status) {
      if (!this.build || d.build_id >= this.build.id) {
        this.build = {...(this.build && this.build.id === d.build_id ? this.build : {}), id: d.build_id, status: d.status};
        this.renderStatus();
      }
    } else if (ev.type.startsWith('launch.')) {
      this.launch.handle(ev);
    } else if (ev.type === 'repository.starred' && typeof d.star_count === 'number') {
      this.starCount = d.star_count;
      this.renderStatus();
    } else if (ev.type === 'repository.updated' && d.thumbnail_url) {
      this.cover.set({thumbnail_url: d.thumbnail_url});
    }
  }
}
