/**
 * The egress transport's errors: a closed set of codes with fixed messages (they may cross
 * the enclave boundary through a connector's error mapping, so they never carry a URL query,
 * a header or a body). `detail` holds a safe machine code (a TLS verify code, an HTTP status
 * from the proxy) for diagnostics.
 */
export type EgressErrorCode =
  | 'EGRESS_BAD_REQUEST'
  | 'EGRESS_REFUSED'
  | 'EGRESS_PROXY'
  | 'EGRESS_TLS'
  | 'EGRESS_NETWORK'
  | 'EGRESS_TIMEOUT'
  | 'EGRESS_TOO_LARGE'
  | 'EGRESS_ABORTED';

const MESSAGES: Record<EgressErrorCode, string> = {
  EGRESS_BAD_REQUEST: 'the outbound request is malformed',
  EGRESS_REFUSED: 'the outbound request is not allowed by the egress policy',
  EGRESS_PROXY: 'the egress proxy refused the tunnel',
  EGRESS_TLS: 'the server certificate or TLS handshake was rejected',
  EGRESS_NETWORK: 'the server could not be reached',
  EGRESS_TIMEOUT: 'the server did not answer in time',
  EGRESS_TOO_LARGE: 'the response exceeds the size limit',
  EGRESS_ABORTED: 'the request was aborted',
};

export class EgressError extends Error {
  override readonly name = 'EgressError';
  constructor(
    readonly code: EgressErrorCode,
    readonly detail?: string,
  ) {
    super(MESSAGES[code]);
  }
}

/** Node's TLS and X.509 verification failures (`err.code`), as opposed to socket errors. */
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME|ALTNAME/;

/** Maps a socket or TLS error from node to an EgressError (never keeps the original message). */
export function toEgressError(err: unknown): EgressError {
  if (err instanceof EgressError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const c = typeof code === 'string' ? code : undefined;
  if (c === 'ABORT_ERR') return new EgressError('EGRESS_ABORTED');
  if (c !== undefined && TLS_CODE.test(c)) return new EgressError('EGRESS_TLS', c);
  if (
    c === 'ERR_INVALID_CHAR' ||
    c === 'ERR_INVALID_HTTP_TOKEN' ||
    c === 'ERR_HTTP_INVALID_HEADER_VALUE'
  ) {
    return new EgressError('EGRESS_BAD_REQUEST', c);
  }
  return new EgressError('EGRESS_NETWORK', c);
}
