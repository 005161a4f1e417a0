// The guide's example runs in Node (it reads the answer with readline from stdin), but
// @microsoft/fetch-event-source was written for browsers: it calls window.fetch, window.setTimeout and
// document.addEventListener('visibilitychange'). This preload gives Node those globals, so that the
// example itself runs unchanged.
globalThis.window ??= globalThis;
globalThis.document ??= {
  hidden: false,
  addEventListener() {},
  removeEventListener() {},
};
