// What people do with an app besides running it: the star button and the
// comments of its page. Comments are plain text and go in as text
// (textContent, white-space: pre-wrap), never as HTML. Both follow the
// app's events (repository.starred, comment.created, comment.deleted).

import {api, enc} from './api.js';
import {h, replace, timeEl, announce} from './dom.js';

const MAX_COMMENT = 2000;

export class Community {
  constructor(slug, fail) {
    this.slug = slug;
    this.fail = fail;
    this.state = null; // {starred, star_count}
    this.starButton = h('button', {type: 'button', class: 'star', 'data-action': 'star', 'aria-pressed': 'false',
      on: {click: () => this.toggleStar()}}, '☆ Star');
    this.list = h('ol', {class: 'comments', 'aria-label': 'Comments, newest last'});
    this.text = h('textarea', {id: 'comment-text', rows: '3', maxlength: String(MAX_COMMENT), placeholder: 'Say something about this app (plain text)'});
    this.form = h('form', {class: 'comment-form', on: {submit: (e) => { e.preventDefault(); this.post(); }}},
      h('label', {for: 'comment-text', class: 'visually-hidden'}, 'Comment'), this.text,
      h('div', {class: 'row'}, h('button', {type: 'submit', 'data-action': 'comment'}, 'Comment')));
    this.commentsPanel = h('section', {class: 'panel', 'aria-labelledby': 'comments-title'},
      h('h2', {id: 'comments-title'}, 'Comments'), this.list, this.form);
    // me is who the token is (GET /api/v1/whoami): a comment's remove
    // button shows only where its author or an admin reads the page.
    this.me = null;
    this.onToken = () => { this.loadMe(); this.loadStar(); };
    window.addEventListener('appstore:token', this.onToken);
  }

  destroy() {
    window.removeEventListener('appstore:token', this.onToken);
  }

  async load() {
    await Promise.all([this.loadStar(), this.loadComments(), this.loadMe()]);
  }

  async loadMe() {
    try {
      this.me = (await api('GET', '/api/v1/whoami', {auth: true})).user || null;
    } catch {
      this.me = null; // the daemon decides at removal anyway
    }
    for (const b of this.list.querySelectorAll('button[data-action="remove-comment"]')) b.hidden = !this.mayRemove(b.comment);
  }

  // mayRemove: the author (the same account, not a new one given the
  // name) or an admin; as the daemon's rule.
  mayRemove(c) {
    const me = this.me;
    if (!me || !me.name || !c) return false;
    return me.role === 'admin' || (!c.author_removed && !!c.author_id && c.author_id === me.id);
  }

  async loadStar() {
    try {
      this.showStar(await api('GET', `/api/v1/repositories/${enc(this.slug)}/star`, {auth: true}));
    } catch (err) {
      this.fail(err);
    }
  }

  showStar(st) {
    this.state = st;
    this.starButton.textContent = `${st.starred ? '★ Starred' : '☆ Star'} · ${st.star_count}`;
    this.starButton.setAttribute('aria-pressed', String(!!st.starred));
    this.starButton.dataset.count = String(st.star_count);
  }

  async toggleStar() {
    const on = !(this.state && this.state.starred);
    try {
      this.showStar(await api(on ? 'POST' : 'DELETE', `/api/v1/repositories/${enc(this.slug)}/star`));
      announce(on ? `Starred ${this.slug}` : `Unstarred ${this.slug}`);
    } catch (err) {
      this.fail(err);
    }
  }

  // starred applies a repository.starred event: the count is everyone's;
  // whether I starred it is read again (the event may be someone else's).
  starred(d) {
    if (this.state && typeof d.star_count === 'number') this.showStar({...this.state, star_count: d.star_count});
    this.loadStar();
  }

  async loadComments() {
    try {
      const res = await api('GET', `/api/v1/repositories/${enc(this.slug)}/comments`);
      this.list.replaceChildren();
      for (const c of res.comments || []) this.put(c);
      this.renderEmpty();
    } catch (err) {
      this.fail(err);
    }
  }

  renderEmpty() {
    const none = this.list.querySelector('li.none');
    const has = this.list.querySelector('li[data-comment-id]');
    if (has && none) none.remove();
    if (!has && !none) this.list.append(h('li', {class: 'none'}, 'No comments yet.'));
  }

  put(c) {
    if (this.list.querySelector(`li[data-comment-id="${c.id}"]`)) return;
    const li = h('li', {dataset: {commentId: String(c.id)}},
      h('p', {class: 'comment-head'}, h('strong', {class: 'author'}, c.author),
        c.author_removed ? h('span', {class: 'removed'}, ' (removed user)') : null, ' · ', timeEl(c.created_at),
        ' ', h('button', {type: 'button', class: 'linklike', 'data-action': 'remove-comment', hidden: !this.mayRemove(c),
          'aria-label': `Remove comment ${c.id} by ${c.author}`, on: {click: () => this.remove(c.id)}}, 'remove')),
      h('p', {class: 'comment-body'}, c.body));
    li.querySelector('button[data-action="remove-comment"]').comment = c;
    // Newest last: ids grow with time.
    const after = [...this.list.querySelectorAll('li[data-comment-id]')].find((x) => Number(x.dataset.commentId) > c.id);
    this.list.insertBefore(li, after || null);
    this.renderEmpty();
  }

  commentEvent(what, c) {
    if (!c || !c.id) return;
    if (what === 'created') this.put(c);
    if (what === 'deleted') {
      const li = this.list.querySelector(`li[data-comment-id="${c.id}"]`);
      if (li) li.remove();
      this.renderEmpty();
    }
  }

  async post() {
    const body = this.text.value;
    if (!body.trim()) return;
    try {
      this.put(await api('POST', `/api/v1/repositories/${enc(this.slug)}/comments`, {body: {body}}));
      this.text.value = '';
      this.text.removeAttribute('aria-invalid');
      announce('Comment posted');
    } catch (err) {
      this.text.setAttribute('aria-invalid', 'true');
      this.fail(err);
    }
  }

  async remove(id) {
    try {
      await api('DELETE', `/api/v1/comments/${id}`);
      this.commentEvent('deleted', {id});
      announce('Comment removed');
    } catch (err) {
      this.fail(err);
    }
  }
}
