// write.js: what only writing needs, loaded by the section (`own` in thread.js) once a
// reader is in a form or presses Edit, Delete or Follow: preview, sending a form and showing its
// errors (the server's refusals in the reader's language), the edit form, delete. `x` is the section's (thread.js): its state and helpers.
import { errorMessage } from './errors.js';
import { WRITE_KEYS, WRITE_RAW, parse, translator } from './i18n.js';
import { DAY } from './storage.js';

// This chunk's strings (i18n.js), overridable by name as the section's are; one
// translator per section (each has its language).
const say = (x, key) => (x.writeT ||= translator(parse(WRITE_RAW, WRITE_KEYS), x.cfg.lang, x.cfg.strings))(key);

function clearError(form) {
  const box = form.querySelector('.aw-error');
  box.textContent = '';
  for (const f of form.querySelectorAll('[aria-invalid]')) f.removeAttribute('aria-invalid');
  form.lastChild.before(box);
}

// The message goes under the field at fault (focused), else above the buttons.
function showError(form, err, submit) {
  const box = form.querySelector('.aw-error');
  const f = err.field && form.elements[err.field];
  if (f?.closest) {
    f.setAttribute('aria-invalid', 'true');
    f.closest('.aw-field,.aw-check').after(box);
    f.focus();
  } else if (submit) {
    submit.focus();
  }
  box.textContent = err.message;
}

// Runs `send(text)` with the submit button disabled (no double posts); shows the error
// in the form, or hands the answer's data to `done`.
async function submit(x, form, button, send, done) {
  const text = form.elements.body.value;
  if (button.disabled) return;
  clearError(form);
  if (!text.trim()) return showError(form, { message: say(x, 'errEmpty'), field: 'body' });
  button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  const res = await send(text);
  button.disabled = false;
  form.removeAttribute('aria-busy');
  if (x.dead()) return;
  if (res.ok && res.data?.comment) done(res.data, text);
  else showError(form, await refusal(x, res), button);
}

// A reader is in `form`: it gains Preview, the server's rendering of the text (the same
// Markdown and sanitizing as the stored comment), shown under the text.
function enter(x, form) {
  if (form.querySelector('.aw-preview')) return;
  const out = document.createElement('div');
  out.className = 'aw-body aw-preview';
  out.hidden = true;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'aw-btn';
  button.textContent = say(x, 'preview');
  button.setAttribute('aria-expanded', false);
  const box = form.querySelector('.aw-error');
  button.onclick = async () => {
    const open = out.hidden;
    const text = form.elements.body.value;
    if (open && text.trim()) {
      const res = await x.api('POST', 'preview', { query: { site: x.cfg.site }, body: { body: text } });
      if (x.dead()) return;
      if (!res.ok) return (box.textContent = (await refusal(x, res)).message);
      // The server's sanitized HTML, as for a comment.
      out.innerHTML = res.data.html;
    } else if (open) return;
    out.hidden = !open;
    button.setAttribute('aria-expanded', open);
    button.textContent = say(x, open ? 'write' : 'preview');
  };
  form.elements.body.closest('.aw-field').after(out);
  form.querySelector('[type=submit]').after(button);
}

// errorMessage (errors.js), in the reader's language where we have the words: the
// server speaks English; for other languages the words come with a chunk of their own
// (embed-refusals.js, i18n.js's REFUSALS), loaded at the first refusal. A code not there,
// or no chunk, keeps the server's sentence.
async function refusal(x, res) {
  const err = errorMessage(res, x.t);
  const code = res?.data?.error?.code;
  if (code && x.cfg.lang != 'en') {
    const said = (await x.need('refusals').catch(() => 0))?.[x.cfg.lang]?.[code];
    if (said) err.message = said.replace('{max}', x.site().max_length);
  }
  return err;
}

// A new comment, or a reply to `parent`, from the section's form.
function post(x, form, button, parent) {
  const f = form.elements;
  const { store } = x;
  submit(
    x,
    form,
    button,
    (text) => {
      const payload = {
        body: text,
        title: x.cfg.title,
        url: x.cfg.url,
        form_token: x.formToken(),
        parent_id: parent?.id,
        notify_replies: f.notify_replies?.checked,
      };
      // `f`: the id and edit token of an earlier comment from here with this address,
      // kept for a year: proof to the server that the address is this reader's (api.md).
      const { f: proof } = store.get('me').p || {};
      const profile = { e: Date.now() + 365 * DAY, f: proof };
      for (const k of ['author', 'email', 'website', 'homepage']) {
        const v = f[k].value.trim();
        if (v) payload[k] = profile[k] = v;
      }
      if (proof && proof.m == payload.email) payload.proof = { id: proof.i, edit_token: proof.t };
      store.set('me', 'p', profile);
      return x.api('POST', 'comments', { query: x.where, body: payload });
    },
    ({ comment: c, edit_token: tok, confirmation_sent: mail }, text) => {
      store.set(x.DRAFTS, parent ? parent.id : 0);
      const p = store.get('me').p;
      if (tok) {
        store.set(x.TOKENS, c.id, { t: tok, e: Date.now() + x.site().edit_window * 1000, b: text });
        // The first comment with an address is its proof, until one is published at once.
        if (p?.email && (c.status == 'approved' || p.f?.m != p.email)) {
          store.set('me', 'p', { ...p, f: { i: c.id, t: tok, m: p.email } });
        }
      }
      if (c.status === 'pending') {
        if (tok) x.wait(c, tok);
        x.mine().push(c);
      } else {
        if (c.parent_id == null && x.sort() === 'newest') x.comments().unshift(c);
        else x.comments().push(c);
        x.thread().comment_count++;
      }
      if (parent) x.closeReply();
      else f.body.value = '';
      x.renderAll();
      x.focusComment(c.id);
      // Reply mail waits for the address to be confirmed: say where the link went.
      x.status.hidden = !mail;
      x.announce(
        (c.status === 'pending' ? x.t('pending') : say(x, 'posted')) + (mail ? ' ' + (x.status.textContent = say(x, 'inbox')) : ''),
      );
    },
  );
}

