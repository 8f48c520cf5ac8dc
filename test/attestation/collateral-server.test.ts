/**
 * Online collateral: verifyEvidence fetches DCAP collateral from a PCCS/Intel-PCS style service
 * (PCS API v4 paths and issuer-chain headers) and SEV-SNP VCEKs and chains from an AMD KDS
 * style service, at a configurable base URL. The services are local node:http servers that
 * serve the recorded collateral of test/vectors/data/attestation exactly as those services do.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { verifyEvidence } from '../../src/client/index.js';
import { DCAP_SAMPLES, JAN_2025, ROOTS, bytes, codes, dcapPolicy, json, text } from './samples.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function collateralFor(path: string) {
  return json(path) as Record<string, string>;
}

const CHUNK = 64 * 1024;

/** A fetch whose every answer streams zeros (16 MiB, chunk by chunk), counting what was read. */
function endlessFetch(): { f: typeof fetch; pulled: () => number } {
  let pulled = 0;
  const f: typeof fetch = () => {
    let left = 256;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (left-- === 0) return controller.close();
          pulled += CHUNK;
          controller.enqueue(new Uint8Array(CHUNK));
        },
      },
      { highWaterMark: 0 },
    );
    return Promise.resolve(new Response(body, { status: 200 }));
  };
  return { f, pulled: () => pulled };
}

/** Intel PCS v4 shapes: signed JSON bodies, URL-encoded PEM issuer chains in headers. */
/** The service's "current" collateral: a real PCCS serves today's CRLs; here, the sample's. */
const served: { collateral: Record<string, string> } = {
  collateral: collateralFor(DCAP_SAMPLES[0]!.collateral),
};

function pccs(requests: string[], breakPath?: string): Handler {
  return (req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(url.pathname + url.search);
    if (breakPath && url.pathname.endsWith(breakPath)) {
      res.writeHead(503).end();
      return;
    }
    const fmspc = url.searchParams.get('fmspc');
    const c = served.collateral;
    const header = (v: string) => encodeURIComponent(v);
    if (url.pathname.endsWith('/tcb')) {
      if (fmspc !== (JSON.parse(c.tcb_info!) as { fmspc: string }).fmspc)
        return void res.writeHead(404).end();
      res.writeHead(200, {
        'content-type': 'application/json',
        'TCB-Info-Issuer-Chain': header(c.tcb_info_issuer_chain!),
      });
      res.end(`{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature}"}`);
    } else if (url.pathname.endsWith('/qe/identity')) {
      res.writeHead(200, {
        'content-type': 'application/json',
        'SGX-Enclave-Identity-Issuer-Chain': header(c.qe_identity_issuer_chain!),
      });
      res.end(`{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature}"}`);
    } else if (url.pathname.endsWith('/pckcrl')) {
      res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': header(c.pck_crl_issuer_chain!) });
      res.end(Buffer.from(c.pck_crl!, 'hex'));
    } else if (url.pathname.endsWith('/rootcacrl')) {
      res.writeHead(200).end(c.root_ca_crl); // PCCS serves this one hex-encoded
    } else {
      res.writeHead(404).end();
    }
  };
}

function kds(requests: string[]): Handler {
  const vceks: Record<string, Uint8Array> = {};
  for (const n of ['gosev', 'virtee']) {
    const report = bytes(`sev-snp/snp_milan_${n}_report.bin`);
    vceks[Buffer.from(report.subarray(0x1a0, 0x1e0)).toString('hex')] = bytes(
      `sev-snp/snp_milan_${n}_vcek.der`,
    );
  }
  return (req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(url.pathname + url.search);
    const m = /^\/vcek\/v1\/(\w+)\/(\w+)$/.exec(url.pathname);
    if (m && m[1] === 'Milan' && m[2] === 'cert_chain') {
      res
        .writeHead(200, { 'content-type': 'application/x-pem-file' })
        .end(text('roots/amd_milan_ask_ark.pem'));
    } else if (m && m[1] === 'Milan' && vceks[m[2]!]) {
      res.writeHead(200, { 'content-type': 'application/x-x509-ca-cert' }).end(vceks[m[2]!]);
    } else {
      res.writeHead(404).end();
    }
  };
}

async function serve(
  handler: Handler,
): Promise<{ url: string; close: () => Promise<void>; closeAll: () => void }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => server.close(() => r())),
    closeAll: () => server.closeAllConnections(),
  };
}

