// write.js: what only writing needs, loaded by the section (`own` in thread.js) once a
// reader is in a form or presses Edit or Delete: preview, sending a form and showing its
// errors (the server's refusals in the reader's language), the edit form, delete. `x` is the section's (thread.js): its state and helpers.
import { errorMessage } from './errors.js';
import { DAY } from './storage.js';

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
  if (!text.trim()) return showError(form, { message: x.t('errEmpty'), field: 'body' });
  button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  const res = await send(text);
  button.disabled = false;
  form.removeAttribute('aria-busy');
  if (x.dead()) return;
  if (res.ok && res.data?.comment) done(res.data, text);
  else showError(form, refusal(x, res), button);
}

// The preview's words, for the chunk alone (data-strings `preview` and `write` override).
const WORDS = {
  en: ['Preview', 'Write'],
  de: ['Vorschau', 'Schreiben'],
  fr: ['Aperçu', 'Écrire'],
  es: ['Vista previa', 'Escribir'],
  zh: ['预览', '编辑'],
};

// A reader is in `form`: it gains Preview, the server's rendering of the text (the same
// Markdown and sanitizing as the stored comment), shown under the text.
function enter(x, form) {
  if (form.querySelector('.aw-preview')) return;
  const word = (k, i) => {
    const s = x.t(k);
    return s == k ? (WORDS[x.cfg.lang] || WORDS.en)[i] : s;
  };
  const out = document.createElement('div');
  out.className = 'aw-body aw-preview';
  out.hidden = true;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'aw-btn';
  button.textContent = word('preview', 0);
  button.setAttribute('aria-expanded', false);
  const box = form.querySelector('.aw-error');
  button.onclick = async () => {
    const open = out.hidden;
    const text = form.elements.body.value;
    if (open && text.trim()) {
      const res = await x.api('POST', 'preview', { query: { site: x.cfg.site }, body: { body: text } });
      if (x.dead()) return;
      if (!res.ok) return (box.textContent = refusal(x, res).message);
      // The server's sanitized HTML, as for a comment.
      out.innerHTML = res.data.html;
    } else if (open) return;
    out.hidden = !open;
    button.setAttribute('aria-expanded', open);
    button.textContent = word(open ? 'write' : 'preview', +open);
  };
  form.elements.body.closest('.aw-field').after(out);
  form.querySelector('[type=submit]').after(button);
}

// The server's refusals a reader meets while writing, in their language (the server
// speaks English, which is kept for the codes not here). Keys are error codes; `{max}` is
// the site's longest comment.
const REFUSALS = {
  de: {
    empty: 'Bitte schreiben Sie einen Kommentar.',
    too_long: 'Höchstens {max} Zeichen.',
    invalid_email: 'Diese E-Mail-Adresse ist ungültig.',
    invalid_url: 'Die Website muss mit http:// oder https:// beginnen.',
    email_required: 'Für Benachrichtigungen wird eine E-Mail-Adresse benötigt.',
    reserved_name: 'Dieser Name ist den Moderatoren vorbehalten.',
    thread_locked: 'Kommentare sind geschlossen.',
    banned: 'Kommentare von Ihnen werden hier nicht angenommen.',
    rate_limited: 'Zu viele Anfragen; bitte gleich noch einmal versuchen.',
  },
  fr: {
    empty: 'Veuillez écrire un commentaire.',
    too_long: '{max} caractères au plus.',
    invalid_email: 'Cette adresse e-mail n’est pas valide.',
    invalid_url: 'Le site doit commencer par http:// ou https://.',
    email_required: 'Les notifications demandent une adresse e-mail.',
    reserved_name: 'Ce nom est réservé aux modérateurs.',
    thread_locked: 'Les commentaires sont fermés.',
    banned: 'Vos commentaires ne sont pas acceptés sur ce site.',
    rate_limited: 'Trop de requêtes ; réessayez dans un instant.',
  },
  es: {
    empty: 'Escribe un comentario.',
    too_long: 'Como máximo {max} caracteres.',
    invalid_email: 'Esta dirección de correo no es válida.',
    invalid_url: 'El sitio web debe empezar por http:// o https://.',
    email_required: 'Las notificaciones necesitan una dirección de correo.',
    reserved_name: 'Este nombre está reservado a los moderadores.',
    thread_locked: 'Los comentarios están cerrados.',
    banned: 'No se aceptan tus comentarios en este sitio.',
    rate_limited: 'Demasiadas solicitudes; inténtalo de nuevo en un momento.',
  },
  zh: {
    empty: '请先写下评论。',
    too_long: '最多 {max} 个字符。',
    invalid_email: '邮箱地址无效。',
    invalid_url: '网址须以 http:// 或 https:// 开头。',
    email_required: '接收通知需要填写邮箱。',
    reserved_name: '此名称为版主保留。',
    thread_locked: '评论已关闭。',
    banned: '本站不接受你的评论。',
    rate_limited: '请求过多，请稍后再试。',
  },
};

// errorMessage (errors.js), in the reader's language where we have the words.
function refusal(x, res) {
  const err = errorMessage(res, x.t);
  const said = REFUSALS[x.cfg.lang]?.[res?.data?.error?.code];
  if (said) err.message = said.replace('{max}', x.site().max_length);
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
      x.announce(x.t(c.status === 'pending' ? 'pending' : 'posted') + (mail ? ' ' + (x.status.textContent = x.t('inbox')) : ''));
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
        x.announce(x.t('updated'));
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
    x.announce((del.textContent = t('confirmDelete')));
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
    return x.els()[c.id].main.lastChild.append(x.errorBox(refusal(x, res).message));
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

(window.Afterword ||= {}).w = { enter, post, openEdit, remove };
