// Asking for the API key: once per tab. The key is checked with one read before it is kept in sessionStorage.

import { checkKey, key } from './api.js';
import { h } from './dom.js';

export function keyView(main, message, onAccepted) {
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'api-key-help api-key-error' });
  const error = h('p', { id: 'api-key-error', class: 'field-error', role: 'alert', hidden: !message }, message ?? '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Use this key');
  const form = h('form', { class: 'card key-form', novalidate: true },
    h('h1', { tabindex: '-1' }, 'Operator console'),
    h('p', { id: 'api-key-help', class: 'hint' },
      'Enter an API key of your tenant. It stays in this browser tab only (session storage) and is sent in the Authorization header, never in a URL.'),
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input),
    error,
    h('div', { class: 'actions' }, button));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const candidate = input.value.trim();
    if (candidate === '') {
      showError('Enter a key.');
      return;
    }
    button.disabled = true;
    try {
      await checkKey(candidate);
      key.set(candidate);
      input.value = '';
      onAccepted();
    } catch (err) {
      showError(err.status === 401 ? 'This key was refused: it is unknown or revoked.' : err.message);
    } finally {
      button.disabled = false;
    }
  });

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  main.replaceChildren(form);
  input.focus();
}
