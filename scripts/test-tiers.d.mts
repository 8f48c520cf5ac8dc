// Types of scripts/test-tiers.mjs, for the tests that import it.
export const END_TO_END_DIRS: readonly string[];
export const END_TO_END_MARKERS: readonly string[];
export const OWN_SCRIPT_DIRS: readonly string[];
export const SERIAL: readonly string[];
export const CONCURRENCY: number;
export function posix(path: string): string;
export function collect(path: string, out?: string[]): string[];
export function isEndToEnd(file: string, source?: string): boolean;
export function selectFiles(roots: string[], opts?: { fast?: boolean }): string[];
