// Starting a run from a goal (and, for the scripted agent, an optional plan).

import { api } from './api.js';
import { h } from './dom.js';

export function newRunView(main) {
  const goal = h('textarea', { id: 'goal', rows: '3', required: true, 'aria-describedby': 'goal-error' });
  const plan = h('textarea', { id: 'plan', rows: '8', class: 'code', spellcheck: 'false', 'aria-describedby': 'plan-help plan-error' });
  const timeout = h('input', { id: 'timeout', type: 'number', min: '1', step: '1', inputmode: 'numeric' });
  const goalError = h('span', { id: 'goal-error', class: 'field-error', hidden: true });
  const planError = h('span', { id: 'plan-error', class: 'field-error', hidden: true });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Start run');
  const form = h('form', { class: 'card' },
    h('h1', { tabindex: '-1' }, 'New run'),
    h('div', { class: 'field' }, h('label', { for: 'goal' }, 'Goal', h('span', { class: 'required', 'aria-hidden': 'true' }, ' *')), goal, goalError),
    h('div', { class: 'field' }, h('label', { for: 'timeout' }, 'Answer within (seconds, optional)'), timeout),
    h('details', {}, h('summary', {}, 'Plan (optional, JSON)'),
      h('div', { class: 'field' }, h('label', { for: 'plan' }, 'input.plan'),
        h('span', { id: 'plan-help', class: 'hint' }, 'Steps for the scripted agent, e.g. [{"type":"approval","prompt":"Send it?"}]. Without one the run drafts, asks for approval, acts and finishes.'),
        plan, planError)),
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const el of [goalError, planError, error]) el.hidden = true;
    const input = { goal: goal.value.trim() };
    if (input.goal === '') return fieldError(goal, goalError, 'Enter a goal.');
    if (plan.value.trim() !== '') {
      try {
        input.plan = JSON.parse(plan.value);
      } catch (err) {
        return fieldError(plan, planError, `This is not valid JSON: ${err.message}`);
      }
    }
    const body = { input };
    if (timeout.value !== '') body.signal_timeout_seconds = Number(timeout.value);
    submit.disabled = true;
    try {
      const run = await api('POST', '/v1/runs', body);
      location.hash = `#/runs/${encodeURIComponent(run.id)}`;
    } catch (err) {
      error.textContent = `The run was not created: ${err.message}`;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  function fieldError(input, element, message) {
    element.textContent = message;
    element.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  main.replaceChildren(form);
  return () => {};
}
