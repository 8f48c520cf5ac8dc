/** Errors the SDK throws: a small closed set with stable codes. */
export type ClientErrorCode =
  'ATTESTATION_INVALID' | 'INPUT_INVALID' | 'HTTP_ERROR' | 'LOG_INVALID' | 'LOG_INCONSISTENT';

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly reasons: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ClientError';
  }
}
