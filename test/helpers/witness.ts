/**
 * A small but faithful C2SP tlog-witness for tests: it keeps the latest cosigned size and root
 * per origin, checks the log signature, the old size (409 with text/x.tlog.size), and the
 * consistency proof (422), and answers with a cosignature/v1 line. Real keys, real checks.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  cosignatureMessage,
  encodeCosignature,
  parseCheckpoint,
  verifyCheckpointNote,
} from '../../src/protocol/log/checkpoint.js';
import { bytesEqual } from '../../src/protocol/encoding.js';
import { verifyConsistency } from '../../src/protocol/log/merkle.js';
import {
  COSIGNATURE_SIG_TYPE,
  formatVerifierKey,
  noteKeyId,
  parseNote,
  signatureLine,
} from '../../src/protocol/log/note.js';

export interface TestWitness {
  name: string;
  vkey: string;
  url: string;
  publicKey: Uint8Array;
  /** Latest cosigned size per origin. */
  state: Map<string, { size: number; root: Uint8Array }>;
  requests: number;
  close(): Promise<void>;
}

export async function startWitness(
  name: string,
  logKeys: () => { name: string; publicKey: Uint8Array }[],
): Promise<TestWitness> {
  const { privateKey, publicKey: pk } = generateKeyPairSync('ed25519');
  const publicKey = new Uint8Array(Buffer.from(pk.export({ format: 'jwk' }).x!, 'base64url'));
  const state = new Map<string, { size: number; root: Uint8Array }>();
  const w: Partial<TestWitness> = { name, publicKey, state, requests: 0 };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      w.requests! += 1;
      const reply = (status: number, text = '', type = 'text/plain') => {
        res.writeHead(status, { 'content-type': type });
        res.end(text);
      };
      if (req.method !== 'POST' || req.url !== '/add-checkpoint') return reply(404);
      const body = Buffer.concat(chunks).toString('utf8');
      const blank = body.indexOf('\n\n');
      if (blank < 0) return reply(400);
      const head = body.slice(0, blank).split('\n');
      const note = body.slice(blank + 2);
      const m = /^old (0|[1-9][0-9]*)$/.exec(head[0] ?? '');
      if (!m) return reply(400);
      const oldSize = Number(m[1]);
      const proof = head.slice(1).map((l) => new Uint8Array(Buffer.from(l, 'base64')));
      let text: string;
      let cp: ReturnType<typeof parseCheckpoint>;
      try {
        text = parseNote(note).text;
        cp = parseCheckpoint(text);
      } catch {
        return reply(400);
      }
      const key = logKeys().find((k) => k.name === cp.origin);
      if (!key) return reply(404);
      if (!verifyCheckpointNote(note, key).valid) return reply(403);
      if (oldSize > cp.size) return reply(400);
      const prev = state.get(cp.origin) ?? { size: 0, root: new Uint8Array(32) };
      if (oldSize !== prev.size) return reply(409, `${prev.size}\n`, 'text/x.tlog.size');
      if (oldSize === cp.size) {
        if (!bytesEqual(prev.root, cp.rootHash))
          return reply(409, `${prev.size}\n`, 'text/x.tlog.size');
      } else if (
        oldSize > 0 &&
        !verifyConsistency(oldSize, cp.size, prev.root, cp.rootHash, proof)
      ) {
        return reply(422);
      }
      state.set(cp.origin, { size: cp.size, root: cp.rootHash });
      const time = Math.floor(Date.now() / 1000);
      const sig = sign(null, cosignatureMessage(text, time), privateKey);
      const line = signatureLine(
        name,
        noteKeyId(name, COSIGNATURE_SIG_TYPE, publicKey),
        encodeCosignature(time, new Uint8Array(sig)),
      );
      reply(200, line);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(w, {
    vkey: formatVerifierKey(name, publicKey, COSIGNATURE_SIG_TYPE),
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }) as TestWitness;
}
