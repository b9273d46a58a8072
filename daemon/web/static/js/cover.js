// The picture at the top of an app's card and page: the app's thumbnail
// (a screenshot the daemon took), lazy-loaded in a box of fixed aspect
// ratio so that the grid does not move when it arrives; without one, the
// app's Hugging Face emoji on its colours, or its initial on a gradient
// derived from its slug. Never an empty box.

import {h} from './dom.js';

// Hugging Face's card colours (colorFrom/colorTo).
const HF_COLORS = {
  red: '#ef4444', yellow: '#eab308', green: '#22c55e', blue: '#3b82f6',
  indigo: '#6366f1', purple: '#a855f7', pink: '#ec4899', gray: '#6b7280',
};

// hue is a stable number 0–359 from the slug (FNV-1a).
function hue(slug) {
  let x = 0x811c9dc5;
  for (let i = 0; i < slug.length; i++) {
    x ^= slug.charCodeAt(i);
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x % 360;
}

function hfMeta(r) {
  return (r.metadata && r.metadata.hf) || {};
}

// colors returns the two colours of the placeholder.
export function colors(r) {
  const hf = hfMeta(r);
  const from = HF_COLORS[r.color_from || hf.color_from];
  const to = HF_COLORS[r.color_to || hf.color_to];
  if (from || to) return [from || to, to || from];
  const a = hue(r.slug || '');
  return [`hsl(${a} 62% 52%)`, `hsl(${(a + 48) % 360} 58% 38%)`];
}

// thumb2x is the URL of the twice-as-large thumbnail.
function thumb2x(url) {
  return url + (url.includes('?') ? '&' : '?') + 'size=2x';
}

export class Cover {
  // r: a repository or search result; large: the app page's version.
  constructor(r, {large = false} = {}) {
    this.large = large;
    this.el = h('div', {class: large ? 'cover large' : 'cover', dataset: {slug: r.slug}});
    this.set(r);
  }

  // set shows r's thumbnail, or its placeholder.
  set(r) {
    this.repo = {...(this.repo || {}), ...r};
    const url = this.repo.thumbnail_url;
    if (url && url === this.url) return;
    this.url = url || '';
    this.el.replaceChildren();
    this.el.classList.toggle('placeholder', !url);
    this.el.style.removeProperty('background-image');
    if (url) {
      const name = this.repo.name || this.repo.slug;
      this.el.append(h('img', {
        src: url, srcset: `${url} 1x, ${thumb2x(url)} 2x`,
        width: 320, height: 200, loading: this.large ? 'eager' : 'lazy', decoding: 'async',
        alt: `Screenshot of ${name}`,
      }));
      return;
    }
    const [from, to] = colors(this.repo);
    // CSSOM, not a style attribute: the page's CSP allows no inline style.
    this.el.style.setProperty('background-image', `linear-gradient(135deg, ${from}, ${to})`);
    const emoji = this.repo.emoji || hfMeta(this.repo).emoji;
    const name = (this.repo.name || this.repo.slug || '?').trim();
    const initial = Array.from(name)[0] || '?';
    this.el.append(h('span', {class: emoji ? 'glyph emoji' : 'glyph initial', 'aria-hidden': 'true'},
      emoji || initial.toUpperCase()));
  }
}
