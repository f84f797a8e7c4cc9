// The admin API as the dashboard calls it: the token lives in this tab's
// sessionStorage only (nothing persistent, never a URL) and goes out as
// `Authorization: Bearer`; a 401 forgets it so the login prompt comes back.

const KEY = 'psa-bridge.admin-token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

/** The token is missing or was refused. */
export class Unauthorized extends Error {}

/** GET (or `method`) `path` with the token; the JSON answer. */
export async function call(path, { method = 'GET', body } = {}) {
  const secret = token.get();
  if (!secret) throw new Unauthorized('no token');
  const headers = { Authorization: `Bearer ${secret}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
  });
  if (response.status === 401) {
    token.clear();
    throw new Unauthorized('the token was refused');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  // `/healthz` answers 503 with its JSON when something is down: still data.
  if (!response.ok && !(path === '/healthz' && data)) {
    const why = data && typeof data.error === 'string' ? data.error : text;
    throw new Error(`${method} ${path}: HTTP ${response.status} ${why}`.trim());
  }
  return data;
}

/** Everything the overview shows, fetched together. */
export async function snapshot() {
  const [status, health, dead, deadNotices, activity] = await Promise.all([
    call('/api/v1/status'),
    call('/healthz'),
    call('/api/v1/outbox?state=dead&limit=500'),
    call('/api/v1/notices/dead'),
    call('/api/v1/activity?limit=50'),
  ]);
  // Open escalations of each configured pairing (a failure shows in its section).
  const escalations = {};
  await Promise.all((status?.pairings ?? []).filter((p) => p.configured !== false).map(async (p) => {
    try {
      escalations[p.name] = await call(`/api/v1/pairings/${encodeURIComponent(p.name)}/escalations`);
    } catch (e) {
      if (e instanceof Unauthorized) throw e;
      escalations[p.name] = { error: String(e.message ?? e) };
    }
  }));
  return { status, health, dead, deadNotices, activity, escalations };
}

export const ticketAudit = (connection, ticket) =>
  call(`/api/v1/tickets/${encodeURIComponent(connection)}/${encodeURIComponent(ticket)}/audit`);

export const retry = (kind, id) =>
  call(`/api/v1/${kind}/${encodeURIComponent(id)}/retry`, { method: 'POST' });

export const discard = (kind, id, reason) =>
  call(`/api/v1/${kind}/${encodeURIComponent(id)}/discard`, {
    method: 'POST',
    body: reason ? { reason } : {},
  });
