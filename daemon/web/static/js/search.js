// The search page: a combobox with the query language's autocomplete
// (GET /api/v1/autocomplete, the same as the TUI's) and the results
// (GET /api/v1/search) as cards that follow their apps live. The query
// lives in the URL (/?q=lang:go), so searches can be shared and the back
// button works.

import {api, isAbort, byteOffset, charIndex, enc} from './api.js';
import {h, replace, announce} from './dom.js';
import {Card} from './cards.js';
import {activeLaunches} from './launch.js';

const PAGE = 24;

export function queryFromURL() {
  return new URLSearchParams(location.search).get('q') || '';
}

export class SearchView {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.cards = new Map();
    this.sugs = [];
    this.active = -1;
    this.acCtrl = null;
    this.acSeq = 0;
    this.searchCtrl = null;
    this.q = null; // the query of the results shown
    this.next = '';
    // Events that arrive while a search runs wait for its results (see
    // AppView): the cards they concern may be among them.
    this.loading = false;
    this.pending = [];

    this.input = h('input', {id: 'q', name: 'q', type: 'text', role: 'combobox', 'aria-autocomplete': 'list',
      'aria-expanded': 'false', 'aria-controls': 'suggestions', 'aria-describedby': 'q-help q-error',
      autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false',
      placeholder: 'lang:go framework:gin -license:gpl chat'});
    this.list = h('ul', {id: 'suggestions', role: 'listbox', 'aria-label': 'Suggestions', class: 'suggestions', hidden: true});
    this.error = h('p', {id: 'q-error', class: 'error', hidden: true});
    this.form = h('form', {class: 'search', role: 'search', 'aria-label': 'Apps'},
      h('label', {for: 'q'}, 'Search apps'),
      h('div', {class: 'search-row'},
        h('div', {class: 'combo'}, this.input, this.list),
        h('button', {type: 'submit', class: 'primary'}, 'Search')),
      h('p', {id: 'q-help', class: 'help'},
        'Tags as key:value (lang:go), -key:value to exclude, key:a,b for either, words for names and descriptions. ',
        h('kbd', {}, '↑'), '/', h('kbd', {}, '↓'), ' choose a suggestion, ', h('kbd', {}, 'Tab'), ' completes it, ',
        h('kbd', {}, 'Enter'), ' searches, ', h('kbd', {}, 'Esc'), ' closes the list.'),
      this.error);
    this.title = h('h2', {id: 'results-title', tabindex: '-1'}, 'Apps');
    this.notice = h('p', {class: 'notice', hidden: true});
    this.grid = h('div', {class: 'cards', 'aria-busy': 'false'});
    this.more = h('button', {type: 'button', class: 'more', hidden: true, on: {click: () => this.search(this.q, {more: true})}}, 'Show more');
    this.results = h('section', {class: 'results', 'aria-labelledby': 'results-title'}, this.title, this.notice, this.grid, this.more);

    replace(root, h('h1', {class: 'visually-hidden', tabindex: '-1'}, 'Find apps'), this.form, this.results);

