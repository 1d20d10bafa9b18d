// The one place that talks to the server. GETs carry no custom header, so
// they need no CORS preflight and the browser's HTTP cache revalidates them.
// No cookies, ever.

// → {ok, status, data, f}; status 0 when no answer came. f: the form token a
// thread answer carries for the spam checks.
export async function request(base, method, path, { query, body, token } = {}) {
  const url = new URL('api/v1/' + path, base);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      for (const x of [].concat(v)) if (x != null) url.searchParams.append(k, x);
    }
  }
  const headers = {};
  if (body) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  let res;
  try {
    res = await fetch(url, { method, headers, body: body && JSON.stringify(body), credentials: 'omit' });
  } catch {
    return { ok: false, status: 0, data: null };
  }
  // No body (204) or not JSON: null.
  const data = await res.json().catch(() => null);
  return { ok: res.ok, status: res.status, data, f: res.headers.get('afterword-form') };
}
