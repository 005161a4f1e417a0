// The inbox: every pending request of the tenant, soonest deadline first, with live countdowns. Refreshed every few
// seconds while it is shown.

import { api } from './api.js';
import { countdown, h, replace, time } from './dom.js';

const REFRESH_MS = 3000;
const MAX_PAGES = 5;

export function inboxView(main) {
  const list = h('ol', { class: 'requests', 'aria-label': 'Pending requests' });
  const empty = h('p', { class: 'empty', hidden: true }, 'Nothing waits for an answer.');
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const updated = h('p', { class: 'hint' });
  main.replaceChildren(
    h('div', { class: 'heading' }, h('h1', { tabindex: '-1' }, 'Inbox'), updated),
    h('p', { class: 'hint' }, 'Requests that wait for a human, soonest deadline first. This list updates on its own.'),
    error, empty, list);

  let timer = null;
  let stopped = false;

  async function load() {
    try {
      const requests = [];
      let cursor = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const query = `/v1/requests?status=pending&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const result = await api('GET', query);
        requests.push(...result.data);
        cursor = result.next_cursor;
        if (!cursor) break;
      }
      if (stopped) return;
      requests.sort((a, b) => a.expires_at.localeCompare(b.expires_at));
      render(requests);
      error.hidden = true;
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (stopped) return;
      error.textContent = `The inbox could not be loaded: ${err.message}`;
      error.hidden = false;
    } finally {
      if (!stopped) timer = setTimeout(load, REFRESH_MS);
    }
  }

  function render(requests) {
    empty.hidden = requests.length > 0;
    // Keep the element of a request that is still there with the same deadline, so focus and countdowns stay put.
    const existing = new Map([...list.children].map((li) => [li.dataset.key, li]));
    const items = requests.map((request) => existing.get(`${request.request_id} ${request.expires_at}`) ?? item(request));
    replace(list, items);
  }

  function item(request) {
    return h('li', { class: 'card request', dataset: { requestId: request.request_id, key: `${request.request_id} ${request.expires_at}` } },
      h('div', { class: 'meta' },
        h('span', { class: `badge kind-${request.input_kind}` }, request.input_kind),
        countdown(request.expires_at)),
      h('p', { class: 'prompt' }, request.prompt),
      h('p', { class: 'hint' }, 'Run ', h('code', {}, request.run_id), ' · due ', time(request.expires_at),
        ' · ', request.allowed_actions.join(', ')),
      h('div', { class: 'actions' },
        h('a', { class: 'button primary', href: `#/runs/${encodeURIComponent(request.run_id)}` }, 'Open and answer',
          h('span', { class: 'visually-hidden' }, `: ${request.prompt}`))));
  }

  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
