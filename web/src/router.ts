/** History-API routing over the pages the service serves index.html for (routes/web.ts). */
import { Store } from './store.js';

export const route = new Store<string>(location.pathname);
addEventListener('popstate', () => route.set(location.pathname));

export function navigate(path: string): void {
  if (path === location.pathname + location.hash) return;
  history.pushState(null, '', path);
  route.set(location.pathname);
}
