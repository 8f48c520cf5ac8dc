/**
 * The claims of an access token as the app reads them, for display and timing only: the
 * service (and the enclave that signed the token) decides; nothing here checks a signature.
 */

/** The payload of a JWT; `{}` when unreadable. */
export function claimsOf(token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1] ?? '';
    const json: unknown = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
    return json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The roles claim (display only). */
export function rolesOf(token: string): string[] {
  const roles = claimsOf(token)['roles'];
  return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
}

/** The subject (the user id); '' when absent. */
export function subOf(token: string): string {
  const sub = claimsOf(token)['sub'];
  return typeof sub === 'string' ? sub : '';
}

/** True when the token's `exp` is less than `marginSeconds` after `nowMs` (false without one). */
export function expiresWithin(token: string, marginSeconds: number, nowMs = Date.now()): boolean {
  const exp = claimsOf(token)['exp'];
  return typeof exp === 'number' && exp * 1000 - nowMs < marginSeconds * 1000;
}
