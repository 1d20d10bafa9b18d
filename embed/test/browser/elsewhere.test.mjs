// Comments from elsewhere (issue 24): replies to the post's Mastodon announcement and a
// webmention reply, fetched by the real server from stand-ins on loopback, show with their
// handle and an origin mark linking to the original, their author linking to the profile;
// under the thread "Reply on Mastodon" with the likes and reposts there, and the
// webmentions' counts. The browser asks only the blog and the API for anything: no
// remote avatar, nothing from the instance (the request log says so).

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setup, freshSlug, withPage, threadShown, waitText, until, axe } from './harness.mjs';

let world;
let stand;
const routes = new Map();

// A stand-in Mastodon instance and webmention source site: answers GETs by path.
async function startStand() {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const [status, type, body] = routes.get(path) || [404, 'application/json', '{"error":"Record not found"}'];
    res.writeHead(status, { 'Content-Type': type, Connection: 'close' });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

// Mastodon's JSON shapes (its API documentation), as tests/it/federation.rs has them.
const account = (acct) => {
  const [username, instance] = acct.split('@');
  return {
    id: String(acct.length),
    username,
    acct,
    display_name: `${username} (display)`,
    url: `https://${instance}/@${username}`,
    avatar: 'https://files.example/avatar.png',
  };
};
const status = (id, inReplyTo, acct, html, created) => ({
  id,
  uri: `https://${acct.split('@')[1]}/users/x/statuses/${id}`,
  url: `https://${acct.split('@')[1]}/@${acct.split('@')[0]}/${id}`,
  created_at: created,
  edited_at: null,
  in_reply_to_id: inReplyTo,
  in_reply_to_account_id: null,
  visibility: 'public',
  sensitive: false,
  spoiler_text: '',
  content: html,
  account: account(acct),
  favourites_count: 3,
  reblogs_count: 2,
  replies_count: 1,
  media_attachments: [],
  mentions: [],
  tags: [],
  emojis: [],
});
const json = (v) => [200, 'application/json', JSON.stringify(v)];

before(async () => {
  stand = await startStand();
  world = await setup({
    extra: `[outbound]\nallow_private_addresses = true\n\n[federation]\npoll_interval = "1s"\nbluesky_appview = "${stand.base}"\n`,
  });
});
after(async () => {
  await world?.close();
  await stand?.close();
});

// A thread linked to its announcement (status 100 on the stand-in, two replies, one
// nested) with a webmention reply and a webmention like; resolves with the API's page.
async function seedThread(slug) {
  await world.api.post('blog', slug, { body: 'A comment from here', author: 'Local' });
  const now = new Date().toISOString();
  routes.set('/api/v1/statuses/100', json(status('100', null, 'me@blog.example', '<p>New post</p>', now)));
  routes.set(
    '/api/v1/statuses/100/context',
    json({
      ancestors: [],
      descendants: [
        status('201', '100', 'ann@mastodon.example', '<p>Great post</p>', '2026-12-01T10:00:00.000Z'),
        status('202', '201', 'bob@fosstodon.example', '<p>Agreed</p>', '2026-12-01T11:00:00.000Z'),
      ],
    }),
  );
  const target = world.blog.origin + slug;
  routes.set('/reply', [200, 'text/html', `<!doctype html><article class="h-entry">
    <a class="p-author h-card" href="https://carol.example/">Carol</a>
    <p>In reply to <a class="u-in-reply-to" href="${target}">the post</a></p>
    <div class="e-content"><p>Written on my own blog</p></div>
    <time class="dt-published" datetime="2026-11-30T09:00:00Z">Nov 30</time></article>`]);
  routes.set('/like', [200, 'text/html', `<div class="h-entry"><span class="p-author h-card">
    <a class="p-name u-url" href="https://dan.example/">Dan</a></span>
    liked <a class="u-like-of" href="${target}">this</a></div>`]);

  const mod = await world.server.moderator();
  const threads = await mod.call('GET', '/api/v1/admin/threads?site=blog');
  assert.equal(threads.status, 200);
  const thread = threads.json.threads.find((t) => t.slug === slug);
  const linked = await mod.call('PATCH', `/api/v1/admin/threads/${thread.id}`, { fediverse_url: `${stand.base}/@me/100` });
  assert.equal(linked.status, 200, JSON.stringify(linked.json));
  for (const source of ['/reply', '/like']) {
    const r = await fetch(`${world.server.origin}/webmention`, {
      method: 'POST',
      body: new URLSearchParams({ source: stand.base + source, target }),
    });
    assert.equal(r.status, 202);
  }
  return until(
    async () => {
      const page = await world.api.thread('blog', slug);
      const e = page.thread.elsewhere;
      return page.comments.length === 4 && e?.announcement?.likes === 3 && e?.webmentions?.like === 1 && page;
    },
    { message: 'the replies from elsewhere in the thread' },
  );
}

test('comments from elsewhere: handle, origin mark and profile links; Reply on Mastodon with its counts; nothing loaded from elsewhere', async () => {
  const slug = freshSlug('elsewhere');
  const data = await seedThread(slug);
  const byKind = (k) => data.comments.filter((c) => c.origin?.kind === k);
  assert.equal(byKind('mastodon').length, 2);
  const [ann] = byKind('mastodon');
  const [carol] = byKind('webmention');

  await withPage(world, slug, async ({ page, requests }) => {
    await threadShown(page, 4);
    const article = page.locator(`#afterword-comment-${ann.id}`);
    const mark = article.locator('.aw-meta .aw-origin').first();
    await waitText(mark, `via ${ann.origin.label}`);
    assert.equal(ann.origin.label, 'mastodon.example');
    assert.equal(await mark.getAttribute('href'), ann.origin.url);
    assert.equal(await mark.getAttribute('rel'), 'nofollow ugc noopener');
    assert.equal(await article.locator('.aw-meta .aw-handle').first().textContent(), ann.origin.handle);
    const author = article.locator('.aw-meta .aw-author').first();
    assert.equal(await author.getAttribute('href'), 'https://mastodon.example/@ann');
    assert.equal(await author.getAttribute('rel'), 'nofollow ugc noopener');
    // The nested reply sits in its parent's replies, with its own mark.
    await waitText(article.locator('.aw-replies .aw-origin'), 'via fosstodon.example');

    // The webmention: the source's domain, no handle.
    const wm = page.locator(`#afterword-comment-${carol.id}`);
    await waitText(wm.locator('.aw-origin'), `via ${carol.origin.label}`);
    assert.equal(await wm.locator('.aw-origin').getAttribute('href'), `${stand.base}/reply`);
    assert.equal(await wm.locator('.aw-handle').count(), 0);
    assert.equal(await wm.locator('.aw-author').getAttribute('href'), 'https://carol.example/');
    // The local comment has no mark.
    assert.equal(await page.locator('.aw-comment').filter({ hasText: 'A comment from here' }).locator('.aw-origin').count(), 0);

    // Under the thread: the announcement and its counts, the webmentions' counts.
    const reply = page.locator('.aw-elsewhere a.aw-reply-elsewhere');
    await waitText(reply, 'Reply on Mastodon');
    assert.equal(await reply.getAttribute('href'), data.thread.elsewhere.announcement.url);
    assert.equal(await page.locator('.aw-announcement').textContent(), 'Reply on Mastodon3 likes2 reposts');
    assert.equal(await page.locator('.aw-webmentions').textContent(), 'Webmentions1 like');

    // Identicons only: no image anywhere in the section, and the avatar URL never asked for.
    assert.equal(await page.locator('.aw-root img, .aw-root image').count(), 0);
    assert.equal(await page.locator('svg.aw-avatar').count(), 4);
    assert.deepEqual(await axe(page), []);
    // Every request went to the blog or the API (check() asserts it again): the chunk once.
    const hosts = new Set(requests.map((r) => new URL(r.url).origin));
    assert.deepEqual([...hosts].sort(), [world.blog.origin, world.server.origin].sort());
    assert.equal(requests.filter((r) => r.url.endsWith('/embed-elsewhere.js')).length, 1);
  });

  // In German.
  await withPage(world, `${slug}?lang=de`, async ({ page }) => {
    await threadShown(page, 4);
    await waitText(page.locator('.aw-reply-elsewhere'), 'Auf Mastodon antworten');
    await waitText(page.locator('.aw-announcement'), '3 Likes');
    await waitText(page.locator(`#afterword-comment-${ann.id} .aw-origin`).first(), 'über mastodon.example');
  });
});

// Bluesky's JSON shapes (app.bsky.feed.getPostThread), as tests/it/federation.rs has them.
const bsky = (uri, did, handle, text, created) => ({
  uri,
  cid: 'bafyreib2rxk3rh6kzwq',
  author: { did, handle, displayName: `${handle} (display)`, avatar: 'https://cdn.bsky.example/avatar.jpg' },
  record: { $type: 'app.bsky.feed.post', text, facets: [], createdAt: created, langs: ['en'] },
  replyCount: 0,
  repostCount: 4,
  likeCount: 7,
  quoteCount: 0,
  indexedAt: created,
  labels: [],
});
const node = (post, replies) => ({ $type: 'app.bsky.feed.defs#threadViewPost', post, replies });

test('replies on Bluesky: "via Bluesky", the handle, "Reply on Bluesky" with its likes and reposts', async () => {
  const slug = freshSlug('bluesky');
  await world.api.post('blog', slug, { body: 'Local first', author: 'Local' });
  routes.set('/xrpc/com.atproto.identity.resolveHandle', json({ did: 'did:plc:me' }));
  routes.set(
    '/xrpc/app.bsky.feed.getPostThread',
    json({
      thread: node(bsky('at://did:plc:me/app.bsky.feed.post/3kroot', 'did:plc:me', 'me.example.com', 'New post', new Date().toISOString()), [
        node(bsky('at://did:plc:ann/app.bsky.feed.post/3kann', 'did:plc:ann', 'ann.example.com', 'Nice one', '2026-12-01T11:00:00.000Z'), []),
      ]),
    }),
  );
  const mod = await world.server.moderator();
  const threads = await mod.call('GET', '/api/v1/admin/threads?site=blog');
  const thread = threads.json.threads.find((t) => t.slug === slug);
  const linked = await mod.call('PATCH', `/api/v1/admin/threads/${thread.id}`, {
    fediverse_url: 'https://bsky.app/profile/me.example.com/post/3kroot',
  });
  assert.equal(linked.status, 200, JSON.stringify(linked.json));
  const data = await until(
    async () => {
      const page = await world.api.thread('blog', slug);
      return page.comments.length === 2 && page.thread.elsewhere?.announcement?.likes === 7 && page;
    },
    { message: 'the Bluesky reply in the thread' },
  );
  const ann = data.comments.find((c) => c.origin);
  await withPage(world, slug, async ({ page, requests }) => {
    await threadShown(page, 2);
    const article = page.locator(`#afterword-comment-${ann.id}`);
    await waitText(article.locator('.aw-origin'), 'via Bluesky');
    assert.equal(await article.locator('.aw-origin').getAttribute('href'), 'https://bsky.app/profile/ann.example.com/post/3kann');
    assert.equal(await article.locator('.aw-handle').textContent(), '@ann.example.com');
    assert.equal(await article.locator('.aw-author').getAttribute('href'), 'https://bsky.app/profile/did:plc:ann');
    await waitText(page.locator('.aw-reply-elsewhere'), 'Reply on Bluesky');
    assert.equal(await page.locator('.aw-announcement').textContent(), 'Reply on Bluesky7 likes4 reposts');
    assert.equal(await page.locator('.aw-webmentions').count(), 0);
    assert.deepEqual([...new Set(requests.map((r) => new URL(r.url).origin))].sort(), [world.blog.origin, world.server.origin].sort());
  });
});

test('a thread with nothing from elsewhere does not load the chunk', async () => {
  const slug = freshSlug('local-only');
  await world.api.post('blog', slug, { body: 'Only local', author: 'Ann' });
  await withPage(world, slug, async ({ page, requests }) => {
    await threadShown(page, 1);
    assert.equal(await page.locator('.aw-origin, .aw-elsewhere a').count(), 0);
    assert.equal(requests.filter((r) => r.url.includes('/embed-elsewhere.js')).length, 0);
  });
});
