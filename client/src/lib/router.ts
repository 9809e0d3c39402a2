// Path routing without a library: one parse function and pushState navigation.

export type Route =
  | { name: 'home' }
  | { name: 'login' }
  | { name: 'my' }
  | { name: 'classes' }
  | { name: 'class'; id: string }
  | { name: 'projector'; token: string }
  | { name: 'invite'; token: string }
  | { name: 'sync' }
  | { name: 'vms' }
  | { name: 'account' }
  | { name: 'users' }
  | { name: 'console'; cluster: string; vmid: number }
  | { name: 'not-found' };

/** Maps a pathname to a route. */
export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'home' };
  const [a, b] = parts;
  if (a === 'login' && parts.length === 1) return { name: 'login' };
  if (a === 'my' && parts.length === 1) return { name: 'my' };
  if (a === 'account' && parts.length === 1) return { name: 'account' };
  if (a === 'classes' && parts.length === 1) return { name: 'classes' };
  if (a === 'classes' && b && parts.length === 2) return { name: 'class', id: b };
  if (a === 'projector' && b && parts.length === 2) return { name: 'projector', token: b };
  if (a === 'invite' && b && parts.length === 2) return { name: 'invite', token: b };
  if (a === 'admin' && b === 'sync' && parts.length === 2) return { name: 'sync' };
  if (a === 'admin' && b === 'vms' && parts.length === 2) return { name: 'vms' };
  if (a === 'admin' && b === 'users' && parts.length === 2) return { name: 'users' };
  if (a === 'console' && parts.length === 3 && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(b) && /^[1-9][0-9]{2,8}$/.test(parts[2])) return { name: 'console', cluster: b, vmid: Number(parts[2]) };
  return { name: 'not-found' };
}

/** Navigates within the app and tells the shell. */
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}
