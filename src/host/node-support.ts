/**
 * The Node.js lines Cloister runs on: package.json's `engines` (">=22.12"), which npm only warns
 * about. Node 20 is past its end of life and its `crypto` can deadlock a process that exports
 * freshly generated keys under GC (SECURITY.md), so a start on it says so before anything runs:
 * a hang later would otherwise look like Cloister's own.
 */
export const MIN_NODE: readonly [major: number, minor: number] = [22, 12];

/** The warning for `version` (as `process.versions.node` gives it), or null when supported. */
export function unsupportedNodeWarning(version: string): string | null {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  const [minMajor, minMinor] = MIN_NODE;
  if (major > minMajor || (major === minMajor && minor >= minMinor)) return null;
  return (
    `Node.js v${version} is not supported: use ${minMajor}.${minMinor} or later (the maintained ` +
    `LTS lines 22 and 24; CI runs 24). On Node 20 a key export can deadlock the process.`
  );
}