function openEdit(x, c) {
  const tok = x.token(c.id);
  if (!tok) return x.renderAll();
  x.closeReply();
  const content = x.els()[c.id].main.lastChild;
  const form = x.buildForm(null, c, tok);
  const body = form.elements.body;
  body.value = tok.b ?? content.querySelector('.aw-body').textContent;
  const button = form.querySelector('[type=submit]');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(
      x,
      form,
      button,
      (text) => x.api('PATCH', 'comments/' + c.id, { token: tok.t, body: { body: text } }),
      ({ comment: d }, text) => {
        x.store.set(x.TOKENS, d.id, { ...tok, b: text });
        // Approved, edited on a moderated site: it waits again, shown to its author.
        if (d.status == 'pending') {
          if (!x.store.get(x.PENDING)[d.id]) x.thread().comment_count--;
          x.wait(d, tok.t);
        }
        x.replaceComment(d.id, d);
        x.renderAll();
        x.focusComment(d.id);
        x.announce(say(x, 'updated'));
      },
    );
  });
  // The comment's own buttons go first: the form brings an .aw-actions too.
  content.querySelector('.aw-actions').remove();
  content.querySelector('.aw-body').replaceWith(form);
  enter(x, form);
  body.focus();
}

// Two presses: the first asks (for 5 s), the second deletes.
async function remove(x, c, del) {
  const { t } = x;
  const tok = x.token(c.id);
  if (!tok) return x.renderAll();
  if (!del.dataset.sure) {
    del.dataset.sure = 1;
    x.announce((del.textContent = say(x, 'confirmDelete')));
    return setTimeout(() => {
      delete del.dataset.sure;
      del.textContent = t('delete');
    }, 5000);
  }
  del.disabled = true;
  const res = await x.api('DELETE', 'comments/' + c.id, { token: tok.t });
  del.disabled = false;
  if (x.dead()) return;
  if (!res.ok && res.status !== 404) {
    return x.els()[c.id].main.lastChild.append(x.errorBox((await refusal(x, res)).message));
  }
  x.forget(c.id);
  const thread = x.thread();
  if (c.status === 'approved') thread.comment_count -= thread.comment_count > 0;
  // A comment with replies stays as a placeholder, as the server keeps it.
  x.replaceComment(c.id, x.allComments().some((y) => y.parent_id === c.id) && { ...c, status: 'deleted' });
  x.renderAll();
  x.heading.focus();
  x.announce(t('deleted'));
}

// "Follow this thread" (the section's button `btn`): a form asking for an address, under
// the button; the server mails a confirmation link (double opt-in), whatever it says.
function follow(x, btn) {
  const { h } = x;
  const old = btn.parentNode.nextSibling;
  if (old?.matches('.aw-follow-form')) return old.elements.email.focus();
  const id = 'aw-follow-' + Date.now();
  const email = h('input', { id, name: 'email', type: 'email', autocomplete: 'email' });
  email.value = x.store.get('me').p?.email || '';
  const submit = h('button', { type: 'submit', class: 'aw-btn aw-primary' }, say(x, 'followSubmit'));
  const form = h(
    'form',
    { class: 'aw-form aw-follow-form', novalidate: true },
    h('div', 'aw-field', h('label', { for: id }, x.t('email')), email),
    x.errorBox(),
    h('div', 'aw-actions', submit, h('button', { type: 'button', class: 'aw-btn', onclick: () => (form.remove(), btn.focus()) }, x.t('cancel'))),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    clearError(form);
    submit.disabled = true;
    const res = await x.api('POST', 'subscriptions', { query: x.where, body: { email: email.value.trim() } });
    submit.disabled = false;
    if (x.dead()) return;
    if (!res.ok) return showError(form, await refusal(x, res), submit);
    const done = h('p', { class: 'aw-status aw-followed', tabindex: -1 }, say(x, 'followed'));
    form.replaceWith(done);
    done.focus();
    x.announce(done.textContent);
  });
  btn.parentNode.after(form);
  email.focus();
}

(window.Afterword ||= {}).write = { enter, post, openEdit, remove, follow };
