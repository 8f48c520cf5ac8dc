/** The CLI's HTTP calls: JSON in, JSON out, the service's error body turned into a message. */
export async function requestJson(
  url: string,
  init: { method?: string; body?: unknown } = {},
): Promise<unknown> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
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
