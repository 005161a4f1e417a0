// A run's event stream, read with fetch so that the key goes in the Authorization header (EventSource cannot send one), and
// parsed here as Server-Sent Events. The server ends the response cleanly only after the run's terminal event; at its time
// bound it aborts the connection instead. After an abort, an error or a refused attempt, this reconnects with Last-Event-ID:
// the server resumes after that seq, so no event is lost or repeated.

import { key } from './api.js';

const TERMINAL = new Set(['run.worker.succeeded', 'run.worker.failed', 'run.cancelled']);

/**
 * Follows a run's events after `afterSeq` until the terminal event or `stop()`. Calls onEvent(event) once per event, in
 * order, and onState('live' | 'reconnecting' | 'ended', detail).
 */
export function follow(runId, afterSeq, { onEvent, onState }) {
  const controller = new AbortController();
  let lastSeq = afterSeq;
  let ended = false;

  async function connect() {
    let delay = 1000;
    while (!ended && !controller.signal.aborted) {
      try {
        const headers = { Authorization: `Bearer ${key.get()}`, Accept: 'text/event-stream' };
        if (lastSeq > 0) headers['Last-Event-ID'] = String(lastSeq);
        const response = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events/stream`, {
          headers, cache: 'no-store', credentials: 'omit', signal: controller.signal,
        });
        if (response.status === 401 || response.status === 404) {
          onState('ended', `The stream was refused (${response.status}).`);
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        onState('live');
        delay = 1000;
        await read(response.body);
        if (ended) return;
        // A clean end before the terminal event: come back for the rest.
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      onState('reconnecting', `Reconnecting in ${Math.round(delay / 1000)} s…`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }

  async function read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let data = [];
    let eventName = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (data.length > 0 && (eventName === '' || eventName === 'run_event')) dispatch(data.join('\n'));
          data = [];
          eventName = '';
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let content = colon < 0 ? '' : line.slice(colon + 1);
          if (content.startsWith(' ')) content = content.slice(1);
          if (field === 'data') data.push(content);
          else if (field === 'event') eventName = content;
        }
        if (ended) {
          reader.cancel().catch(() => {});
          return;
        }
      }
    }
  }

  function dispatch(text) {
    const event = JSON.parse(text);
    if (event.seq <= lastSeq) return; // never twice
    lastSeq = event.seq;
    onEvent(event);
    if (TERMINAL.has(event.type)) {
      ended = true;
      onState('ended');
    }
  }

  connect();
  return {
    stop() {
      ended = true;
      controller.abort();
    },
  };
}

export const isTerminal = (type) => TERMINAL.has(type);
