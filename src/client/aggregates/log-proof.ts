/**
 * Fetches what `verifyAggregatesInclusion` needs from a running service: the latest signed
 * checkpoint (with `witnessed`, the latest one witnesses cosigned: a verifier with a witness
 * policy needs that one, the newest is usually not cosigned yet), the leaf at `index`, and its
 * inclusion proof in exactly that checkpoint's tree. Nothing fetched is trusted; the verifier
 * checks every piece against the attested log key.
 */
import { answerText } from '../service-call.js';
import type { AggregatesLogProof } from './verify.js';

async function getJson<T>(fetchImpl: typeof fetch, url: string): Promise<T> {
  const res = await fetchImpl(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${new URL(url).pathname}: HTTP ${res.status}`);
  return JSON.parse(await answerText(res)) as T;
}

export async function fetchAggregatesLogProof(
  baseUrl: string,
  index: number,
  fetchImpl: typeof fetch = fetch,
  opts: { witnessed?: boolean } = {},
): Promise<AggregatesLogProof> {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError('index: not a leaf index');
  const base = baseUrl.replace(/\/+$/, '');
  // The checkpoint first: the proof is then asked for in that tree, so the two always match.
  const cp = await getJson<{ size: number; checkpoint: string }>(
    fetchImpl,
    `${base}/api/log/checkpoint${opts.witnessed ? '?witnessed=true' : ''}`,
  );
  const [entries, proof] = await Promise.all([
    getJson<{ entries: { index: number; entry: string }[] }>(
      fetchImpl,
      `${base}/api/log/entries?start=${index}&end=${index + 1}`,
    ),
    getJson<{ proof: string[] }>(
      fetchImpl,
      `${base}/api/log/proof/inclusion?index=${index}&size=${cp.size}`,
    ),
  ]);
  const leaf = entries.entries.find((e) => e.index === index);
  if (!leaf) throw new Error(`the log has no entry at index ${index}`);
  return { entry: leaf.entry, index, proof: proof.proof, checkpoint: cp.checkpoint };
}
