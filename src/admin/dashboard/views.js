// The dashboard's views, built from the API's JSON with `el` (text only).
// Elements carrying `data-figure` hold a number taken straight from
// /api/v1/status; the browser test compares them with the API.

import { el, fill, num, table, when } from './dom.js';

const items = (list) => (Array.isArray(list) ? list : list?.items ?? []);

/** A link to one ticket's audit history (`#audit/<connection>/<ticket>`). */
export function ticketLink(connection, ticket) {
  const href = `#audit/${encodeURIComponent(connection)}/${encodeURIComponent(ticket)}`;
  return el('a', { href, dataset: { ticket: `${connection}:${ticket}` } }, `${connection}:${ticket}`);
}

/** Ticket keys as links: `connection:ticket` strings, or an entry's pair. */
function ticketLinks(entry) {
  const keys = Array.isArray(entry.tickets) ? [...entry.tickets] : [];
  if (entry.connection && entry.ticket) keys.push(`${entry.connection}:${entry.ticket}`);
  const links = [...new Set(keys.map(String))].map((key) => {
    const at = key.indexOf(':');
    return at > 0 ? ticketLink(key.slice(0, at), key.slice(at + 1)) : key;
  });
  return links.flatMap((link, i) => (i ? [' ', link] : [link]));
}

function stateClass(state) {
  if (['ok', 'registered', 'running', 'done', 'loaded', 'up'].includes(state)) return 'ok';
  if (['failing', 'failed', 'restarting', 'down', 'error', 'rejected'].includes(state)) return 'bad';
  return 'warn';
}

const badge = (state, figure) =>
  el('span', { class: `badge ${stateClass(state)}`, dataset: figure ? { figure } : undefined }, state ?? 'unknown');

/** An error text of the health report, if any. */
const errorOf = (value) => value?.last_error ?? value?.last_failure ?? value?.error ?? null;

/** The configuration's state from `/healthz`'s `config` entry. */
export function configState(config) {
  const last = config?.last_reload ?? null;
  if (!last) return 'loaded';
  return last.ok ? 'reloaded' : 'reload refused';
}

/** `/healthz`: tasks not running, registrations, store and config reload. */
function healthSection(health) {
  const problems = [];
  for (const [name, task] of Object.entries(health?.tasks ?? {})) {
    if (task.state !== 'running' && task.state !== 'done') {
      problems.push([name, badge(task.state), num(task.restarts), el('td', { class: 'message' }, errorOf(task))]);
    }
  }
  if (health?.store) {
    const store = health.store;
    const note = [errorOf(store), store.restart_needed ? 'restart needed' : null].filter(Boolean).join('; ');
    problems.push(['store', badge(store.state), num(null), el('td', { class: 'message' }, note)]);
  }
  const rows = [...problems];
  let config = null;
  if (health?.config) {
    // `/healthz`'s `config`: when the running configuration was loaded and
    // the last reload (`ok`, `at_unix_ms`, `error` with the token).
    const c = health.config;
    const last = c.last_reload ?? null;
    config = el(
      'p',
      { id: 'config-state' },
      'Configuration: ',
      badge(configState(c), 'health.config'),
      c.loaded_unix_ms ? [' loaded ', when(c.loaded_unix_ms)] : null,
      last && !last.ok
        ? el('span', { class: 'message error' }, ' the reload at ', when(last.at_unix_ms),
          ' was refused; the running configuration stays: ', last.error ?? '(reason shown with the token)')
        : null,
    );
  }
  return el(
    'section',
    { id: 'health' },
    el('h2', {}, 'Health ', badge(health?.status, 'health.status')),
    config,
    table(['part', 'state', 'restarts#', 'error'], rows, 'every task is running'),
  );
}

function queuesSection(status) {
  const card = (label, figure, value, cls) =>
    el('div', { class: 'card' }, el('div', { class: 'muted' }, label),
      el('div', { class: `figure ${value > 0 ? cls : ''}`, dataset: { figure } }, value ?? '–'));
  return el(
    'section',
    { id: 'queues' },
    el('h2', {}, 'Queues'),
    el('div', { class: 'cards' },
      card('outbox pending', 'outbox.pending', status.outbox?.pending, 'warn'),
      card('outbox dead', 'outbox.dead', status.outbox?.dead, 'bad'),
      card('notices pending', 'notices.pending', status.notices?.pending, 'warn'),
      card('notices dead', 'notices.dead', status.notices?.dead, 'bad')),
  );
}

