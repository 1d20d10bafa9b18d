// Browser-test harness: the real Afterword binary on a free port over a temp SQLite file,
// a static "blog" on another origin (http://localhost:PORT, while the API is
// http://127.0.0.1:PORT), headless Chromium, and per-page watchers that fail a test on a
// page error, a dialog, a CSP violation or a request to any third origin.
//
// Nothing here sleeps for a fixed time: everything waits on a condition.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import net from 'node:net';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { renderPost, renderIndex, BLOG_CSS } from './fixtures/pages.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..', '..');
export const BIN = process.env.AFTERWORD_BIN || join(ROOT, 'target', 'debug', 'afterword');
export const CHROMIUM = process.env.AFTERWORD_TEST_CHROMIUM || '/usr/bin/chromium';

// Polls `fn` until it returns something truthy (returned), or fails after `timeout` ms
// with `message` and the last value seen. For conditions playwright cannot wait on.
export async function until(fn, { timeout = 20000, interval = 25, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${message}; last value: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

// ---------------------------------------------------------------------------------------
// The static blog, on its own origin.

// Serves fixture pages on http://localhost:PORT. `api` (the comments server's origin) is
// set once that server runs, since its config needs this origin first.
export async function startBlog() {
  const state = { api: null };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const q = Object.fromEntries(url.searchParams);
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
      res.end(body);
    };
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    if (url.pathname === '/blog.css') return send(200, 'text/css; charset=utf-8', BLOG_CSS);
    if (url.pathname.startsWith('/index/')) {
      return send(200, 'text/html; charset=utf-8', renderIndex(state.api, q));
    }
    // Every other path is a post page; its path is the thread's slug.
    const headers = {};
    if (q.csp) {
      headers['Content-Security-Policy'] =
        `default-src 'self'; script-src 'self' ${state.api}; connect-src 'self' ${state.api}; ` +
        `img-src 'self' data:; style-src 'self'`;
    }
    if (!q.ssi) return send(200, 'text/html; charset=utf-8', renderPost(state.api, url.pathname, q), headers);
    // `?ssi=1`: the thread's HTML fragment put into the page as it is served, as nginx's
    // SSI or Caddy's templates do.
    const page = `http://${req.headers.host}${req.url}`;
    const query = new URLSearchParams({ site: q.site || 'blog', slug: url.pathname, url: page });
    if (q.lang) query.set('lang', q.lang);
    fetch(`${state.api}/api/v1/comments.html?${query}`)
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`fragment: ${r.status}`))))
      .then(
        (fragment) => send(200, 'text/html; charset=utf-8', renderPost(state.api, url.pathname, q, fragment), headers),
        (e) => send(502, 'text/plain', String(e)),
      );
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://localhost:${server.address().port}`;
  return {
    origin,
    setApi(api) {
      state.api = api;
    },
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

// ---------------------------------------------------------------------------------------
// The comments server.

const DEFAULT_SITES = (blog) => [
  { id: 'blog', origins: [blog], moderation: 'none', edit_window: '15m' },
  { id: 'moderated', origins: [blog], moderation: 'all', edit_window: '15m' },
  { id: 'short', origins: [blog], moderation: 'none', edit_window: '15m', max_comment_length: 200 },
  { id: 'firsttime', origins: [blog], moderation: 'first-time', edit_window: '15m' },
];

function toml(v) {
  if (Array.isArray(v)) return `[${v.map(toml).join(', ')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

// Starts `afterword serve`. With `config: false` no file is given at all (the zero-config
// start), only AFTERWORD_DATABASE_URL and AFTERWORD_LISTEN.
// `spam`: the [spam] table. By default the form token is required, as in production, but
// with no minimum age (tests post within a second of loading) and no duplicate check
// (tests post the same words often); spam.test.mjs sets its own.
// `smtp`: an [smtp] table (email is off without it). `extra`: more tables, as TOML text.
export async function startServer({ blogOrigin, sites, limits = {}, spam = {}, smtp, extra = '', config = true, env = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'afterword-browser-'));
  const dbPath = join(dir, 'test.db');
  const args = ['serve'];
  let configFile = null;
  const childEnv = { ...process.env, RUST_LOG: 'info', NO_COLOR: '1', ...env };
  delete childEnv.AFTERWORD_CONFIG;
  delete childEnv.AFTERWORD_PUBLIC_URL;
  if (config) {
    const lines = ['listen = "127.0.0.1:0"', `database_url = "sqlite://${dbPath}"`, ''];
    for (const s of sites || DEFAULT_SITES(blogOrigin)) {
      lines.push('[[site]]');
      for (const [k, v] of Object.entries(s)) lines.push(`${k} = ${toml(v)}`);
      lines.push('');
    }
    const lim = { comments_per_ip_per_minute: 0, reactions_per_ip_per_minute: 0, ...limits };
    lines.push('[limits]', ...Object.entries(lim).map(([k, v]) => `${k} = ${toml(v)}`), '');
    const sp = { min_seconds: 0, duplicates: '0s', ...spam };
    lines.push('[spam]', ...Object.entries(sp).map(([k, v]) => `${k} = ${toml(v)}`), '');
    if (smtp) lines.push('[smtp]', ...Object.entries(smtp).map(([k, v]) => `${k} = ${toml(v)}`), '');
    lines.push(extra);
    const file = join(dir, 'afterword.toml');
    writeFileSync(file, lines.join('\n'));
    args.push('--config', file);
    configFile = file;
    delete childEnv.AFTERWORD_LISTEN;
    delete childEnv.AFTERWORD_DATABASE_URL;
  } else {
    childEnv.AFTERWORD_DATABASE_URL = `sqlite://${dbPath}`;
    childEnv.AFTERWORD_LISTEN = '127.0.0.1:0';
  }
  if (!existsSync(BIN)) throw new Error(`no server binary at ${BIN}: run cargo build`);
  const child = spawn(BIN, args, { cwd: dir, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  // Should this test process die (a timeout, a crash), the server dies with it.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  let log = '';
  let found = false;
  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${log}`)), 30000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (found) return;
      // The whole line, so a chunk boundary cannot cut the address short.
      const m = /Afterword is listening.*?addr=(\S+).*\n/.exec(log);
      if (m) {
        found = true;
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${log}`));
    });
  });
  let addr;
  try {
    addr = await listening;
  } catch (e) {
    child.kill('SIGKILL');
    process.removeListener('exit', reap);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const origin = `http://${addr}`;
  const server = {
    origin,
    dbPath,
    log: () => log,
    // Runs SQL on the server's database file (for what no API does: backdating, say).
    sql(statement) {
      return sqlite(dbPath, statement);
    },
    // Creates a moderator account with the CLI, as a blogger would.
    createAdmin(username, password, display = username) {
      if (!configFile) throw new Error('createAdmin needs a config file');
      return execFileSync(BIN, ['admin', 'create', username, '--name', display, '--config', configFile], {
        input: `${password}\n`,
        encoding: 'utf8',
        env: childEnv,
      });
    },
    // A moderator logged in to the admin JSON API (an account is made on first use).
    async moderator() {
      if (!this.moderatorSession) {
        this.createAdmin('ci-moderator', 'ci moderator password', 'CI Moderator');
        const res = await fetch(`${origin}/api/v1/admin/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username: 'ci-moderator', password: 'ci moderator password' }),
        });
        assert.equal(res.status, 200, 'moderator login');
        const cookie = res.headers.get('set-cookie').split(';')[0];
        const { csrf_token: csrf } = await res.json();
        this.moderatorSession = { cookie, csrf };
      }
      const { cookie, csrf } = this.moderatorSession;
      return {
        // Any admin API request: {status, json}.
        async call(method, path, body) {
          const res = await fetch(origin + path, {
            method,
            headers: { Cookie: cookie, 'X-CSRF-Token': csrf, ...(body ? { 'Content-Type': 'application/json' } : {}) },
            body: body ? JSON.stringify(body) : undefined,
          });
          return { status: res.status, json: await res.json().catch(() => null) };
        },
        async act(id, action) {
          const res = await fetch(`${origin}/api/v1/admin/comments/${id}/${action}`, {
            method: 'POST',
            headers: { Cookie: cookie, 'X-CSRF-Token': csrf },
          });
          assert.equal(res.status, 200, `${action} comment ${id}: ${await res.text()}`);
        },
      };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      process.removeListener('exit', reap);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

function sqlite(path, statement) {
  try {
    return execFileSync('sqlite3', ['-cmd', '.timeout 5000', path, statement], { encoding: 'utf8' });
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
    // No sqlite3 CLI: python3's sqlite3 module does the same.
    const py = 'import sqlite3,sys\nc=sqlite3.connect(sys.argv[1],timeout=5)\n' +
      'r=c.execute(sys.argv[2]).fetchall()\nc.commit()\nprint("\\n".join("|".join(map(str,x)) for x in r))';
    try {
      return execFileSync('python3', ['-c', py, path, statement], { encoding: 'utf8' });
    } catch (e2) {
      if (e2.code === 'ENOENT') throw new Error('this test edits the database directly: it needs the sqlite3 CLI (apt-get install -y sqlite3) or python3');
      throw e2;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The public API, from node, for seeding.

export function api(origin) {
  const call = async (method, path, body, headers = {}) => {
    const res = await fetch(origin + path, {
      method,
      headers: body ? { 'Content-Type': 'application/json', ...headers } : headers,
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, json, headers: res.headers };
  };
  const q = (site, slug) => `site=${encodeURIComponent(site)}&slug=${encodeURIComponent(slug)}`;
  return {
    call,
    // Seeds a comment the way the embed posts one: with the form token of the thread.
    async post(site, slug, comment) {
      const form = await call('GET', `/api/v1/comments?${q(site, slug)}`);
      const form_token = form.headers.get('afterword-form') || undefined;
      const r = await call('POST', `/api/v1/comments?${q(site, slug)}`, { form_token, ...comment });
      assert.equal(r.status, 201, `seeding a comment: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json;
    },
    async thread(site, slug, extra = '') {
      const r = await call('GET', `/api/v1/comments?${q(site, slug)}${extra}`);
      assert.equal(r.status, 200);
      return r.json;
    },
  };
}

// ---------------------------------------------------------------------------------------
// The browser.

export const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
}

// One test file's world: a server, a blog, a browser. Call from `before`; `close` from `after`.
export async function setup({ sites, limits, spam, smtp, extra, browser = true } = {}) {
  const blog = await startBlog();
  let server;
  try {
    server = await startServer({ blogOrigin: blog.origin, sites, limits, spam, smtp, extra });
  } catch (e) {
    await blog.close();
    throw e;
  }
  blog.setApi(server.origin);
  let b = null;
  if (browser) {
    try {
      b = await launch();
    } catch (e) {
      await blog.close();
      await server.stop();
      throw e;
    }
  }
  return {
    blog,
    server,
    browser: b,
    api: api(server.origin),
    async close() {
      await b?.close().catch(() => {});
      await blog.close();
      await server.stop();
    },
  };
}

let slugCounter = 0;
// A fresh slug (a post path) per test, so tests own their threads.
export function freshSlug(name) {
  slugCounter += 1;
  return `/posts/${name}-${process.pid}-${slugCounter}/`;
}

// Opens `path` on the blog in a new context and watches it. `check()` asserts nothing
// went wrong: no page error, no dialog, no CSP violation, no request to a third origin.
export async function open(world, path, { viewport = { width: 1024, height: 800 }, colorScheme = 'light', context: ctxOpts = {}, beforeGoto } = {}) {
  const context = await world.browser.newContext({ viewport, colorScheme, ...ctxOpts });
  const page = await context.newPage();
  const w = watch(page, [world.blog.origin, world.server.origin]);
  if (beforeGoto) await beforeGoto(page, w);
  await page.goto(world.blog.origin + path);
  return {
    page,
    context,
    ...w,
    async close() {
      await context.close();
    },
  };
}

export function watch(page, origins) {
  const requests = [];
  const errors = [];
  const dialogs = [];
  const csp = [];
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), type: r.resourceType(), at: Date.now() }));
  page.on('pageerror', (e) => errors.push(String(e && e.stack ? e.stack : e)));
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    const t = m.text();
    if (/Content.Security.Policy/i.test(t)) csp.push(t);
  });
  // securitypolicyviolation events, collected in the page and read back in check().
  page.addInitScript(() => {
    window.__awViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__awViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return {
    requests,
    errors,
    dialogs,
    csp,
    // Requests to `origin` so far.
    to(origin) {
      return requests.filter((r) => r.url.startsWith(origin + '/'));
    },
    async check() {
      const foreign = requests.filter((r) => !/^(data|blob|about):/.test(r.url) && !origins.some((o) => r.url.startsWith(o + '/')));
      assert.deepEqual(foreign.map((r) => r.url), [], 'requests left the blog and API origins');
      assert.deepEqual(errors, [], 'page errors');
      assert.deepEqual(dialogs, [], 'dialogs');
      let violations = [];
      try {
        violations = await page.evaluate(() => window.__awViolations || []);
      } catch {
        /* page closed */
      }
      assert.deepEqual([...csp, ...violations], [], 'CSP violations');
    },
  };
}

// The thread is on screen: the heading is visible (and, when `comments` > 0, that many
// comments are).
export async function threadShown(page, comments = 0) {
  await page.locator('.aw-root .aw-heading').waitFor({ state: 'visible' });
  if (comments > 0) {
    await until(async () => (await page.locator('.aw-comment').count()) >= comments, { message: `${comments} comments on screen` });
  }
}

export function readAxe() {
  return readFileSync(join(ROOT, 'embed', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
}

// Runs axe-core on the page; returns the serious and critical violations, readable.
export async function axe(page, context = '.aw-root') {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ content: readAxe() });
  const result = await page.evaluate(async (ctx) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(ctx, { resultTypes: ['violations'] });
    return r.violations;
  }, context);
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\s+/g, ' ')).join(' | ')}`);
}

// ---------------------------------------------------------------------------------------
// Small DOM helpers.

// Waits until `locator`'s text matches `re` (a RegExp or a substring); returns the text.
export async function waitText(locator, re, timeout = 20000) {
  const ok = (t) => (typeof re === 'string' ? t.includes(re) : re.test(t));
  return until(async () => {
    const t = (await locator.textContent({ timeout: 1000 })) ?? '';
    return ok(t) ? t : false;
  }, { timeout, message: `text ${re} in ${locator}` });
}

// Waits until `locator` matches exactly `n` elements.
export async function waitCount(locator, n, timeout = 20000) {
  return until(async () => (await locator.count()) === n, { timeout, message: `${n} × ${locator}` });
}

// The main comment form (not a reply or edit form inside a comment).
export function mainForm(page) {
  return page.locator('form.aw-form:not(.aw-comment form)');
}

export function field(scope, name) {
  return scope.getByRole('textbox', { name, exact: true });
}

// The comment's <article>.
export function comment(page, id) {
  return page.locator(`article#afterword-comment-${id}`);
}

