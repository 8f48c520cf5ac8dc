/**
 * Imported first by main.tsx (after no-eval). The app keeps its tokens in this tab's
 * sessionStorage and sends them as a bearer header. With AUTH_COOKIES on (for a front end of
 * another kind), every sign-in, refresh and step-up answer also sets the `__Host-` cookies, and a
 * browser stores them for the refresh token's lifetime: closing the tab would leave the session
 * in the browser for its next user, beside every tab. So the app's requests, its own and the
 * SDK's, go without credentials: the browser neither sends nor stores a cookie for them.
 */
const withCookies = globalThis.fetch.bind(globalThis);
globalThis.fetch = (input, init) => withCookies(input, { ...init, credentials: 'omit' });