function connectionsSection(status, health) {
  const rows = (status.connections ?? []).map((c) => {
    const f = (key) => `connections.${c.name}.${key}`;
    const reg = c.webhook?.registration ?? health?.webhooks?.[c.name] ?? null;
    const regState = typeof reg === 'string' ? reg : reg?.state ?? 'none';
    const used = c.api?.calls_last_hour;
    const budget = c.api?.requests_per_hour ?? c.requests_per_hour ?? null;
    return [
      el('td', {}, el('strong', {}, c.name), el('div', { class: 'muted' }, c.vendor)),
      el('td', {}, badge(c.up ? 'up' : 'down', f('up'))),
      el('td', {}, badge(regState), errorOf(reg) ? el('div', { class: 'message error' }, errorOf(reg)) : null),
      el('td', {}, when(c.webhook?.last_seen_unix_ms)),
      el('td', {}, when(c.last_poll_ok_unix_ms)),
      num(c.queue_depth, f('queue_depth')),
      num(c.api?.http_429, f('api.http_429')),
      el('td', { class: 'num' }, el('span', { dataset: { figure: f('api.calls_last_hour') } }, used ?? '–'),
        budget ? ` / ${budget}` : el('span', { class: 'muted' }, ' (no hourly budget)'),
        c.tenant_budget ? tenantBudget(c.tenant_budget, f) : null),
      num(c.dead_letters, f('dead_letters')),
    ];
  });
  return el('section', { id: 'connections' }, el('h2', {}, 'Connections'),
    table(['connection', 'vendor API', 'webhook', 'webhook last seen', 'last poll', 'queue#', '429s#', 'calls last hour / budget#', 'dead#'], rows));
}

/** A tenant-wide budget shared with other integrations (Autotask). */
function tenantBudget(b, f) {
  return el('div', { class: `muted ${b.state === 'ok' ? '' : 'warn'}` },
    'tenant: ', el('span', { dataset: { figure: f('tenant_budget.used') } }, b.used),
    ` of ${b.threshold} in ${b.window_minutes} min, bridge share ${b.share}, `,
    el('span', { dataset: { figure: f('tenant_budget.state') } }, b.state));
}

/** Running, or paused (since when, why) by an operator. */
function pairingState(p) {
  if (!p.paused) return 'running';
  return el('span', { class: 'warn' }, 'paused since ', when(p.paused_since_unix_ms),
    p.paused_reason ? `: ${p.paused_reason}` : '');
}

function pairingsSection(status) {
  const rows = (status.pairings ?? []).map((p) => {
    const f = (key) => `pairings.${p.name}.${key}`;
    const connections = p.configured === false ? 'no longer configured' : `${p.a} ↔ ${p.b}`;
    return [el('strong', {}, p.name), connections, num(p.links, f('links')), num(p.pending, f('pending')), num(p.dead, f('dead')), pairingState(p)];
  });
  return el('section', { id: 'pairings' }, el('h2', {}, 'Pairings'),
    table(['pairing', 'connections', 'links#', 'pending#', 'dead#', 'state'], rows));
}

/** The holder of the MSP's ticket (`/escalations` `owner`), as text. */
export function ownerText(owner) {
  if (!owner?.person) return owner?.group ? `nobody named (${owner.group})` : 'nobody named yet';
  return owner.group ? `${owner.person} (${owner.group})` : owner.person;
}

const outcomeClass = { breached: 'bad', near: 'warn', open: 'ok', met: 'muted' };

/** One ticket of an escalation, as a link to its audit history. */
const escalationTicket = (t) => (t ? ticketLink(t.connection, t.number || t.id) : el('span', { class: 'muted' }, 'not created yet'));

