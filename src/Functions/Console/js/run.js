// One run: its status, who answered and when, the request it waits for with the forms to answer it, a way to cancel it, why
// it ended, and every event, live over the stream.

import { api, ApiError } from './api.js';
import { announce, countdown, h, hasRedacted, jsonBlock, replace, statusBadge, time } from './dom.js';
import { follow, isTerminal } from './events.js';
import { schemaForm } from './schema-form.js';

export function runView(main, runId) {
  const title = h('h1', { tabindex: '-1' }, 'Run ', h('code', {}, runId));
  const badge = h('span');
  const streamState = h('span', { class: 'stream-state', role: 'status' }, 'connecting…');
  const summary = h('dl', { class: 'summary' });
  const answered = h('section', { class: 'card answered', hidden: true, 'aria-labelledby': 'answered-title' });
  const pending = h('div');
  const resultTitle = h('h2', { id: 'result-title', tabindex: '-1' });
  const resultBody = h('div');
  const result = h('section', { class: 'card result', hidden: true, 'aria-labelledby': 'result-title' }, resultTitle, resultBody);
  const events = h('ol', { class: 'events', 'aria-label': 'Events' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const cancel = cancelPanel(runId, () => scheduleRefresh());
  main.replaceChildren(
    h('div', { class: 'heading' }, title, badge),
    error, summary, pending, answered, cancel.element, result,
    h('section', { 'aria-labelledby': 'events-title' },
      h('div', { class: 'heading' }, h('h2', { id: 'events-title' }, 'Events'), streamState),
      events));

  let pendingId = null;
  let endEvent = null; // the run's terminal event: run.cancelled names who cancelled it
  let refreshTimer = null;
  let stopped = false;

  async function refresh() {
    try {
      const run = await api('GET', `/v1/runs/${encodeURIComponent(runId)}`);
      if (!stopped) render(run);
    } catch (err) {
      if (stopped) return;
      error.textContent = err.status === 404 ? 'There is no such run for this key\'s tenant.' : `The run could not be loaded: ${err.message}`;
      error.hidden = false;
    }
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 150);
  }

  function render(run) {
    error.hidden = true;
    replace(badge, statusBadge(run.status));
    replace(summary,
      h('dt', {}, 'Status'), h('dd', { class: 'run-status' }, run.status),
      h('dt', {}, 'Goal'), h('dd', { class: 'goal' }, typeof run.input?.goal === 'string' ? run.input.goal : ''),
      h('dt', {}, 'Agent'), h('dd', {}, run.agent),
      h('dt', {}, 'Created'), h('dd', {}, time(run.created_at)),
      h('dt', {}, 'Updated'), h('dd', {}, time(run.updated_at)));

    const last = run.last_answer;
    answered.hidden = !last;
    if (last) {
      replace(answered,
        h('h2', { id: 'answered-title' }, 'Last answer'),
        h('p', { class: 'last-answer' },
          h('strong', {}, last.action.replace('_', ' ')), ' by ',
          h('span', { class: 'actor' }, last.actor ? last.actor.name : 'unknown'),
          last.actor ? h('span', { class: 'hint' }, ` (${last.actor.key_id})`) : null,
          ' at ', time(last.accepted_at)));
    }

    const request = run.status === 'awaiting_input' ? run.pending_input : null;
    if ((request?.request_id ?? null) !== pendingId) {
      pendingId = request?.request_id ?? null;
      const hadFocus = pending.contains(document.activeElement);
      replace(pending, request ? answerPanel(run.id, request, scheduleRefresh) : null);
      if (hadFocus) title.focus();
    }

    const ended = ['succeeded', 'failed', 'cancelled'].includes(run.status);
    const cancelHadFocus = cancel.update(!ended);
    result.hidden = !ended;
    if (ended) {
      resultTitle.textContent = run.status === 'succeeded' ? 'Output' : 'Why it ended';
      replace(resultBody, run.status === 'succeeded' ? jsonBlock(run.output, 'Output') : whyItEnded(run.error, endEvent));
      if (cancelHadFocus) resultTitle.focus(); // the cancel's controls are gone: go on to how the run ended
    }
  }

  function addEvent(event) {
    const value = event.payload?.value;
    const actor = value && typeof value === 'object' ? value.actor : null;
    const redacted = event.payload?.redacted || hasRedacted(value);
    if (isTerminal(event.type)) endEvent = event;
    events.append(h('li', { class: 'event', dataset: { seq: String(event.seq), type: event.type } },
      h('div', { class: 'meta' },
        h('span', { class: 'seq' }, `#${event.seq}`),
        h('strong', { class: 'type' }, event.type),
        time(event.timestamp),
        actor ? h('span', { class: 'actor' }, `by ${actor.name}`) : null,
        redacted ? h('span', { class: 'badge redacted-badge', title: 'Secret-looking values were masked by the service' }, 'redacted') : null),
      // A reason (a cancel's, a failure's) as written, line breaks and all; the JSON below has it escaped.
      typeof value?.reason === 'string' ? h('p', { class: 'event-reason' }, h('span', { class: 'hint' }, 'Reason: '), value.reason) : null,
      jsonBlock(value, `Event ${event.seq} payload`)));
    scheduleRefresh();
  }

  const stream = follow(runId, 0, {
    onEvent: addEvent,
    onState(state, detail) {
      streamState.textContent = state === 'live' ? 'live' : state === 'ended' ? (detail ?? 'ended') : (detail ?? state);
      streamState.dataset.state = state;
    },
  });

  refresh();
  return () => {
    stopped = true;
    clearTimeout(refreshTimer);
    stream.stop();
  };
}

/**
 * Cancelling a run that has not ended: an optional reason, then a confirmation in the page (no dialog; Escape or "Keep it
 * running" goes back), then the POST. The service's refusal (its detail and reason code) stays next to the control, also
 * once the run turns out to have ended already (409 run_not_cancellable).
 */
function cancelPanel(runId, onSettled) {
  const reason = h('textarea', { id: 'cancel-reason', rows: '2', maxlength: '4096', 'aria-describedby': 'cancel-reason-hint' });
  const start = h('button', { type: 'submit', class: 'danger' }, 'Cancel run');
  const question = h('p', { id: 'cancel-question', class: 'confirm-question', tabindex: '-1' });
  const yes = h('button', { type: 'button', class: 'danger' }, 'Yes, cancel the run');
  const no = h('button', { type: 'button' }, 'Keep it running');
  const confirm = h('div', { class: 'confirm', role: 'group', 'aria-labelledby': 'cancel-question', hidden: true },
    question, h('div', { class: 'actions' }, yes, no));
  const errors = h('ul', { class: 'error-list', role: 'alert', hidden: true });
  const status = h('p', { class: 'form-status', role: 'status' });
  const form = h('form', { class: 'cancel-form' },
    h('p', { class: 'hint' }, 'It stops at once, whatever it is doing or waiting for, and cannot be resumed.'),
    h('div', { class: 'field' },
      h('label', { for: 'cancel-reason' }, 'Reason (optional)'),
      h('span', { id: 'cancel-reason-hint', class: 'hint' }, 'Becomes the run\'s error reason and is recorded with your key\'s name.'),
      reason),
    h('div', { class: 'actions' }, start),
    confirm);
  const section = h('section', { class: 'card cancel', hidden: true, 'aria-labelledby': 'cancel-title' },
    h('h2', { id: 'cancel-title' }, 'Cancel the run'),
    form, errors, status);
  let sending = false;
  let hadFocus = false; // the operator's focus was on the confirmation that succeeded

  function ask() {
    errors.hidden = true;
    question.textContent = reason.value.trim() === ''
      ? 'Cancel this run without a reason?'
      : 'Cancel this run with the reason above?';
    reason.readOnly = true;
    start.hidden = true;
    confirm.hidden = false;
    question.focus();
  }

  function back() {
    confirm.hidden = true;
    start.hidden = false;
    reason.readOnly = false;
    if (!form.hidden) start.focus();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!sending) ask();
  });
  no.addEventListener('click', back);
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !confirm.hidden && !sending) {
      e.preventDefault();
      back();
    }
  });

  yes.addEventListener('click', async () => {
    const text = reason.value.trim();
    const focused = section.contains(document.activeElement);
    sending = true;
    yes.disabled = true;
    no.disabled = true;
    status.textContent = 'Cancelling…';
    try {
      await api('POST', `/v1/runs/${encodeURIComponent(runId)}/cancel`, text === '' ? undefined : { reason: text });
      hadFocus = focused;
      confirm.hidden = true; // nothing to press twice; the run's refresh takes the form away
      status.textContent = 'Cancelled.';
      announce('The run was cancelled.');
      onSettled();
    } catch (err) {
      status.textContent = '';
      replace(errors, h('li', {}, `Not cancelled: ${err.message}`,
        err.reasonCode ? [' ', h('code', { class: 'reason-code' }, err.reasonCode)] : null));
      errors.hidden = false;
      back();
      if (err.reasonCode === 'run_not_cancellable') onSettled(); // the page was behind: show how the run ended
    } finally {
      sending = false;
      yes.disabled = false;
      no.disabled = false;
    }
  });

  return {
    element: section,
    /**
     * Shows the control while the run can be cancelled; after it ended, only what the service said to an attempt, if anything.
     * True when the run has ended and the operator's focus was here: the caller moves it on.
     */
    update(cancellable) {
      const focused = hadFocus || section.contains(document.activeElement);
      form.hidden = !cancellable;
      section.hidden = !cancellable && errors.hidden;
      if (cancellable) return false;
      hadFocus = false;
      return focused;
    },
  };
}

