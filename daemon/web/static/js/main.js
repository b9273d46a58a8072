// The web view's entry point: a router over the paths appstored serves the
// page at (/, /app/<slug>, /add), the token box, and the one event stream
// that every view listens to.

import {getToken, setToken} from './api.js';
import {announce} from './dom.js';
import {EventStream} from './events.js';
import {SearchView} from './search.js';
import {AppView} from './appview.js';
import {AddView} from './add.js';

const main = document.getElementById('main');

const conn = document.getElementById('conn');
const connText = document.getElementById('conn-text');
const STATES = {connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…'};
const events = new EventStream((state, reason) => {
  conn.dataset.state = state;
  connText.textContent = STATES[state] || state;
  conn.title = reason ? `Event stream: ${reason}` : 'Event stream';
});

function route(pathname) {
  if (pathname === '/') return {kind: 'search', make: () => new SearchView(main, ctx)};
  if (pathname === '/add') return {kind: 'add', make: () => new AddView(main, ctx)};
  const m = /^\/app\/([a-z0-9-]+)$/.exec(pathname);
  if (m) return {kind: `app:${m[1]}`, make: () => new AppView(main, ctx, m[1])};
  return null;
}

let view = null;
let kind = '';

function render(first) {
  const r = route(location.pathname);
  if (!r) {
    location.reload(); // not ours: let the daemon answer
    return;
  }
  if (view && kind === r.kind && view.update) {
    view.update();
    return;
  }
  if (view) view.destroy();
  kind = r.kind;
  view = r.make();
  // Move the focus into the new view, as a page load would, so keyboard
  // and screen reader users start at its top.
  const target = view.focusTarget ? view.focusTarget() : main;
  if (target && (!first || kind === 'search' || kind === 'add')) target.focus({preventScroll: first});
  if (!first) window.scrollTo(0, 0);
}

function navigate(path, state) {
  history.pushState(state || null, '', path);
  render(false);
}

const ctx = {
  events,
  navigate,
  error(err) {
    console.warn(err);
    announce(err.message);
    let box = document.getElementById('page-error');
    if (!box) {
      box = document.createElement('p');
      box.id = 'page-error';
      box.className = 'error page-error';
      box.setAttribute('role', 'alert');
      main.prepend(box);
    }
    box.textContent = err.message;
  },
};

// Links marked data-nav change the view without reloading the page.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-nav]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin) return;
  e.preventDefault();
  if (u.pathname + u.search !== location.pathname + location.search) navigate(u.pathname + u.search);
});
window.addEventListener('popstate', () => render(false));
window.addEventListener('online', () => events.restart());

// The token box.
const tokenBox = document.getElementById('token-box');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token');
function showTokenState() {
  const set = Boolean(getToken());
  tokenInput.value = '';
  tokenInput.placeholder = set ? 'saved for this tab' : '';
  tokenBox.dataset.set = String(set);
}
tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  setToken(tokenInput.value.trim());
  showTokenState();
  events.restart();
  tokenBox.open = false;
  announce(getToken() ? 'Token saved for this tab' : 'Token cleared');
});
document.getElementById('token-forget').addEventListener('click', () => {
  setToken('');
  showTokenState();
  events.restart();
  announce('Token cleared');
});
showTokenState();

await events.init();
render(true);
events.connect();
