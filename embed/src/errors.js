// What to tell the reader when a request fails: the server's own sentence when
// it sent one, else a localized one. `res` is {status, data}; status
// 0 means no answer came (offline, DNS, CORS).
export function errorMessage(res, t) {
  const err = res?.data?.error || {};
  const m = err.message;
  return {
    message: (typeof m == 'string' && m) || t(res?.status ? 'errServer' : 'errNetwork'),
    field: typeof err.field == 'string' ? err.field : null,
  };
}
