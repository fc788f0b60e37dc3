// sgID demo frontend: plain static files, no build step.
// Behaves like opengovsg/sgid-demo-frontend-spa: pages /, /logged-in and
// /error; every backend call is a credentialed GET from this origin to the
// API origin, so CORS and the session cookie are exercised for real.

'use strict';

// The API origin. Same default as the official demo SPA; a
// <meta name="sgid-backend" content="https://..."> in index.html overrides it.
const BACKEND_URL = (function () {
  const DEFAULT = 'http://localhost:5001';
  const meta = document.querySelector('meta[name="sgid-backend"]');
  const value = meta ? (meta.getAttribute('content') || '').trim() : '';
  if (!value) return DEFAULT;
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return DEFAULT;
    return (u.origin + u.pathname).replace(/\/+$/, '');
  } catch (e) {
    return DEFAULT;
  }
})();

const ICE_CREAMS = ['Vanilla', 'Chocolate', 'Strawberry'];

const MESSAGES = {
  loginStart: "We couldn't start the Singpass login. Please check your connection and try again.",
  loginUnavailable: 'The login service is busy or unavailable right now. Please try again in a moment.',
  logout: "We couldn't reach the server to log you out. Please check your connection and try again.",
};

// ---------------------------------------------------------------------------
// Backend calls (the demo SPA contract)

// GET /api/userinfo; whatever parses as JSON is the user, anything else
// (the 401 "Unauthorized" text, a network error) means "not logged in".
function fetchUser() {
  return fetch(BACKEND_URL + '/api/userinfo', { credentials: 'include' })
    .then(function (r) { return r.json(); })
    .catch(function () { return null; });
}

// GET /api/auth-url?icecream=X -> {"url": "<sgID authorize URL>"} + cookie.
function fetchAuthUrl(iceCream) {
  const url = BACKEND_URL + '/api/auth-url?icecream=' + encodeURIComponent(iceCream);
  return fetch(url, { credentials: 'include' }).then(function (r) {
    return r.json().catch(function () { return null; }).then(function (body) {
      const target = body && typeof body.url === 'string' ? body.url : '';
      if (!r.ok || !/^https?:\/\//i.test(target)) {
        const err = new Error('auth-url failed');
        err.status = r.status;
        throw err;
      }
      return target;
    });
  });
}

// GET /api/logout; the response is ignored, only a network error fails.
function logout() {
  return fetch(BACKEND_URL + '/api/logout', { credentials: 'include' })
    .then(function (r) { return r.text().catch(function () { return ''; }); });
}

// ---------------------------------------------------------------------------
// Tiny router over the History API

const app = document.getElementById('app');
let renderSeq = 0;          // bumps on every navigation; stale async work checks it
let firstRender = true;

const ROUTES = {
  '/': { title: 'sgID demo', view: homeView },
  '/logged-in': { title: "You're logged in · sgID demo", view: loggedInView },
  '/error': { title: "Login didn't work · sgID demo", view: errorView },
};

function currentPath() {
  const p = window.location.pathname.replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

function navigate(path, opts) {
  const replace = opts && opts.replace;
  if (replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  render();
}

function render() {
  const seq = ++renderSeq;
  const route = ROUTES[currentPath()] ||
    { title: 'Page not found · sgID demo', view: notFoundView };
  document.title = route.title;
  route.view(function isCurrent() { return seq === renderSeq; });
}

// Replace the page content with a copy of <template id="view-NAME">.
function mount(name) {
  const tpl = document.getElementById('view-' + name);
  const node = tpl.content.cloneNode(true);
  app.replaceChildren(node);
  if (name !== 'loading') {
    // Move focus to the heading after client-side navigation (not on first
    // load), so screen readers announce the new page.
    const h1 = app.querySelector('h1');
    if (h1 && !firstRender) h1.focus({ preventScroll: true });
    firstRender = false;
  }
  return app;
}

function showMessage(root, text) {
  const el = root.querySelector('[data-role="message"]');
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
}

function setBusy(button, busy, busyLabel) {
  if (busy) {
    button.dataset.label = button.textContent;
    button.textContent = busyLabel;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
  } else {
    if (button.dataset.label) button.textContent = button.dataset.label;
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

function text(v) {
  if (v === undefined || v === null || v === '') return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// ---------------------------------------------------------------------------
// Views

function homeView(isCurrent) {
  mount('loading');
  fetchUser().then(function (user) {
    if (!isCurrent()) return;
    if (user !== null) {
      navigate('/logged-in', { replace: true });
      return;
    }
    const root = mount('home');
    const form = root.querySelector('form');
    const button = root.querySelector('[data-role="login"]');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      const checked = form.querySelector('input[name="icecream"]:checked');
      const choice = checked && ICE_CREAMS.indexOf(checked.value) >= 0
        ? checked.value : ICE_CREAMS[0];
      showMessage(root, '');
      setBusy(button, true, 'Redirecting to Singpass…');
      fetchAuthUrl(choice).then(function (url) {
        window.location.href = url;
      }).catch(function (err) {
        if (!isCurrent()) return;
        setBusy(button, false);
        showMessage(root, err && err.status >= 500 ? MESSAGES.loginUnavailable : MESSAGES.loginStart);
      });
    });
  });
}

function loggedInView(isCurrent) {
  mount('loading');
  fetchUser().then(function (user) {
    if (!isCurrent()) return;
    if (user === null) {
      navigate('/', { replace: true });
      return;
    }
    const root = mount('logged-in');
    const data = (user && typeof user.data === 'object' && user.data) || {};
    // sgID: myinfo.name; Singpass: name (a member of sub_attributes)
    root.querySelector('[data-field="name"]').textContent = text(data['myinfo.name'] !== undefined ? data['myinfo.name'] : data.name);
    root.querySelector('[data-field="icecream"]').textContent = text(data.iceCream);
    root.querySelector('[data-field="sub"]').textContent = text(user && user.sub);
    wireLogout(root, isCurrent, 'Logging out…');
  });
}

function errorView(isCurrent) {
  const root = mount('error');
  wireLogout(root, isCurrent, 'Going home…');
}

function notFoundView() {
  mount('not-found');
}

// "Log out" and "Back to home": GET /api/logout, then go to /.
function wireLogout(root, isCurrent, busyLabel) {
  const button = root.querySelector('[data-role="logout"]');
  button.addEventListener('click', function () {
    showMessage(root, '');
    setBusy(button, true, busyLabel);
    logout().then(function () {
      if (isCurrent()) navigate('/');
    }).catch(function () {
      if (!isCurrent()) return;
      setBusy(button, false);
      showMessage(root, MESSAGES.logout);
    });
  });
}

// ---------------------------------------------------------------------------
// Wiring

// In-app links (<a data-nav>) navigate without a page load.
document.addEventListener('click', function (ev) {
  const a = ev.target.closest && ev.target.closest('a[data-nav]');
  if (!a || ev.defaultPrevented || ev.button !== 0 ||
      ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(a.getAttribute('href'));
});

window.addEventListener('popstate', render);

// Coming back with the Back button from Singpass may restore this page from
// the back/forward cache with a half-finished login; start the view afresh.
window.addEventListener('pageshow', function (ev) {
  if (ev.persisted) render();
});

render();
