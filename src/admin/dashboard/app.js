// The dashboard's entry point: login prompt, auto-refresh, the overview and
// the per-ticket audit view (`#audit/<connection>/<ticket>`), and the
// Retry / Discard actions on dead letters.

import { Unauthorized, discard, retry, snapshot, ticketAudit, token } from './api.js';
import { fill } from './dom.js';
import { renderAudit, renderOverview } from './views.js';

const REFRESH_MS = 3000;
const $ = (id) => document.getElementById(id);

/** UI state that survives a refresh. */
const ui = { busy: new Set(), confirming: null, notice: null, unfolded: new Set() };
let timer = null;
let lastSnap = null;
let generation = 0;

function showLogin(message) {
  clearTimeout(timer);
  timer = null;
  generation += 1;
  $('app').hidden = true;
  fill($('overview'));
  fill($('audit-view'));
  lastSnap = null;
  ui.confirming = null;
  ui.notice = null;
  $('status').hidden = true;
  $('logout').hidden = true;
  fill($('version'));
  fill($('updated'));
  $('login').hidden = false;
  $('login-error').hidden = !message;
  fill($('login-error'), message ?? '');
  $('token').focus();
}

function showError(error) {
  if (error instanceof Unauthorized) {
    showLogin(token.get() ? null : 'The admin token was refused (or is missing). Enter it again.');
    return true;
  }
  $('error').hidden = !error;
  fill($('error'), error ? String(error.message ?? error) : '');
  return false;
}

/** The audit view's target, from the location hash. */
function auditTarget() {
  const match = /^#audit\/([^/]+)\/(.+)$/.exec(location.hash);
  return match ? [decodeURIComponent(match[1]), decodeURIComponent(match[2])] : null;
}

async function refresh() {
  clearTimeout(timer);
  const mine = generation;
  try {
    const target = auditTarget();
    $('overview').hidden = Boolean(target);
    $('audit-view').hidden = !target;
    if (target) {
      let entries = null;
      let problem = null;
      try {
        entries = await ticketAudit(...target);
      } catch (e) {
        if (e instanceof Unauthorized) throw e;
        problem = String(e.message ?? e);
      }
      if (mine !== generation) return;
      renderAudit($('audit-view'), target[0], target[1], entries, problem);
    } else if (ui.confirming === null) {
      // A discard being confirmed is not redrawn under the operator's hands.
      const snap = await snapshot();
      if (mine !== generation) return;
      lastSnap = snap;
      renderOverview($('overview'), snap, ui, actions);
      const status = snap.health?.status ?? 'unknown';
      $('status').hidden = false;
      $('status').className = `badge ${status === 'ok' ? 'ok' : status === 'failing' ? 'bad' : 'warn'}`;
      fill($('status'), status);
      fill($('version'), snap.status?.version ? `v${snap.status.version}` : '');
    }
    showError(null);
    fill($('updated'), `updated ${new Date().toLocaleTimeString()}`);
    document.body.dataset.refreshed = String(Date.now());
  } catch (e) {
    if (mine !== generation) return;
    if (showError(e)) return;
  }
  if (mine === generation) {
    // One chain of refreshes, however many were started at once.
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_MS);
  }
}

async function act(key, what, run) {
  ui.busy.add(key);
  ui.confirming = null;
  try {
    const answer = await run();
    ui.notice = { text: `${what} ${key}: done`, error: false, answer };
  } catch (e) {
    if (showError(e)) return;
    ui.notice = { text: `${what} ${key} failed: ${e.message ?? e}`, error: true };
  } finally {
    ui.busy.delete(key);
  }
  await refresh();
}

const actions = {
  retry: (kind, id) => act(`${kind}:${id}`, 'Retry', () => retry(kind, id)),
  confirm: (key) => {
    ui.confirming = key;
    ui.notice = null;
    if (lastSnap) renderOverview($('overview'), lastSnap, ui, actions);
    const reason = document.querySelector('.discard-reason');
    if (reason) reason.focus();
  },
  cancel: () => {
    ui.confirming = null;
    refresh();
  },
  discard: (kind, id, reason) => act(`${kind}:${id}`, 'Discard', () => discard(kind, id, reason.trim())),
};

function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  generation += 1;
  refresh();
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('token').value.trim();
  $('token').value = '';
  if (!value) return;
  token.set(value);
  start();
});

$('logout').addEventListener('click', () => {
  token.clear();
  showLogin(null);
});

window.addEventListener('hashchange', () => {
  if (token.get()) {
    ui.confirming = null;
    refresh();
  }
});

// Exposed for the browser test and the curious: one refresh right now.
window.psaBridgeRefresh = () => (token.get() ? refresh() : undefined);

if (token.get()) start();
else showLogin(null);