/** Per pairing: open escalations, both tickets, owner, time left per target. */
function escalationsSection(snap) {
  const pairings = Object.entries(snap.escalations ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const parts = pairings.map(([name, view]) => {
    const heading = el('h3', {}, name);
    if (view?.error) return [heading, el('p', { class: 'error' }, view.error)];
    const rows = (view?.items ?? []).map((e) => el('tr', { class: 'escalation', dataset: { pairing: name, link: String(e.link) } },
      el('td', {}, String(e.link)),
      el('td', {}, escalationTicket(e.a)),
      el('td', {}, escalationTicket(e.b)),
      el('td', {}, e.priority ?? '–'),
      el('td', {}, when(e.escalated_unix_ms)),
      el('td', { class: 'owner' }, ownerText(e.owner), el('div', { class: 'muted' }, 'since ', when(e.owner?.since_unix_ms))),
      el('td', {}, e.targets.length
        ? e.targets.map((t) => el('div', { class: `target ${outcomeClass[t.outcome] ?? ''}`, dataset: { target: t.target, outcome: t.outcome } },
          `${t.target.replace('_', ' ')}: ${t.text}`))
        : el('span', { class: 'muted' }, view.targets_configured ? 'no target for this priority' : 'no targets configured'))));
    return [heading, rows.length
      ? el('table', {}, el('thead', {}, el('tr', {}, ['link', 'ticket (a)', 'ticket (b)', 'priority', 'escalated', 'owner (MSP)', 'targets'].map((h) => el('th', {}, h)))), el('tbody', {}, rows))
      : el('p', { class: 'muted' }, 'no open escalations')];
  });
  return el('section', { id: 'escalations' }, el('h2', {}, 'Open escalations'),
    parts.length ? parts : el('p', { class: 'muted' }, 'no pairing configured'));
}

/** The vendor's message, with its HTTP status unless it already says it. */
function withStatus(status, message) {
  const text = message ?? '';
  return status && !text.includes(String(status)) ? `HTTP ${status}: ${text}` : text;
}

/** What an operation writes, in full, folded; stays open across refreshes. */
function inFull(key, action, ui) {
  const details = el('details', { open: ui.unfolded.has(key) }, el('summary', {}, 'in full'),
    el('div', { class: 'detail' }, JSON.stringify(action, null, 1)));
  details.addEventListener('toggle', () => (details.open ? ui.unfolded.add(key) : ui.unfolded.delete(key)));
  return details;
}

/** Dead operations and dead notices, with Retry and Discard. */
function deadSection(snap, ui, act) {
  const ops = items(snap.dead).filter((op) => (op.state ?? 'dead') === 'dead').map((op) => ({
    kind: 'outbox',
    id: op.id,
    what: [
      op.kind ?? 'operation',
      op.summary ? el('div', { class: 'muted' }, op.summary) : null,
      op.action ? inFull(`outbox:${op.id}`, op.action, ui) : null,
    ],
    connection: op.connection,
    links: ticketLinks(op),
    attempts: op.attempts,
    message: withStatus(op.status, op.last_error ?? op.dead?.message),
    waiting: op.waiting,
  }));
  const notices = items(snap.deadNotices).map((n) => {
    const connection = n.connection ?? n.item?.connection;
    const ticket = n.ticket ?? n.ticket_id ?? n.item?.ticket_id;
    return {
      kind: 'notices',
      id: n.id ?? n.item?.id,
      what: 'notice',
      connection,
      links: connection && ticket ? [ticketLink(connection, ticket)] : [],
      attempts: n.attempts ?? n.item?.attempts,
      message: withStatus(n.status ?? n.dead?.status, n.last_error ?? n.message ?? n.dead?.message),
      waiting: null,
    };
  });
  const rows = [...ops, ...notices].map((d) => {
    const key = `${d.kind}:${d.id}`;
    const busy = ui.busy.has(key);
    let actions;
    if (ui.confirming === key) {
      const reason = el('input', { type: 'text', placeholder: 'reason (audited)', class: 'discard-reason', maxlength: 500 });
      actions = el('div', { class: 'actions' }, reason,
        el('button', { type: 'button', class: 'danger confirm-discard', onclick: () => act.discard(d.kind, d.id, reason.value) }, 'Discard for good'),
        el('button', { type: 'button', class: 'cancel-discard', onclick: () => act.cancel() }, 'Cancel'));
    } else {
      actions = el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'retry', disabled: busy, onclick: () => act.retry(d.kind, d.id) }, 'Retry'),
        el('button', { type: 'button', class: 'danger discard', disabled: busy, onclick: () => act.confirm(key) }, 'Discard…'));
    }
    return el('tr', { class: 'dead-letter', dataset: { kind: d.kind, id: String(d.id) } },
      el('td', {}, String(d.id)), el('td', {}, d.what), el('td', {}, d.connection ?? '–'), el('td', {}, d.links),
      num(d.attempts), el('td', { class: 'message vendor-message' }, d.message ?? ''),
      num(d.waiting), el('td', {}, actions));
  });
  return el('section', { id: 'dead-letters' }, el('h2', {}, 'Dead letters'),
    ui.notice ? el('p', { class: ui.notice.error ? 'error' : 'ok', id: 'action-result' }, ui.notice.text) : null,
    rows.length
      ? el('table', {}, el('thead', {}, el('tr', {}, ['id', 'what', 'connection', 'tickets', 'attempts', 'vendor message', 'waiting behind', ''].map((h) => el('th', {}, h)))), el('tbody', {}, rows))
      : el('p', { class: 'muted' }, 'no dead letters'));
}

/** A compact, text-only view of an audit entry's detail. */
function detailText(detail) {
  if (detail === null || detail === undefined) return '';
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
  return text === '{}' ? '' : text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function auditRows(entries) {
  return entries.map((e) => [
    num(e.seq),
    when(e.at_unix_ms ?? e.at),
    el('code', {}, e.kind),
    e.pairing ?? '',
    el('td', {}, ticketLinks(e)),
    el('td', { class: 'message' }, e.message ?? '', el('div', { class: 'detail' }, detailText(e.detail))),
  ]);
}

function activitySection(snap) {
  return el('section', { id: 'activity' }, el('h2', {}, 'Recent activity'),
    table(['seq#', 'at', 'kind', 'pairing', 'tickets', 'what'], auditRows(items(snap.activity)), 'nothing yet'));
}

/** The overview: every section, from one snapshot. */
export function renderOverview(root, snap, ui, act) {
  fill(root,
    healthSection(snap.health),
    queuesSection(snap.status),
    connectionsSection(snap.status, snap.health),
    pairingsSection(snap.status),
    escalationsSection(snap),
    deadSection(snap, ui, act),
    activitySection(snap));
}

/** One ticket's audit history. */
export function renderAudit(root, connection, ticket, entries, error) {
  fill(root, el('section', { id: 'ticket-audit' },
    el('p', {}, el('a', { href: '#', id: 'back' }, '← overview')),
    el('h2', {}, 'Audit history of ', el('code', {}, `${connection}:${ticket}`)),
    error ? el('p', { class: 'error' }, error) : table(['seq#', 'at', 'kind', 'pairing', 'tickets', 'what'], auditRows(entries ?? []), 'no entries')));
}
