// safeHTML turns the README HTML that the daemon rendered from Markdown
// (raw HTML already left out, see daemon/api/readme.go) into elements, built
// one by one with dom.js from an allow-list: tags that carry no behaviour,
// no attribute but a checked link target, a code language and a table
// alignment. DOMParser's document is inert (nothing in it runs or loads);
// nothing of it is inserted as markup, so the page's rule holds that no
// text from the catalog becomes markup or script.

import {h} from './dom.js';

const TAGS = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'blockquote', 'pre', 'code',
  'em', 'strong', 'del', 'hr', 'br', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'a', 'sup', 'sub']);
// Elements whose content is not text for people.
const DROP = new Set(['script', 'style', 'iframe', 'object', 'embed', 'template', 'noscript', 'svg', 'math', 'form']);

// safeHref keeps http(s) and mailto links and in-page anchors; a link
// relative to the repository would point into this site, so it is dropped.
function safeHref(href) {
  if (!href) return null;
  if (href.startsWith('#')) return href;
  try {
    const u = new URL(href);
    return ['http:', 'https:', 'mailto:'].includes(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

function copy(node, depth) {
  if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.nodeValue);
  if (node.nodeType !== Node.ELEMENT_NODE || depth > 64) return null;
  const tag = node.localName;
  if (DROP.has(tag)) return null;
  const kids = [...node.childNodes].map((c) => copy(c, depth + 1));
  if (tag === 'img') return node.getAttribute('alt') || null; // images from elsewhere are not loaded here
  if (tag === 'input' && node.getAttribute('type') === 'checkbox') {
    return h('input', {type: 'checkbox', disabled: true, checked: node.hasAttribute('checked')});
  }
  if (!TAGS.has(tag)) return kids; // unknown element: its text only
  const attrs = {};
  if (tag === 'a') {
    const href = safeHref(node.getAttribute('href'));
    if (!href) return h('span', {}, kids);
    attrs.href = href;
    attrs.rel = 'noopener noreferrer';
    if (!href.startsWith('#')) attrs.target = '_blank';
  }
  if (tag === 'code') {
    const lang = /^language-[\w+-]{1,32}$/.exec(node.getAttribute('class') || '');
    if (lang) attrs.class = lang[0];
  }
  if ((tag === 'th' || tag === 'td') && /^(left|right|center)$/.test(node.getAttribute('align') || '')) {
    attrs.class = `align-${node.getAttribute('align')}`;
  }
  if (tag === 'ol' && /^\d{1,6}$/.test(node.getAttribute('start') || '')) attrs.start = node.getAttribute('start');
  return h(tag, attrs, kids);
}

// safeHTML returns the elements of html, to append where they go.
export function safeHTML(html) {
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, 'text/html');
  return [...doc.body.childNodes].map((n) => copy(n, 0));
}