// Fills and submits `form`; resolves with the API's answer to the POST.
export async function submit(page, form, { body, author, email, website, button = /^post comment$/i } = {}) {
  if (body !== undefined) await field(form, 'Comment').fill(body);
  if (author !== undefined) await field(form, 'Name').fill(author);
  if (email !== undefined) await field(form, 'Email').fill(email);
  if (website !== undefined) await field(form, 'Website').fill(website);
  const answer = page.waitForResponse((r) => /\/api\/v1\/comments\?/.test(r.url()) && r.request().method() === 'POST');
  await form.getByRole('button', { name: button }).click();
  const r = await answer;
  return { status: r.status(), json: await r.json().catch(() => null) };
}

// Opens `path`, runs `fn(p)`, then checks the watchers and closes the context.
export async function withPage(world, path, opts, fn) {
  if (typeof opts === 'function') [opts, fn] = [{}, opts];
  const p = await open(world, path, opts);
  try {
    await fn(p);
    await p.check();
  } finally {
    await p.close();
  }
}

// A recording HTTP proxy in front of `target` (an origin): what reached the comments
// server, preflights included (which page.on('request') does not show).
export async function startProxy(target) {
  const seen = [];
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, at: Date.now() });
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (r) => {
      res.writeHead(r.statusCode, r.rawHeaders);
      r.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

// Waits until the focused element matches `selector` (within the page).
export async function focusIs(page, selector, message = `focus on ${selector}`) {
  return until(() => page.evaluate((sel) => !!document.activeElement?.matches(sel), selector), { message });
}

// A minimal SMTP server on a free port that takes every message: `messages` holds
// `{from, to: [...], data}` as received.
export async function startSmtpSink() {
  const messages = [];
  const server = net.createServer((socket) => {
    let buf = '';
    let msg = { to: [] };
    let inData = false;
    socket.setEncoding('utf8');
    socket.write('220 sink ESMTP\r\n');
    socket.on('data', (chunk) => {
      buf += chunk;
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          msg.data = buf.slice(0, end);
          buf = buf.slice(end + 5);
          messages.push(msg);
          msg = { to: [] };
          inData = false;
          socket.write('250 2.0.0 Ok: queued\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'MAIL') msg.from = line.slice(10);
        if (verb === 'RCPT') msg.to.push(line.slice(8).replace(/[<>]/g, ''));
        if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
        } else {
          socket.write('250 ok\r\n');
        }
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    messages,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
