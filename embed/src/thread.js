// The comment section: one instance per rendered element. State lives in
// local variables (the minifier shortens them; it cannot shorten properties).
import { request } from './api.js';
import { drawAvatar } from './avatar.js';
import { SORTS } from './config.js';
import { h, safeHttpUrl } from './dom.js';
import { errorMessage } from './errors.js';
import { makeT } from './i18n.js';
import { compact, visitorId } from './reactions.js';
import { duration, exactTime, relativeTime } from './time.js';
import { buildThread } from './tree.js';
import { DAY } from './storage.js';

const PERMALINK = /^#afterword-comment-(\d+)$/;
const PREFIX = 'afterword-comment-';
const MAX_PAGES_FOR_PERMALINK = 5;
const TICK_MS = 15000;
// Used until the server says otherwise.
const SITE_DEFAULTS = { edit_window: 900 };

let uid = 0;

export function mount(el, cfg, base, store) {
  const doc = el.ownerDocument;
  const win = doc.defaultView;
  const { site, slug, lang } = cfg;
  const where = { site, slug };
  const t = makeT(lang, cfg.strings);
  const api = (method, path, opts) => request(base, method, path, opts);
  const now = () => Date.now();
  // localStorage keys (see storage.js)
  const TOKENS = 'tokens:' + site;
  const PENDING = `pending:${site}:${slug}`;
  const DRAFTS = `draft:${site}:${slug}`;
  const token = (id) => store.get(TOKENS)[id];
  // Keeps an own pending comment (with its token) to show its author for 30 days.
  const wait = (c, t) => store.set(PENDING, c.id, { t, e: now() + 30 * DAY, c });
  const forget = (id) => {
    store.set(TOKENS, id);
    store.set(PENDING, id);
  };

  let thread; // the API's thread object, once loaded
  let siteInfo = SITE_DEFAULTS;
  let comments = []; // approved comments and deleted placeholders, server order
  let mine = []; // own pending comments (localStorage, confirmed by /mine)
  let rx = {}; // reactions by target (0: the post, else comment id): {reactions, mine}
  let next;
  let formToken; // from the thread's answer, sent back with a new comment (spam checks)
  let sort = cfg.sort;
  let highlighted;
  let reply; // the open reply form: {id, form}
  let els = {}; // comment id → {article, main, reply, edit}
  let dead = false;
  let observer;
  let announceTimer;
  let far; // the chunk for comments from elsewhere (elsewhere.js), once loaded

  const button = (cls, label, onclick, type = 'button') =>
    h('button', { type, class: 'aw-btn ' + cls, onclick }, label);

  // ---- skeleton -------------------------------------------------------
  const live = h('div', { class: 'aw-live aw-sr', 'aria-live': 'polite' });
  const heading = h('h2', { class: 'aw-heading', tabindex: -1, hidden: true });
  const sortId = 'aw-' + ++uid;
  const sortSelect = h(
    'select',
    { id: sortId, name: 'sort', onchange: () => changeSort(sortSelect.value) },
    SORTS.map((s) => h('option', { value: s, selected: s === sort }, t(s))),
  );
  const sortBox = h('div', { class: 'aw-sort', hidden: true }, h('label', { for: sortId }, t('sort')), sortSelect);
  const status = h('p', { class: 'aw-status', hidden: true });
  const formSlot = h('div');
  const empty = h('p', { class: 'aw-empty', hidden: true }, t('empty'));
  const list = h('div', 'aw-list');
  const more = button('aw-more', t('more'), loadMore);
  more.hidden = true;
  // Follow this thread (its form is the write chunk's), the thread's Atom feed.
  const follow = button('aw-link aw-follow', t('follow'), () => own('follow', follow));
  follow.hidden = true;
  const foot = h(
    'div',
    'aw-actions aw-foot',
    follow,
    h('a', { href: `${base}feeds/${site}/thread.atom?slug=${encodeURIComponent(slug)}`, type: 'application/atom+xml' }, 'Atom'),
  );
  // The announcement elsewhere and its counts (elsewhere.js).
  const farSlot = h('div');
  const postBar = h('div');
  const root = h(
    'div',
    { class: 'aw-root', lang },
    live,
    postBar,
    h('div', 'aw-head', heading, sortBox),
    status,
    formSlot,
    empty,
    list,
    more,
    farSlot,
    foot,
  );
  // auto: the page's own background decides (the first opaque one behind the section),
  // else the reader's system setting (style.css). Again once the page has loaded: its
  // stylesheets may come after this script.
  const paintTheme = () => {
    let theme = cfg.theme;
    for (let n = el; theme == 'auto' && n?.nodeType == 1; n = n.parentNode) {
      const [r, g, b, a] = win.getComputedStyle(n).backgroundColor.match(/[\d.]+/g) || [];
      if (a != 0) theme = r * 0.3 + g * 0.59 + b * 0.11 < 128 ? 'dark' : 'light';
    }
    root.dataset.theme = theme;
  };
  paintTheme();
  win.addEventListener('load', paintTheme);
  // The server's HTML of the thread (api.md, "Comments without JavaScript"): shown until
  // ours replaces it, its data standing for the first fetch.
  const pre = el.querySelector('.aw-data');
  if (!pre) el.replaceChildren(root);

  function announce(msg) {
    // Emptied first, so the same sentence twice is read out twice.
    live.textContent = '';
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => (live.textContent = msg), 50);
  }

  // ---- loading ---------------------------------------------------------
  const fetchPage = (after) => api('GET', 'comments', { query: { ...where, sort, after } });
  const pageOk = (res) => res.ok && Array.isArray(res.data?.comments);

  function applyPage({ data, f }) {
    formToken = f;
    thread = data.thread || { comment_count: 0 };
    siteInfo = { ...SITE_DEFAULTS, ...data.site };
    next = data.next;
  }

  async function load() {
    // Own reactions only for a reader who ever reacted (has a visitor id).
    const vid = visitorId(store);
    const [res, , own] = await Promise.all([
      pre?.dataset.sort == sort ? { ok: 1, data: JSON.parse(pre.text), f: pre.dataset.f } : fetchPage(),
      checkMine(),
      vid && api('GET', 'reactions', { query: { ...where, visitor: vid } }),
    ]);
    if (dead) return;
    const d = own?.data || {};
    rx = { ...d.comments, 0: d.post };
    status.hidden = pageOk(res);
    if (!status.hidden) return (status.textContent = t('loadError'));
    applyPage(res);
    comments = res.data.comments;
    heading.hidden = sortBox.hidden = 0;
    formSlot.replaceChildren(thread.locked ? h('p', 'aw-locked', t('locked')) : buildForm());
    renderAll();
    root.isConnected || el.replaceChildren(root);
    // A permalink: load a few more pages if needed, then show it.
    const m = PERMALINK.exec(win.location.hash);
    if (m) {
      for (let i = 0; i < MAX_PAGES_FOR_PERMALINK && !els[m[1]] && next; i++) {
        if (!(await loadMore())) break;
      }
      highlighted = +m[1];
      renderAll();
      els[highlighted]?.article.scrollIntoView({ block: 'center' });
    }
  }

  // Own pending comments: shown from localStorage at once, then checked with
  // the server: still pending → kept; approved → shown like any other
  // comment; absent (refused or deleted) → forgotten.
  async function checkMine() {
    const pend = Object.values(store.get(PENDING))
      .filter((p) => p.c && p.t)
      .slice(0, 100);
    mine = pend.map((p) => p.c);
    if (!pend.length) return;
    const res = await api('POST', 'comments/mine', {
      query: where,
      body: { comments: mine.map((c, i) => ({ id: c.id, edit_token: pend[i].t })) },
    });
    if (!pageOk(res)) return; // unreachable: keep showing the local copies
    mine = [];
    for (const p of pend) {
      const c = res.data.comments.find((x) => x.id === p.c.id);
      if (!c) forget(p.c.id);
      else if (c.status !== 'pending') store.set(PENDING, c.id);
      else {
        store.set(PENDING, c.id, { ...p, c });
        mine.push(c);
      }
    }
  }

  let loadingMore;
  async function loadMore() {
    // A flag rather than `disabled`, which would take the focus away.
    if (!next || loadingMore) return;
    loadingMore = 1;
    const res = await fetchPage(next);
    loadingMore = 0;
    if (dead) return;
    if (!pageOk(res)) return announce(errorMessage(res, t).message);
    const fresh = res.data.comments.filter((c) => !comments.some((x) => x.id === c.id));
    comments = comments.concat(fresh);
    next = res.data.next;
    const hadFocus = doc.activeElement === more;
    renderAll();
    announce(t('count', { n: fresh.length }));
    // The button is gone: go on with the first new comment.
    if (hadFocus && !next && fresh[0]) focusComment(fresh[0].id);
    return true;
  }

  async function changeSort(value) {
    sort = value;
    const res = await fetchPage();
    if (dead || !pageOk(res)) return;
    applyPage(res);
    comments = res.data.comments;
    renderAll();
  }

  // ---- rendering -------------------------------------------------------
  // The thread plus own pending comments not in it; pending top-level ones
  // go first when the newest are on top.
  function allComments() {
    const extra = mine.filter((c) => !comments.some((x) => x.id === c.id));
    const first = sort === 'newest' ? extra.filter((c) => c.parent_id == null) : [];
    return first.concat(
      comments,
      extra.filter((c) => !first.includes(c)),
    );
  }

  function renderAll() {
    const all = allComments();
    // Comments from elsewhere, or an announcement: their marks come with a chunk.
    if (!far && (thread.elsewhere || all.some((c) => c.origin))) {
      need('elsewhere').then(
        (f) => {
          far = f;
          dead || renderAll();
        },
        () => {}, // unreachable: shown without the marks
      );
    }
    farSlot.replaceChildren(far?.foot(x) || '');
    follow.hidden = !siteInfo.notifications;
    heading.textContent = t('count', { n: thread.comment_count });
    empty.hidden = all.length;
    postBar.replaceChildren(bar(0, thread));
    els = {};
    list.replaceChildren(...buildThread(all).map((n) => renderNode(n)));
    more.hidden = !next;
    // An open reply form survives a re-render while its comment is shown.
    if (reply) {
      if (els[reply.id]) els[reply.id].main.after(reply.form);
      else reply = null;
    }
  }

  function renderNode(node) {
    const c = node.comment;
    const id = c.id;
    const deleted = c.status === 'deleted';
    const pending = c.status === 'pending';
    const created = new Date(c.created_at);
    const href = safeHttpUrl(c.website);
    const name = c.author || t('anonymous');
    const e = {};
    const tok = !deleted && token(id);

    const body = h('div', 'aw-body');
    // The server's sanitized HTML: the only string ever given to innerHTML.
    if (deleted) body.textContent = t('deleted');
    else body.innerHTML = c.html;

    const actions = h('div', 'aw-actions');
    if (!deleted && !pending && !thread.locked) {
      actions.append((e.reply = button('aw-link', t('reply'), () => openReply(c))));
    }
    if (tok) {
      const del = button('aw-link', t('delete'), () => own('remove', c, del));
      actions.append(
        (e.edit = button('aw-link', t('edit'), () => own('openEdit', c))),
        del,
        h('span', { class: 'aw-edit-left', 'data-until': tok.e }, editLeft(tok.e)),
      );
    }

    e.main = h(
      'div',
      'aw-main',
      drawAvatar(doc, deleted ? '' : c.avatar),
      h(
        'div',
        'aw-content',
        h(
          'div',
          'aw-meta',
          !deleted && h(href ? 'a' : 'span', { class: 'aw-author', href, rel: href && 'nofollow ugc noopener' }, name),
          !deleted && c.origin && far?.mark(x, c),
          c.moderator && !deleted && h('span', 'aw-mod', t('moderator')),
          node.replyTo &&
            h(
              'a',
              { class: 'aw-reply-to', href: '#' + PREFIX + node.replyTo.id },
              t('inReplyTo', { name: node.replyTo.author || t('anonymous') }),
            ),
          h(
            'a',
            { class: 'aw-permalink', href: '#' + PREFIX + id },
            isNaN(created)
              ? '#'
              : h(
                  'time',
                  { class: 'aw-time', datetime: c.created_at, title: exactTime(created, lang) },
                  relativeTime(created, now(), lang),
                ),
          ),
          c.edited_at && !deleted && h('span', 'aw-edited', t('edited')),
          pending && h('span', 'aw-pending-note', t('pending')),
        ),
        body,
        !deleted && !pending && bar(id, c),
        actions.firstChild && actions,
      ),
    );
    const cls =
      'aw-comment' + (pending ? ' aw-pending' : '') + (deleted ? ' aw-deleted' : '') + (highlighted === id ? ' aw-highlight' : '');
    e.article = h(
      'article',
      { class: cls, id: PREFIX + id, 'data-id': id, tabindex: -1 },
      e.main,
      node.replies[0] &&
        h(
          'div',
          'aw-replies',
          node.replies.map((n) => renderNode(n)),
        ),
    );
    els[id] = e;
    return e.article;
  }

  // ---- reactions -------------------------------------------------------
  // A bar with every kind, on the post (key 0) or on a comment. Optimistic:
  // a press counts at once and is put back, with a message, if the server
  // says no. Buttons change in place, so the focus stays put.
  // Only the kinds given (or pressed by this reader) show, plus one button that opens
  // the picker: every kind of the site.
  function bar(key, obj) {
    const note = errorBox();
    let open;
    // This target's {reactions, mine}, as the reactions API answers it.
    const st = () => (rx[key] ||= { reactions: obj.reactions });
    const has = (s, k) => [].concat(s.mine).includes(k);
    const paint = () =>
      btns.map((b, i) => {
        const k = siteInfo.reactions[i];
        const s = st();
        b.setAttribute('aria-pressed', has(s, k));
        b.textContent = k + ' ' + compact(s.reactions?.[k], lang);
        b.hidden = !open && !s.reactions?.[k] && !has(s, k);
      });
    const btns = (siteInfo.reactions || []).map((k) =>
      button('aw-react', '', async () => {
        const was = st();
        const on = !has(was, k);
        const mine = [].concat(was.mine).filter((x) => x && x != k);
        rx[key] = {
          reactions: { ...was.reactions, [k]: (was.reactions?.[k] | 0) + on * 2 - 1 },
          mine: on ? [...mine, k] : mine,
        };
        paint();
        const res = await api('POST', 'reactions', {
          query: where,
          body: { kind: k, comment_id: key || null, visitor: visitorId(store, 1), active: on },
        });
        const d = res.ok && res.data;
        rx[key] = d || was;
        note.textContent = d ? '' : errorMessage(res, t).message;
        paint();
      }),
    );
    const pick = button('aw-react aw-pick', '\u263a+', () => {
      pick.setAttribute('aria-expanded', (open = !open));
      paint();
    });
    pick.setAttribute('aria-label', t('react'));
    pick.setAttribute('aria-expanded', false);
    paint();
    return h('div', 'aw-actions aw-reacts', btns, pick, note);
  }

  const editLeft = (until) => t('editLeft', { time: duration(until - now(), lang) });

  // Edit countdowns move on; an expired edit window takes its buttons away
  // (unless an edit form is open: the server will answer that one).
  // Relative times move on too, while the page stays open.
  const ticker = setInterval(() => {
    let expired;
    for (const s of root.querySelectorAll('.aw-time')) s.textContent = relativeTime(new Date(s.dateTime), now(), lang);
    for (const s of root.querySelectorAll('.aw-edit-left')) {
      const until = +s.dataset.until;
      if (until > now()) s.textContent = editLeft(until);
      else expired = 1;
    }
    if (expired && !root.querySelector('.aw-edit-form')) renderAll();
  }, TICK_MS);

  const focusComment = (id) => els[id]?.article.focus();

  // ---- forms -----------------------------------------------------------
  const field = (id, label, control, hint) => h('div', 'aw-field', h('label', { for: id }, label), control, hint);

  const errorBox = (text) => h('p', { class: 'aw-error', role: 'alert' }, text);

  // The write chunk (write.js) posts the form, a comment or a reply to `parent`. It
  // loads once the reader is in a form.
  const onSubmit = (form, submit, parent) => {
    form.addEventListener('focusin', () => own('enter', form));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      own('post', form, submit, parent);
    });
  };

  // The comment form: new (no arguments), reply (`parent`), or edit (`edited`,
  // with its token entry `tok`: only the textarea, Save and Cancel).
  function buildForm(parent, edited, tok) {
    const id = 'aw-' + ++uid;
    const parentId = parent ? parent.id : 0;
    const me = store.get('me').p || {};
    const body = h('textarea', { id: id + 'b', name: 'body', rows: 4, 'aria-describedby': id + 'h' });
    const input = (name, type, label, placeholder) => {
      const i = h('input', { id: id + name, name, type, placeholder, autocomplete: name === 'author' ? 'name' : type });
      i.value = me[name] || '';
      return field(id + name, label, i);
    };
    const submit = button('aw-primary', t(edited ? 'save' : 'post'), null, 'submit');
    const form = h(
      'form',
      { class: edited ? 'aw-edit-form' : 'aw-form', novalidate: true },
      field(id + 'b', t('comment'), body, h('p', { class: 'aw-hint', id: id + 'h' }, t('markdown'))),
      !edited &&
        h(
          'div',
          'aw-fields',
          input('author', 'text', t('name')),
          input('email', 'email', t('email'), t('emailHint')),
          input('website', 'url', t('website'), 'https://'),
          // A honeypot: out of sight and out of the tab order; people leave it empty.
          h('input', { name: 'homepage', class: 'aw-sr', tabindex: -1, 'aria-hidden': 'true' }),
        ),
      !edited &&
        siteInfo.notifications &&
        h(
          'div',
          'aw-check',
          h('input', { type: 'checkbox', id: id + 'n', name: 'notify_replies' }),
          h('label', { for: id + 'n' }, t('notify')),
        ),
      errorBox(),
      h(
        'div',
        'aw-actions',
        submit,
        (parent || edited) &&
          button('', t('cancel'), () => {
            if (parent) return closeReply(true);
            renderAll();
            els[edited.id].edit.focus();
          }),
      ),
    );
    form.addEventListener('input', (ev) => ev.target.removeAttribute('aria-invalid'));

    // Its text and its submit: the write chunk's (write.js).
    if (edited) return form;

    body.value = store.get(DRAFTS)[parentId]?.b || '';
    body.addEventListener('input', () =>
      store.set(DRAFTS, parentId, body.value.trim() && { b: body.value, e: now() + 30 * DAY }),
    );
    onSubmit(form, submit, parent);
    return form;
  }

  function openReply(c) {
    if (reply?.id === c.id) return reply.form.elements.body.focus();
    closeReply();
    reply = { id: c.id, form: buildForm(c) };
    els[c.id].main.after(reply.form);
    reply.form.elements.body.focus();
  }

  function closeReply(refocus) {
    if (!reply) return;
    const { id, form } = reply;
    reply = null;
    form.remove();
    const e = els[id];
    if (refocus) e?.reply?.focus();
  }

  // Puts `c` in the place of comment `id`; a false `c` takes it out.
  function replaceComment(id, c) {
    const swap = (arr) => arr.flatMap((x) => (x.id === id ? c || [] : x));
    comments = swap(comments);
    mine = swap(mine);
  }

  // ---- own comments: edit and delete live in a chunk loaded on first use ----
  // embed-NAME.js, once: it sets window.Afterword[NAME].
  const chunks = {};
  const need = (name) =>
    (chunks[name] ||= new Promise((ok, no) =>
      doc.head.append(h('script', { src: `${base}embed-${name}.js`, onload: () => ok(win.Afterword[name]), onerror: no })),
    ));
  // What the chunks may use of this section (see write.js, elsewhere.js).
  const x = {
    t, api, store, token, forget, wait, announce, renderAll, closeReply, buildForm,
    errorBox, replaceComment, allComments, focusComment, heading, status, cfg, where, h, need,
    TOKENS, PENDING, DRAFTS,
    els: () => els,
    thread: () => thread,
    dead: () => dead,
    // Arrays are changed in place; the rest only read.
    comments: () => comments,
    mine: () => mine,
    sort: () => sort,
    site: () => siteInfo,
    formToken: () => formToken,
  };
  const own = async (name, ...args) => (await need('write'))[name]?.(x, ...args);

  // ---- start: only when the section comes near the viewport -------------
  if (pre || /^#afterword/.test(win.location.hash)) {
    load();
  } else {
    observer = new win.IntersectionObserver(
      (entries) => {
        if (entries.some((x) => x.isIntersecting)) {
          observer.disconnect();
          observer = 0;
          load();
        }
      },
      { rootMargin: '800px 0px' },
    );
    observer.observe(el);
  }

  return {
    destroy() {
      dead = true;
      observer?.disconnect();
      clearInterval(ticker);
      clearTimeout(announceTimer);
      root.remove();
    },
  };
}
