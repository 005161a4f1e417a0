// Building the page. Every piece of data reaches the DOM as a text node or an attribute value: nothing here ever parses a
// string as HTML (the page's Content-Security-Policy requires Trusted Types, so an innerHTML assignment would throw anyway).

/** An element: h('p', { class: 'x', onclick: fn }, 'text', child, [more, children]). Strings become text nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of an element. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let ids = 0;
/** A unique id for label/for and aria-describedby pairs. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

export const REDACTED = '[REDACTED]';

/**
 * JSON as an indented, readable block (like JSON.stringify(value, null, 2)), built from text nodes. Values the service
 * masked ("[REDACTED]") are marked, so an operator sees what was hidden from the log.
 */
export function jsonBlock(value, label) {
  const pre = h('pre', { class: 'json', tabindex: '0', 'aria-label': label ?? 'JSON' });
  writeJson(pre, value, 0);
  return pre;
}

function writeJson(out, value, depth) {
  const pad = '  '.repeat(depth + 1);
  const end = '  '.repeat(depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return out.append('[]');
    out.append('[\n');
    value.forEach((item, i) => {
      out.append(pad);
      writeJson(out, item, depth + 1);
      out.append(i < value.length - 1 ? ',\n' : '\n');
    });
    out.append(`${end}]`);
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return out.append('{}');
    out.append('{\n');
    entries.forEach(([key, item], i) => {
      out.append(pad, h('span', { class: 'json-key' }, JSON.stringify(key)), ': ');
      writeJson(out, item, depth + 1);
      out.append(i < entries.length - 1 ? ',\n' : '\n');
    });
    out.append(`${end}}`);
  } else if (value === REDACTED) {
    out.append(h('mark', { class: 'redacted', title: 'Masked by the service: the real value never reaches the log' }, JSON.stringify(value)));
  } else {
    out.append(h('span', { class: `json-${value === null ? 'null' : typeof value}` }, JSON.stringify(value)));
  }
  return out;
}

/** True when a JSON value holds a masked value anywhere. */
export function hasRedacted(value) {
  if (value === REDACTED) return true;
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasRedacted);
  return false;
}

/** 2026-03-26 14:35:01 (the browser's time zone), with the exact UTC time as the element's title. */
export function time(iso) {
  if (!iso) return h('span', {}, '—');
  const date = new Date(iso);
  const local = Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  return h('time', { datetime: iso, title: iso }, local);
}

const countdowns = new Set();

/** A live countdown to a deadline: "4m 12s left", then "expired". Updated every second while it is on the page. */
export function countdown(iso) {
  const element = h('span', { class: 'countdown', dataset: { expiresAt: iso } });
  countdowns.add(element);
  tick(element);
  return element;
}

function tick(element) {
  const left = Math.floor((new Date(element.dataset.expiresAt).getTime() - Date.now()) / 1000);
  element.textContent = left > 0 ? `${duration(left)} left` : 'expired';
  element.classList.toggle('soon', left > 0 && left < 300);
  element.classList.toggle('expired', left <= 0);
}

setInterval(() => {
  for (const element of countdowns) {
    if (element.isConnected) tick(element);
    else countdowns.delete(element);
  }
}, 1000);

export function duration(seconds) {
  const d = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d ${hours}h`;
  if (hours > 0) return `${hours}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** A status badge for a run status. */
export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, status.replace('_', ' '));
}

/** Announces a message to screen readers and shows it in the status line. */
export function announce(message) {
  const status = document.getElementById('status');
  status.textContent = message;
}