describe('PCCS/PCS collateral over HTTP', () => {
  const requests: string[] = [];
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    server = await serve(pccs(requests));
  });
  after(() => server.close());

  for (const s of DCAP_SAMPLES) {
    it(`${s.name}: fetched collateral verifies as the recorded one does`, async () => {
      requests.length = 0;
      served.collateral = collateralFor(s.collateral);
      const r = await verifyEvidence(
        { kind: s.kind, quote: bytes(s.quote) },
        dcapPolicy(s, { collateralSource: { pccsUrl: `${server.url}/sgx/certification/v4/` } }),
      );
      assert.deepEqual(r.reasons, []);
      assert.equal(r.tcbStatus, s.status);
      const tee = s.kind === 'tdx' ? 'tdx' : 'sgx';
      const fmspc = r.details.fmspc as string;
      const ca = s.kind === 'tdx' ? 'platform' : 'processor';
      assert.deepEqual(requests, [
        `/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`,
        `/${tee}/certification/v4/tcb?fmspc=${fmspc}`,
        `/${tee}/certification/v4/qe/identity?update=standard`,
        '/sgx/certification/v4/rootcacrl',
      ]);
    });
  }

  it('a caller-supplied fetch is used instead of the global one', async () => {
    const s = DCAP_SAMPLES[0]!;
    served.collateral = collateralFor(s.collateral);
    let calls = 0;
    const f: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const r = await verifyEvidence(
      { kind: s.kind, quote: bytes(s.quote) },
      dcapPolicy(s, { collateralSource: { pccsUrl: server.url, fetch: f } }),
    );
    assert.equal(r.ok, true);
    assert.equal(calls, 4);
  });

  it('a service failure is COLLATERAL_MISSING, never a pass', async () => {
    const broken = await serve(pccs([], '/qe/identity'));
    try {
      const s = DCAP_SAMPLES[1]!;
      served.collateral = collateralFor(s.collateral);
      const r = await verifyEvidence(
        { kind: s.kind, quote: bytes(s.quote) },
        dcapPolicy(s, { collateralSource: { pccsUrl: broken.url } }),
      );
      assert.deepEqual(codes(r), ['COLLATERAL_MISSING']);
    } finally {
      await broken.close();
    }
  });

  it('a service that never answers times out: COLLATERAL_MISSING, no hang', async () => {
    const hung = await serve(() => undefined);
    try {
      const s = DCAP_SAMPLES[0]!;
      const r = await verifyEvidence(
        { kind: s.kind, quote: bytes(s.quote) },
        dcapPolicy(s, { collateralSource: { pccsUrl: hung.url, timeoutMs: 200 } }),
      );
      assert.deepEqual(codes(r), ['COLLATERAL_MISSING']);
    } finally {
      hung.closeAll();
      await hung.close();
    }
  });

  it('second attack review: an endless answer is refused after 1 MiB, not read to the end', async () => {
    // The body was read whole (arrayBuffer) before its size was checked: a hostile service
    // could make a browser tab or the CLI buffer all it sends until the timeout.
    const s = DCAP_SAMPLES[0]!;
    const { f, pulled } = endlessFetch();
    const r = await verifyEvidence(
      { kind: s.kind, quote: bytes(s.quote) },
      dcapPolicy(s, { collateralSource: { pccsUrl: 'http://pccs.invalid', fetch: f } }),
    );
    assert.deepEqual(codes(r), ['COLLATERAL_MISSING']);
    assert.match(r.reasons[0]!.message, /response too large/);
    assert.ok(pulled() <= 1024 * 1024 + 2 * CHUNK, `read ${pulled()} bytes`);
    // A declared length past the bound is refused before any byte is read.
    const declared: typeof fetch = () =>
      Promise.resolve(new Response('{}', { headers: { 'content-length': String(2 ** 21) } }));
    const big = await verifyEvidence(
      { kind: s.kind, quote: bytes(s.quote) },
      dcapPolicy(s, { collateralSource: { pccsUrl: 'http://pccs.invalid', fetch: declared } }),
    );
    assert.match(big.reasons[0]!.message, /response too large/);
  });

  it('an unreachable service is COLLATERAL_MISSING', async () => {
    const s = DCAP_SAMPLES[0]!;
    const closed = await serve(pccs([]));
    await closed.close();
    const r = await verifyEvidence(
      { kind: s.kind, quote: bytes(s.quote) },
      dcapPolicy(s, { collateralSource: { pccsUrl: closed.url } }),
    );
    assert.deepEqual(codes(r), ['COLLATERAL_MISSING']);
  });
});

describe('AMD KDS VCEK and chain over HTTP', () => {
  const requests: string[] = [];
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    server = await serve(kds(requests));
  });
  after(() => server.close());

  it('snp_milan_virtee: the VCEK for its chip and TCB and the Milan chain are fetched and verify', async () => {
    const report = bytes('sev-snp/snp_milan_virtee_report.bin');
    const r = await verifyEvidence(
      { kind: 'sev-snp', quote: report },
      {
        acceptedMeasurements: [
          '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f',
        ],
        pinnedRoots: { amdArk: [ROOTS.milanArk] },
        now: JAN_2025,
        collateralSource: { amdKdsUrl: `${server.url}/vcek/v1` },
      },
    );
    assert.deepEqual(r.reasons, []);
    const chip = Buffer.from(report.subarray(0x1a0, 0x1e0)).toString('hex');
    assert.deepEqual(requests, [
      `/vcek/v1/Milan/${chip}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
      '/vcek/v1/Milan/cert_chain',
    ]);
  });

  it('second attack review: an endless VCEK answer is refused after 64 KiB, not read to the end', async () => {
    const { f, pulled } = endlessFetch();
    const r = await verifyEvidence(
      { kind: 'sev-snp', quote: bytes('sev-snp/snp_milan_virtee_report.bin') },
      {
        acceptedMeasurements: ['00'],
        pinnedRoots: { amdArk: [ROOTS.milanArk] },
        now: JAN_2025,
        collateralSource: { amdKdsUrl: 'http://kds.invalid', fetch: f },
      },
    );
    assert.ok(codes(r).includes('COLLATERAL_MISSING'));
    assert.match(r.reasons.find((x) => x.code === 'COLLATERAL_MISSING')!.message, /too large/);
    assert.ok(pulled() <= 64 * 1024 + 2 * CHUNK, `read ${pulled()} bytes`);
  });

  it('a chip the service does not know is COLLATERAL_MISSING', async () => {
    const report = bytes('sev-snp/snp_milan_virtee_report.bin');
    report[0x1a0] ^= 1;
    const r = await verifyEvidence(
      { kind: 'sev-snp', quote: report },
      {
        acceptedMeasurements: ['00'],
        pinnedRoots: { amdArk: [ROOTS.milanArk] },
        now: JAN_2025,
        collateralSource: { amdKdsUrl: server.url },
      },
    );
    assert.ok(codes(r).includes('COLLATERAL_MISSING'));
    assert.equal(r.ok, false);
  });
});