    this.input.addEventListener('input', () => this.suggest());
    this.input.addEventListener('keydown', (e) => this.key(e));
    this.input.addEventListener('blur', () => this.close());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.close();
      this.search(this.input.value.trim(), {push: true});
    });
    this.unsubscribe = ctx.events.on((ev) => this.event(ev));
    this.update();
  }

  focusTarget() { return this.input; }

  // update shows the query of the URL (first render, back/forward).
  update() {
    const q = queryFromURL();
    this.input.value = q;
    this.close();
    this.search(q, {push: false});
  }

  destroy() {
    this.unsubscribe();
    if (this.acCtrl) this.acCtrl.abort();
    if (this.searchCtrl) this.searchCtrl.abort();
  }

  // --- autocomplete ---

  async suggest() {
    const q = this.input.value;
    const pos = byteOffset(q, this.input.selectionStart ?? q.length);
    // A new keystroke cancels the question in flight, and an answer to an
    // older question is dropped even if it arrives.
    if (this.acCtrl) this.acCtrl.abort();
    const ctrl = this.acCtrl = new AbortController();
    const seq = ++this.acSeq;
    this.clearError();
    try {
      const res = await api('GET', '/api/v1/autocomplete', {query: {q, pos, limit: 8}, signal: ctrl.signal});
      if (seq !== this.acSeq || this.input.value !== q) return;
      this.show(res);
    } catch (err) {
      if (isAbort(err) || seq !== this.acSeq) return;
      this.close();
      // A query that does not parse yet is normal while typing: say where.
      if (err.field === 'q') this.showError(err, q);
    }
  }

  show(res) {
    this.sugs = res.suggestions || [];
    this.active = -1;
    if (!this.sugs.length || document.activeElement !== this.input) {
      this.close();
      return;
    }
    replace(this.list, this.sugs.map((s, i) => h('li', {
      id: `sug-${i}`, role: 'option', 'aria-selected': 'false', class: 'option', dataset: {kind: s.kind, text: s.text},
      on: {
        // mousedown would move the focus away from the input first.
        mousedown: (e) => e.preventDefault(),
        click: () => this.accept(i),
      },
    },
    h('span', {class: 'text'}, s.text),
    s.kind === 'key' ? h('span', {class: 'kind'}, 'key') : null,
    h('span', {class: 'count'}, String(s.count), h('span', {class: 'visually-hidden'}, s.count === 1 ? ' app' : ' apps')))));
    this.list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    this.input.removeAttribute('aria-activedescendant');
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
    this.active = -1;
  }

  isOpen() { return !this.list.hidden && this.sugs.length > 0; }

  move(delta) {
    const n = this.sugs.length;
    this.active = this.active < 0 ? (delta > 0 ? 0 : n - 1) : (this.active + delta + n) % n;
    for (const [i, li] of [...this.list.children].entries()) {
      li.setAttribute('aria-selected', String(i === this.active));
    }
    const li = this.list.children[this.active];
    this.input.setAttribute('aria-activedescendant', li.id);
    li.scrollIntoView({block: 'nearest'});
  }

  // accept puts suggestion i into the query. A finished term (a tag)
  // searches at once; a key ("lang:") asks for its values next.
  accept(i, {search = true} = {}) {
    const s = this.sugs[i];
    if (!s) return;
    this.input.value = s.query;
    const caret = charIndex(s.query, s.cursor);
    this.input.setSelectionRange(caret, caret);
    this.close();
    if (s.kind === 'key' || !search) {
      this.suggest();
    } else {
      this.search(s.query.trim(), {push: true});
    }
  }

  key(e) {
    if (e.isComposing) return;
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        if (this.isOpen()) this.move(1);
        else this.suggest();
        break;
      case 'ArrowUp':
        if (this.isOpen()) {
          e.preventDefault();
          this.move(-1);
        }
        break;
      case 'Tab':
        // Tab completes while the list is open; otherwise it moves the
        // focus as usual, so the keyboard is never trapped here.
        if (this.isOpen() && !e.shiftKey) {
          e.preventDefault();
          this.accept(this.active < 0 ? 0 : this.active, {search: false});
        }
        break;
      case 'Enter':
        if (this.isOpen() && this.active >= 0) {
          e.preventDefault();
          this.accept(this.active);
        }
        // Otherwise the form submits: search.
        break;
      case 'Escape':
        if (this.isOpen()) {
          e.preventDefault();
          this.close();
        }
        break;
    }
  }

  // --- search ---

  clearError() {
    this.error.hidden = true;
    this.input.removeAttribute('aria-invalid');
  }

  showError(err, q) {
    let msg = err.message;
    if (err.field === 'q' && typeof err.position === 'number') {
      const at = charIndex(q, err.position);
      // The daemon's message ends with the place, counted in characters
      // from 1 ("(at character 9)"), as every client says it.
      msg = `${err.message.replace(/ \(at (byte|character) \d+\)$/, '')} (at character ${at + 1})`;
    }
    this.error.textContent = msg;
    this.error.hidden = false;
    this.input.setAttribute('aria-invalid', 'true');
  }

  addTag(tag) {
    const terms = this.input.value.trim().split(/\s+/).filter(Boolean);
    if (!terms.includes(tag)) terms.push(tag);
    const q = terms.join(' ');
    this.input.value = q;
    this.search(q, {push: true});
    this.input.focus();
  }

  async search(q, {push = false, more = false} = {}) {
    if (push && q !== queryFromURL()) {
      history.pushState(null, '', q ? `/?q=${enc(q)}` : '/');
    }
    document.title = q ? `${q} — appstore` : 'appstore';
    if (this.searchCtrl) this.searchCtrl.abort();
    const ctrl = this.searchCtrl = new AbortController();
    this.clearError();
    this.loading = true;
    this.grid.setAttribute('aria-busy', 'true');
    try {
      const query = {q, limit: PAGE};
      if (more) query.cursor = this.next;
      const [page, launches] = await Promise.all([
        api('GET', '/api/v1/search', {query, signal: ctrl.signal}),
        activeLaunches().catch(() => new Map()),
      ]);
      if (ctrl !== this.searchCtrl) return;
      this.render(q, page, launches, more);
    } catch (err) {
      if (isAbort(err) || ctrl !== this.searchCtrl) return;
      if (err.field === 'q') {
        this.showError(err, q);
        this.title.textContent = 'Fix the query to search';
      } else {
        this.title.textContent = 'Search failed';
        this.ctx.error(err);
      }
      if (!more) {
        this.grid.replaceChildren();
        this.cards.clear();
      }
    } finally {
      if (ctrl === this.searchCtrl) {
        this.grid.setAttribute('aria-busy', 'false');
        this.loading = false;
        const pending = this.pending;
        this.pending = [];
        for (const ev of pending) this.event(ev);
      }
    }
  }

  render(q, page, launches, more) {
    this.q = q;
    this.next = page.next_cursor || '';
    if (!more) {
      this.grid.replaceChildren();
      this.cards.clear();
      this.notice.hidden = true;
    }
    for (const r of page.results || []) {
      if (this.cards.has(r.slug)) continue;
      const card = new Card(r, launches.get(r.slug), {addTag: (t) => this.addTag(t), onError: (err) => this.ctx.error(err)});
      this.cards.set(r.slug, card);
      this.grid.append(card.el);
    }
    const n = page.total;
    const about = page.total_exact ? '' : 'about ';
    this.title.textContent = n === 0
      ? (q ? `No apps match ${q}` : 'No apps yet — add one')
      : `${about}${n} ${n === 1 ? 'app' : 'apps'}${q ? ` for ${q}` : ''}`;
    this.title.dataset.total = String(n);
    this.more.hidden = !this.next;
    if (!more) announce(this.title.textContent);
  }

  event(ev) {
    if (this.loading) {
      this.pending.push(ev);
      return;
    }
    if (ev.type === 'stream.truncated') {
      // Events were lost while away: what is shown may be stale.
      this.search(this.q ?? queryFromURL());
      return;
    }
    const card = this.cards.get(ev.subject);
    if (ev.type === 'repository.deleted') {
      if (card) {
        card.el.remove();
        this.cards.delete(ev.subject);
      }
      return;
    }
    if (ev.type === 'repository.created') {
      replace(this.notice, 'New apps were registered. ',
        h('button', {type: 'button', class: 'linklike', on: {click: () => this.search(this.q ?? '')}}, 'Search again'),
        ' to see them.');
      this.notice.hidden = false;
      return;
    }
    if (card) card.handle(ev);
  }
}
