// The "Add app" form: a Git URL and tags, POST /api/v1/repositories, then
// the new app's page, which follows its ingestion and build live.

import {api} from './api.js';
import {h, replace} from './dom.js';

function field(id, label, input, help) {
  const error = h('p', {id: `${id}-error`, class: 'error', hidden: true});
  input.setAttribute('aria-describedby', `${id}-help ${id}-error`);
  return {
    el: h('div', {class: 'field'}, h('label', {for: id}, label), input, h('p', {id: `${id}-help`, class: 'help'}, help), error),
    error,
    input,
  };
}

export class AddView {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.heading = h('h1', {tabindex: '-1'}, 'Add an app');
    this.url = field('git-url', 'Git URL',
      h('input', {id: 'git-url', name: 'git_url', type: 'text', inputmode: 'url', autocomplete: 'url',
        spellcheck: 'false', autocapitalize: 'off', required: true, placeholder: 'https://github.com/acme/dash.git'}),
      'https://, ssh://, git:// or git@host:owner/repo.git. file:// URLs and local paths work while appstored listens on loopback. The repository needs a Dockerfile.');
    this.tags = field('tags', h('span', {}, 'Tags ', h('span', {class: 'help'}, '(optional)')),
      h('input', {id: 'tags', name: 'tags', type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
        placeholder: 'category:dashboard team:ops'}),
      'key:value pairs separated by spaces or commas; kept as manual tags across re-ingestion.');
    this.submit = h('button', {type: 'submit', class: 'primary'}, 'Add app');
    this.alert = h('p', {class: 'error', role: 'alert', hidden: true});
    this.form = h('form', {class: 'add', novalidate: true, 'aria-labelledby': 'add-title'},
      this.url.el, this.tags.el, this.alert, h('div', {class: 'actions'}, this.submit));
    this.heading.id = 'add-title';
    replace(root, h('p', {class: 'crumbs'}, h('a', {href: '/', 'data-nav': true}, '← All apps')), this.heading,
      h('p', {}, 'appstored clones the repository, reads its metadata into tags, builds its image and shows each step here.'),
      this.form);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    document.title = 'Add an app — appstore';
  }

  focusTarget() { return this.url.input; }

  destroy() {}

  clear() {
    for (const f of [this.url, this.tags]) {
      f.error.hidden = true;
      f.input.removeAttribute('aria-invalid');
    }
    this.alert.hidden = true;
  }

  fieldError(f, msg) {
    f.error.textContent = msg;
    f.error.hidden = false;
    f.input.setAttribute('aria-invalid', 'true');
    f.input.focus();
  }

  async send() {
    this.clear();
    const gitURL = this.url.input.value.trim();
    if (!gitURL) {
      this.fieldError(this.url, 'Enter the Git URL of the repository to add.');
      return;
    }
    const tags = this.tags.input.value.split(/[\s,]+/).map((t) => t.trim()).filter(Boolean);
    const bad = tags.find((t) => !/^[^:\s]+:[^:\s]/.test(t));
    if (bad) {
      this.fieldError(this.tags, `“${bad}” is not a key:value tag (e.g. category:dashboard).`);
      return;
    }
    this.submit.disabled = true;
    this.submit.textContent = 'Adding…';
    try {
      const body = {git_url: gitURL};
      if (tags.length) body.tags = tags;
      const repo = await api('POST', '/api/v1/repositories', {body});
      this.ctx.navigate(`/app/${encodeURIComponent(repo.slug)}`, {added: true});
    } catch (err) {
      if (err.code === 'conflict' && err.slug) {
        replace(this.alert, `${err.message} `, h('a', {href: `/app/${encodeURIComponent(err.slug)}`, 'data-nav': true}, `Open ${err.slug}`));
        this.alert.hidden = false;
      } else if (err.field === 'git_url') {
        this.fieldError(this.url, err.message);
      } else if (err.field && err.field.startsWith('tags')) {
        this.fieldError(this.tags, err.message);
      } else {
        this.alert.textContent = err.message;
        this.alert.hidden = false;
      }
    } finally {
      this.submit.disabled = false;
      this.submit.textContent = 'Add app';
    }
  }
}
