// The tenant's runs, newest first, filtered by status.

import { api } from './api.js';
import { h, replace, statusBadge, time } from './dom.js';

const STATUSES = ['awaiting_input', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];

export function runsView(main, status) {
  const select = h('select', { id: 'status-filter' },
    h('option', { value: '' }, 'all'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s.replace('_', ' '))));
  const rows = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Show more');
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const table = h('table', { class: 'runs' },
    h('caption', { class: 'visually-hidden' }, 'Runs, newest first'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Run'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Goal'), h('th', { scope: 'col' }, 'Created'))),
    rows);
  main.replaceChildren(
    h('div', { class: 'heading' }, h('h1', { tabindex: '-1' }, 'Runs'),
      h('div', { class: 'filter' }, h('label', { for: 'status-filter' }, 'Status'), select),
      h('button', { type: 'button', onclick: () => load(null) }, 'Refresh')),
    error, h('div', { class: 'scroll' }, table), more);

  select.addEventListener('change', () => {
    location.hash = select.value ? `#/runs?status=${encodeURIComponent(select.value)}` : '#/runs';
  });

  let cursor = null;
  async function load(from) {
    try {
      const query = new URLSearchParams({ limit: '50' });
      if (status) query.set('status', status);
      if (from) query.set('cursor', from);
      const page = await api('GET', `/v1/runs?${query}`);
      const items = page.data.map(row);
      if (from) rows.append(...items);
      else replace(rows, items.length ? items : h('tr', {}, h('td', { colspan: '4', class: 'empty' }, 'No runs.')));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      error.hidden = true;
    } catch (err) {
      error.textContent = `The runs could not be loaded: ${err.message}`;
      error.hidden = false;
    }
  }

  more.addEventListener('click', () => load(cursor));

  function row(run) {
    return h('tr', {},
      h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(run.id)}` }, h('code', {}, run.id))),
      h('td', {}, statusBadge(run.status)),
      h('td', { class: 'goal' }, typeof run.input?.goal === 'string' ? run.input.goal : ''),
      h('td', {}, time(run.created_at)));
  }

  load(null);
  return () => {};
}
