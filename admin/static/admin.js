// The admin page's few behaviours: every change goes to the JSON API with the session's
// CSRF token, then the page reloads to show the server's view. No inline script (CSP).
'use strict';

const csrf = document.querySelector('meta[name="csrf-token"]')?.content || '';
const flash = document.getElementById('flash');

function say(message, ok) {
  if (!flash) return;
  flash.textContent = message;
  flash.className = ok ? 'ok' : 'error';
  flash.scrollIntoView({ block: 'nearest' });
}

async function call(method, url, body) {
  const res = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    location.href = '/admin/login';
    throw new Error('Your session has ended; log in again.');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  if (!res.ok) {
    throw new Error((data && data.error && data.error.message) || `The server answered ${res.status}.`);
  }
  return data;
}

// A message that survives the reload that shows the change.
function done(message) {
  sessionStorage.setItem('afterword-flash', message);
  location.reload();
}

const kept = sessionStorage.getItem('afterword-flash');
if (kept) {
  sessionStorage.removeItem('afterword-flash');
  say(kept, true);
}

// Times in the reader's own zone and language.
for (const t of document.querySelectorAll('time[datetime]')) {
  const d = new Date(t.dateTime);
  if (!Number.isNaN(d.getTime())) {
    t.title = t.dateTime;
    t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }
}

document.addEventListener('click', async (event) => {
  const button = event.target.closest('button');
  if (!button) return;
  if (button.dataset.toggle) {
    const form = document.getElementById(button.dataset.toggle);
    form.hidden = !form.hidden;
    button.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) form.querySelector('textarea, input')?.focus();
    return;
  }
  if (button.hasAttribute('data-logout')) {
    try { await call('POST', '/api/v1/admin/logout'); } catch (_) { /* gone anyway */ }
    location.href = '/admin/login';
    return;
  }
  if (!button.dataset.url) return;
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  const method = button.dataset.method || 'POST';
  const body = button.dataset.body ? JSON.parse(button.dataset.body) : (method === 'DELETE' ? undefined : {});
  button.disabled = true;
  try {
    await call(method, button.dataset.url, body);
    done(`${button.textContent.trim()}: done.`);
  } catch (err) {
    say(err.message, false);
    button.disabled = false;
  }
});

document.addEventListener('change', (event) => {
  if (event.target.matches('[data-select-all]')) {
    for (const box of document.querySelectorAll('input[form="bulk"][name="ids"]')) {
      box.checked = event.target.checked;
    }
  }
});

function fields(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.type === 'submit') continue;
    const value = el.value.trim();
    if (el.hasAttribute('data-number')) {
      if (value !== '') body[el.name] = Number(value);
    } else {
      body[el.name] = value === '' ? null : el.value;
    }
  }
  return body;
}

document.addEventListener('submit', async (event) => {
  const form = event.target;
  const bulk = form.hasAttribute('data-bulk');
  // Forms without data-url (login, filters) work as plain HTML forms.
  if (!bulk && !form.dataset.url) return;
  event.preventDefault();
  const submit = form.querySelector('[type="submit"]');
  let url = form.dataset.url;
  let body;
  if (bulk) {
    const ids = [...document.querySelectorAll('input[form="bulk"][name="ids"]:checked')].map((b) => Number(b.value));
    if (ids.length === 0) {
      say('Select some comments first.', false);
      return;
    }
    const action = form.elements.action.value;
    if (action === 'purge' && !window.confirm(`Delete ${ids.length} comment(s) for good? This cannot be undone.`)) return;
    url = '/api/v1/admin/comments/bulk';
    body = { action, ids };
  } else {
    body = fields(form);
  }
  if (submit) submit.disabled = true;
  try {
    const data = await call(form.dataset.method || 'POST', url, body);
    const failed = bulk ? data.results.filter((r) => r.error).length : 0;
    if (data && data.answer) done(`The SMTP server accepted it: ${data.answer}`);
    else if (data && data.delivery && data.delivery.kind === 'webhook.test') done('Test event queued: it goes out now; its answer shows below.');
    else done(failed ? `Done, except for ${failed} comment(s) that could not take it.` : 'Saved.');
  } catch (err) {
    say(err.message, false);
    if (submit) submit.disabled = false;
  }
});

// Import: the file is the request body; the answer is the summary, shown as text.
function describe(s) {
  const lines = [];
  if (s.dry_run) {
    lines.push('Dry run: nothing was written.');
    for (const [from, to] of s.slugs) lines.push(`  ${from} → ${to}`);
  }
  const verb = s.dry_run ? 'would be ' : '';
  const byStatus = Object.entries(s.comments).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
  const added = Object.values(s.comments).reduce((a, b) => a + b, 0);
  lines.push(`threads: ${s.threads} (${s.threads_created} ${verb}new)`);
  lines.push(`comments: ${added} ${verb}added (${byStatus}), ${s.already_present} already present`);
  lines.push(`reactions: ${s.reactions} ${verb}added`);
  for (const [kind, n] of Object.entries(s.reactions_not_imported)) {
    lines.push(`  ${n} × ${kind} not imported: the site does not offer that reaction`);
  }
  if (s.orphan_replies) lines.push(`replies to a comment missing from the file, at top level: ${s.orphan_replies}`);
  const skipped = Object.values(s.skipped).reduce((a, b) => a + b, 0);
  lines.push(`skipped: ${skipped}`);
  for (const [why, n] of Object.entries(s.skipped)) lines.push(`  ${n} × ${why}`);
  if (s.addresses_dropped) lines.push(`thread addresses not on the site's origins, not kept: ${s.addresses_dropped}`);
  if (s.problem_count) {
    lines.push(`records that could not be imported: ${s.problem_count}`);
    for (const p of s.problems) lines.push(`  ${p.record}: ${p.reason}`);
  }
  if (!s.records_read) lines.push('Nothing could be read: the file holds no record of this format.');
  if (s.strict_stopped) lines.push('Strict: nothing was written, since some records could not be read.');
  return lines.join('\n');
}

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!form.hasAttribute('data-import')) return;
  event.preventDefault();
  const file = form.elements.file.files[0];
  if (!file) return;
  const q = new URLSearchParams({ site: form.elements.site.value, format: form.elements.format.value });
  if (form.elements.slug_from.value.trim()) q.set('slug_from', form.elements.slug_from.value.trim());
  if (form.elements.dry_run.checked) q.set('dry_run', '1');
  if (form.elements.strict.checked) q.set('strict', '1');
  const submit = form.querySelector('[type="submit"]');
  const out = document.getElementById('import-summary');
  submit.disabled = true;
  say(`Importing ${file.name}…`, true);
  try {
    const res = await fetch(`/api/v1/admin/import?${q}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/octet-stream', 'X-CSRF-Token': csrf },
      body: file,
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error((data && data.error && data.error.message) || `The server answered ${res.status}.`);
    out.textContent = describe(data);
    out.hidden = false;
    say(data.dry_run || data.strict_stopped ? 'Nothing was written.' : 'Imported.', true);
  } catch (err) {
    say(err.message, false);
  } finally {
    submit.disabled = false;
  }
});
