/**
 * The HTTP load the benchmarks send (autocannon: every body sent exactly once, exact latencies)
 * and what HTTP itself costs in CPU on this machine (issue 17's floors: bench/submit-key.ts and
 * bench/auth.ts): the load generator's CPU per request and a bare HTTP server's, measured
 * against a server that does nothing but answer.
 */
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { cpuMs, selfCpuMs } from './cpu.js';

export interface LoadRun {
  result: autocannon.Result;
  latMs: Float64Array;
  status: Record<string, number>;
  ranOut: number;
}

/**
 * Sends exactly bodies.length `POST path` requests, each body once, over `connections`
 * connections.
 */
export function load(
  url: string,
  path: string,
  bodies: string[],
  connections: number,
): Promise<LoadRun> {
  let next = 0;
  let ranOut = 0;
  const lat: number[] = [];
  const status: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        pipelining: 1,
        amount: bodies.length,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path,
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => {
              if (next >= bodies.length) ranOut++;
              // Past the end a body is reused on purpose: it must then fail (409) and show.
              return { ...req, body: bodies[Math.min(next++, bodies.length - 1)]! };
            },
          },
        ],
      },
      (err, result) => {
        if (err) reject(err);
        else resolve({ result, latMs: Float64Array.from(lat), status, ranOut });
      },
    );
    // autocannon's own histogram keeps whole milliseconds; keep the exact times here.
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      status[statusCode] = (status[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) lat.push(responseTime);
    });
  });
}

/**
 * CPU per request (ms) of HTTP alone: the same autocannon run (same bodies, path, connections
 * and client code) against a server in another process that answers at once with a body of
 * `answerBytes`. `client`: the load generator's CPU (this process's CPU time), what is taken
 * off this process's CPU when the generator shares it with the service. `server`: that bare
 * server's CPU (its process's CPU time), the least any HTTP server here spends on such a
 * request. Both are parts of the floors (bench/README.md).
 */
export async function bareHttpCpuMs(
  path: string,
  bodies: string[],
  connections: number,
  answerBytes: number,
): Promise<{ client: number; server: number }> {
  const answer = JSON.stringify({ pad: 'x'.repeat(Math.max(0, answerBytes - 10)) });
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const a = ${JSON.stringify(answer)};
       const s = require('node:http').createServer((q, r) => {
         q.resume();
         q.on('end', () => r.writeHead(200, { 'content-type': 'application/json' }).end(a));
       });
       s.listen(0, '127.0.0.1', () => process.send(s.address().port));
       process.on('disconnect', () => process.exit(0));`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve(Number(m)));
      child.once('error', reject);
    });
    const url = `http://127.0.0.1:${port}`;
    await load(url, path, bodies.slice(0, Math.min(500, bodies.length)), connections);
    const c0 = selfCpuMs();
    const s0 = cpuMs(child.pid ?? null);
    await load(url, path, bodies, connections);
    return {
      client: (selfCpuMs() - c0) / bodies.length,
      server: (cpuMs(child.pid ?? null) - s0) / bodies.length,
    };
  } finally {
    child.kill();
  }
}