/**
 * Why a run failed or was cancelled: its reason code, its reason as written, and for a cancel who cancelled it and when (from
 * run.cancelled, once the stream has brought it).
 */
function whyItEnded(error, endEvent) {
  const cancel = endEvent?.type === 'run.cancelled' ? endEvent : null;
  const actor = cancel?.payload?.value?.actor;
  return h('dl', { class: 'summary outcome' },
    h('dt', {}, 'Reason code'), h('dd', {}, h('code', { class: 'reason-code' }, error?.reason_code ?? 'unknown')),
    h('dt', {}, 'Reason'), h('dd', { class: 'error-reason' }, typeof error?.reason === 'string' && error.reason !== '' ? error.reason : '—'),
    actor ? [
      h('dt', {}, 'Cancelled by'),
      h('dd', { class: 'cancelled-by' },
        h('span', { class: 'actor' }, actor.name), h('span', { class: 'hint' }, ` (${actor.key_id})`), ' at ', time(cancel.timestamp)),
    ] : null);
}

/** The request a run waits for, and a form for each answer it allows. */
function answerPanel(runId, request, onAnswered) {
  const allowed = new Set(request.allowed_actions);
  const forms = [];
  const panel = h('section', { class: 'card pending', 'aria-labelledby': 'pending-title' },
    h('div', { class: 'heading' }, h('h2', { id: 'pending-title' }, 'Waiting for your answer'),
      h('span', { class: `badge kind-${request.input_kind}` }, request.input_kind), countdown(request.expires_at)),
    h('p', { class: 'prompt' }, request.prompt),
    h('p', { class: 'hint' }, `${request.reason_code} · due `, time(request.expires_at)));

  if (request.proposed_action) {
    panel.append(h('h3', {}, 'Proposed action'), jsonBlock(request.proposed_action, 'Proposed action'));
  }

  function answerForm(label, className, build) {
    const status = h('p', { class: 'form-status', role: 'status' });
    const errors = h('ul', { class: 'error-list', role: 'alert', hidden: true });
    const button = h('button', { type: 'submit', class: className }, label);
    const form = h('form', { class: 'answer', novalidate: false });
    const parts = build(form);
    form.append(errors, h('div', { class: 'actions' }, button), status);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      errors.hidden = true;
      let body;
      try {
        body = parts.body();
      } catch {
        return; // the field says what is wrong
      }
      for (const f of forms) f.querySelector('button[type=submit]').disabled = true;
      status.textContent = 'Sending…';
      try {
        await api('POST', `/v1/runs/${encodeURIComponent(runId)}/signal`, { ...body, request_id: request.request_id });
        status.textContent = 'Sent. The run goes on.';
        announce(`${label}: sent.`);
        onAnswered();
      } catch (err) {
        for (const f of forms) f.querySelector('button[type=submit]').disabled = false;
        status.textContent = '';
        const unplaced = err instanceof ApiError && err.errors.length > 0 && parts.showErrors ? parts.showErrors(err.errors) : [];
        const lines = err.reasonCode === 'run_not_awaiting_input'
          ? ['This request no longer waits for an answer (it was answered, expired or the run ended).']
          : err.errors.length === 0
            ? [err.message]
            : [unplaced.length === 0 ? 'The service refused this answer: see the marked fields.' : 'The service refused this answer:',
              ...unplaced.map((u) => `${u.pointer || '(the answer)'}: ${u.message}`)];
        replace(errors, lines.map((line) => h('li', {}, line)));
        errors.hidden = false;
        if (err.reasonCode === 'run_not_awaiting_input') onAnswered();
      }
    });
    forms.push(form);
    return form;
  }

  if (allowed.has('approve')) {
    panel.append(answerForm('Approve', 'primary', () => ({ body: () => ({ action: 'approve' }) })));
    if (request.allow_edits) {
      panel.append(answerForm('Approve with edits', 'secondary', (form) => {
        const editor = schemaForm(request.response_schema ?? null, request.proposed_action?.arguments ?? {}, 'Edit the arguments');
        form.append(editor.element);
        return { body: () => ({ action: 'approve', payload: { arguments: editor.read() } }), showErrors: editor.showErrors };
      }));
    }
  }

  if (allowed.has('submit_input')) {
    panel.append(answerForm('Submit input', allowed.has('approve') ? 'secondary' : 'primary', (form) => {
      const editor = schemaForm(request.response_schema ?? null, request.response_schema ? undefined : {}, 'Your input');
      form.append(editor.element);
      return { body: () => ({ action: 'submit_input', payload: editor.read() }), showErrors: editor.showErrors };
    }));
  }

  if (allowed.has('reject')) {
    panel.append(answerForm('Reject', 'danger', (form) => {
      const id = `reject-reason-${request.request_id}`;
      const reason = h('textarea', { id, rows: '2', required: true });
      form.append(h('div', { class: 'field' }, h('label', { for: id }, 'Reason for rejecting'), reason));
      return { body: () => ({ action: 'reject', payload: { reason: reason.value.trim() } }) };
    }));
  }

  return panel;
}
