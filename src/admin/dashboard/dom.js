// DOM building without HTML strings: every value becomes a text node, so a
// vendor's ticket title or message (hostile input) is shown, never parsed.

/**
 * `el('td', { class: 'num', dataset: { figure: 'x' } }, 'text', child)`.
 * Attributes are set with setAttribute (never `on...` handlers); children
 * are nodes or values shown as text (null and undefined are skipped).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (name === 'onclick') {
      node.addEventListener('click', value);
    } else if (name.startsWith('on')) {
      throw new Error(`el: ${name} is not allowed`);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces `node`'s children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A table with a header row; `rows` are arrays of cells (nodes or values). */
export function table(headers, rows, empty = 'none') {
  if (rows.length === 0) return el('p', { class: 'muted' }, empty);
  return el(
    'table',
    {},
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { class: h.endsWith('#') ? 'num' : undefined }, h.replace(/#$/, ''))))),
    el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c)))))),
  );
}

/** A right-aligned number cell the browser test can find by `figure`. */
export function num(value, figure) {
  return el('td', { class: 'num', dataset: figure ? { figure } : undefined }, value ?? '–');
}

/** `unix_ms` (or an RFC 3339 string) as local time, with its age. */
export function when(value) {
  if (value === null || value === undefined) return el('span', { class: 'muted' }, 'never');
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const secs = Math.round((Date.now() - date.getTime()) / 1000);
  const age = secs < 90 ? `${secs}s ago` : secs < 5400 ? `${Math.round(secs / 60)}m ago` : `${Math.round(secs / 3600)}h ago`;
  return el('span', { title: date.toISOString() }, `${date.toLocaleTimeString()} (${age})`);
}
