// socket.io across instances: the PostgreSQL adapter carries emits made outside the hub's own
// fan-out (console watchers, other modules' `io.to(room)`) to the sockets on every instance, over
// LISTEN/NOTIFY on the same database (no new infrastructure). Inventory pushes do not travel this
// way: every instance's hub sends its own sockets what its feed heard (server/cluster/follower.ts).
// Clients catch up with `?since=` after a reconnect; the adapter offers no connection state recovery.
import pg from 'pg';
import type { Server } from 'socket.io';
import { createAdapter } from '@socket.io/postgres-adapter';
import type { Logger } from '../log.js';

/** Puts the adapter on `io`; returns what closes it. */
export function attachSocketAdapter(io: Server<any, any, any, any>, url: string, logger: Logger): () => Promise<void> {
  // Its own small pool: the adapter keeps one connection for LISTEN for good.
  const pool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 5_000 });
  pool.on('error', (err) => logger.warn({ err: err.message }, 'socket.io adapter lost a database connection; it reconnects'));
  pool.on('connect', (client) => client.on('error', () => undefined));
  io.adapter(createAdapter(pool, { errorHandler: (err) => logger.warn({ err: err.message }, 'socket.io adapter error') }));
  return async () => {
    io.of('/').adapter.close();
    await pool.end().catch(() => undefined);
  };
}
