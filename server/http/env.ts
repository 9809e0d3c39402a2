// The Hono environment shared by the app and its route modules: the signed-in user per request.
import type { HttpBindings } from '@hono/node-server';
import type { SessionUser } from '../auth/session.js';

export interface AppEnv {
  Bindings: HttpBindings;
  Variables: { user: SessionUser | null };
}
