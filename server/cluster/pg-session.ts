// A dedicated PostgreSQL connection (not one of the pool's): the advisory locks and the LISTEN of
// an instance live as long as one session, so they must not share it with queries that a pool
// may hand to anyone or close when idle.
import pg from 'pg';

/** Opens one connection; `settings` are session parameters set right after it connects. */
export async function openSession(url: string, settings: Record<string, string> = {}, onLost?: (err: Error) => void): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, keepAlive: true });
  let lost = false;
  const lose = (err: Error) => {
    if (lost) return;
    lost = true;
    onLost?.(err);
  };
  client.on('error', lose);
  client.on('end', () => lose(new Error('connection closed')));
  await client.connect();
  for (const [k, v] of Object.entries(settings)) await client.query(`SELECT set_config($1, $2, false)`, [k, v]);
  return client;
}

/** Ends a connection without waiting on a server that may be gone. */
export function dropSession(client: pg.Client | null): void {
  if (!client) return;
  client.end().catch(() => undefined);
}

/** A query that fails after `ms` (a stalled server or network counts as lost). */
export async function queryWithin<T extends pg.QueryResultRow>(client: pg.Client, ms: number, text: string, values: unknown[] = []): Promise<pg.QueryResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      client.query<T>(text, values),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
