// Small DOM helpers. Text always goes in as text (textContent), never as
// HTML, so nothing the catalog holds can inject markup or script.

// h creates an element: h('a', {href: '/', class: 'x', on: {click: fn}}, 'text', child).
// Attributes with null, undefined or false values are left out; true sets
// an empty attribute.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'class') {
      el.className = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace empties el and puts children in.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// announce tells screen readers about something that happened elsewhere on
// the page (a search finished, a build ended).
export function announce(text) {
  const el = document.getElementById('announce');
  if (!el) return;
  el.textContent = '';
  // A fresh text node after a tick, so that repeating a message is read again.
  setTimeout(() => { el.textContent = text; }, 30);
}

// ago formats a time as "12s ago", "5m ago", or a date.
export function ago(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  const s = Math.round((Date.now() - t.getTime()) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return t.toLocaleDateString();
}

// timeEl is a <time> with a relative label and the exact time as a title.
export function timeEl(iso) {
  if (!iso) return '';
  return h('time', {datetime: iso, title: new Date(iso).toLocaleString()}, ago(iso));
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)}m ${Math.round((ms % 60000) / 1000)}s`;
}

// badge shows a status word with a class per status (colour is never the
// only cue: the word is there).
export function badge(kind, status, label) {
  return h('span', {class: `badge st-${status || 'none'}`, dataset: {kind, status: status || 'none'}},
    label ? `${label} ` : '', h('b', {}, status || 'none'));
}

export function shortSHA(sha) { return sha ? sha.slice(0, 12) : ''; }
