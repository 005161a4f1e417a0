// Calls to the API from this origin with the operator's key. The key lives in this tab's sessionStorage only: never in a
// URL (it goes in the Authorization header), never in localStorage or a cookie, never logged.

const KEY = 'agent-runs.api-key';

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  forget: () => sessionStorage.removeItem(KEY),
};

/** A problem+json answer (or a failure to get one), with its reason code and, for a refused answer, its failing fields. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The service answered ${status}.`);
    this.status = status;
    this.reasonCode = problem?.reason_code ?? null;
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

let onUnauthorized = () => {};
/** What to do when the service refuses the key (it was revoked, or mistyped): ask for another. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** A fresh Idempotency-Key: a retry of the same request sends the same one, so it never acts twice. */
export function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** GET or POST JSON. POSTs carry an Idempotency-Key and are retried once with it when the network fails. */
export async function api(method, path, body, { apiKey = key.get(), signal } = {}) {
  const headers = { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' };
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer', signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method === 'POST') headers['Idempotency-Key'] = idempotencyKey();

  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(path, init);
      break;
    } catch (error) {
      if (signal?.aborted || method !== 'POST' || attempt > 0) throw new ApiError(0, { detail: 'The service cannot be reached. Check the connection and try again.' });
    }
  }

  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401 && apiKey === key.get()) onUnauthorized(error);
    throw error;
  }
  return json;
}

/** Checks a key before keeping it: one cheap authenticated read. */
export async function checkKey(candidate) {
  await api('GET', '/v1/requests?status=pending&limit=1', undefined, { apiKey: candidate });
}
