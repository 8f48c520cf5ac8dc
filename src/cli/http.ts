/** The CLI's HTTP calls: JSON in, JSON out, the service's error body turned into a message. */
export async function requestJson(
  url: string,
  init: { method?: string; body?: unknown } = {},
): Promise<unknown> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      // The access token for protected routes (cloister auth login prints one); never argv.
      ...(process.env.CLOISTER_ACCESS_TOKEN
        ? { authorization: `Bearer ${process.env.CLOISTER_ACCESS_TOKEN}` }
        : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${res.status}: response is not JSON`);
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } }).error;
    throw new Error(`${res.status} ${err?.code ?? ''}: ${err?.message ?? 'request failed'}`);
  }
  return json;
}
