// The operator console: a key once per tab, then the inbox, the runs, a run, and a form to start one. Routes live in the
// URL's fragment (#/inbox, #/runs?status=…, #/runs/<id>, #/new), so nothing but the static files is asked of the server
// and no route ever carries the key.

import { key, whenUnauthorized } from './api.js';
import { announce } from './dom.js';
import { inboxView } from './inbox.js';
import { keyView } from './key.js';
import { newRunView } from './new-run.js';
import { runView } from './run.js';
import { runsView } from './runs.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const forget = document.getElementById('forget-key');
let leave = () => {};

function route() {
  leave();
  leave = () => {};
  if (!key.get()) {
    showSignedIn(false);
    keyView(main, null, () => {
      announce('Key accepted.');
      route();
    });
    return;
  }
  showSignedIn(true);
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  let section = 'inbox';
  if (parts[0] === 'runs' && parts[1]) {
    section = 'runs';
    leave = runView(main, decodeURIComponent(parts[1]));
  } else if (parts[0] === 'runs') {
    section = 'runs';
    leave = runsView(main, new URLSearchParams(query ?? '').get('status'));
  } else if (parts[0] === 'new') {
    section = 'new';
    leave = newRunView(main);
  } else {
    leave = inboxView(main);
  }
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  main.querySelector('h1')?.focus();
}

function showSignedIn(signedIn) {
  nav.hidden = !signedIn;
  forget.hidden = !signedIn;
}

forget.addEventListener('click', () => {
  key.forget();
  announce('The key was forgotten.');
  route();
});

whenUnauthorized(() => {
  key.forget();
  leave();
  leave = () => {};
  showSignedIn(false);
  keyView(main, 'The service refused the key (it is unknown or was revoked). Enter another.', () => route());
});

window.addEventListener('hashchange', route);
route();
