/** Zeroes secret buffers. JS gives no stronger guarantee (a GC may have copied them earlier),
 *  so secrets are also kept short-lived and never turned into strings. */
export function wipe(...buffers: ReadonlyArray<Uint8Array | undefined | null>): void {
  for (const b of buffers) b?.fill(0);
}
