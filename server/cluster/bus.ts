// The instances' message bus: LISTEN on one channel of the shared PostgreSQL database, on a
// dedicated connection that is reopened after a loss (then `reconnected` fires, so followers read
// what they may have missed). Messages are small JSON objects naming their kind and sender; the
// writer sends them with pg_notify inside its own transaction, so they arrive at commit or never.
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { sql, type Kysely } from 'kysely';
import * as v from 'valibot';
import type { Logger } from '../log.js';
import { vmStatuses } from '../../contract/vm.js';
import { snapshotPassKinds } from '../../contract/sync.js';
import { dropSession, openSession } from './pg-session.js';

export const CHANNEL = 'labdeck';

const Id = v.pipe(v.string(), v.maxLength(100));
const Int = v.pipe(v.number(), v.integer());
/** Every message on the channel; anything else is ignored (another program could NOTIFY too). */
export const BusMessage = v.variant('k', [
  v.object({ k: v.literal('inventory'), i: Id, c: Id, r: Int }),
  v.object({ k: v.literal('state'), i: Id, c: Id }),
  v.object({ k: v.literal('leader'), i: Id, c: Id, e: Int }),
  v.object({ k: v.literal('watch'), i: Id, c: Id, v: Int, x: v.optional(v.picklist(vmStatuses)), s: v.optional(v.boolean()) }),
  v.object({ k: v.literal('trigger'), i: Id, c: Id, t: v.picklist(snapshotPassKinds) }),
  v.object({ k: v.literal('access'), i: Id, u: v.array(Int), cl: v.array(Int) }),
  v.object({ k: v.literal('session'), i: Id, u: Int }),
  v.object({ k: v.literal('projector'), i: Id, h: v.pipe(v.string(), v.maxLength(128)), cl: Int }),
  v.object({ k: v.literal('signin'), i: Id, a: v.pipe(v.string(), v.maxLength(256)), ip: v.pipe(v.string(), v.maxLength(128)), ok: v.boolean(), t: v.number() }),
]);
export type BusMessage = v.InferOutput<typeof BusMessage>;
/** A message as sent (the sender is filled in). */
export type Outgoing = BusMessage extends infer M ? M extends BusMessage ? Omit<M, 'i'> : never : never;

interface BusEvents {
  message: [BusMessage];
  /** The LISTEN connection was (re)opened: messages may have been missed. */
  reconnected: [];
}

/** One per instance. */
export class Bus extends EventEmitter<BusEvents> {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;

  constructor(private readonly url: string, readonly instance: string, private readonly logger: Logger) {
    super();
    this.setMaxListeners(50);
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let client: pg.Client | null = null;
    try {
      client = await openSession(this.url, {}, (err) => this.lost(client, err));
      client.on('notification', (n) => this.deliver(n.payload));
      await client.query(`LISTEN ${CHANNEL}`);
      this.client = client;
      if (this.failures > 0) this.logger.info('Listening to the other instances again');
      this.failures = 0;
      this.emit('reconnected');
    } catch (err) {
      dropSession(client);
      this.lost(client, err as Error);
    }
  }

  private lost(client: pg.Client | null, err: Error): void {
    if (client && this.client !== client && this.client !== null) return;
    this.client = null;
    dropSession(client);
    if (this.stopped || this.retryTimer) return;
    this.failures++;
    if (this.failures === 1) this.logger.warn({ err: err.message }, 'Lost the connection that hears the other instances; reopening it');
    const delay = Math.min(5_000, 250 * 2 ** Math.min(this.failures, 5));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private deliver(payload: string | undefined): void {
    if (!payload) return;
    let raw: unknown;
    try {
      raw = JSON.parse(payload);
    } catch {
      return;
    }
    const m = v.safeParse(BusMessage, raw);
    if (m.success) this.emit('message', m.output);
  }

  /** Sends a message inside a transaction (delivered at its commit), or on its own. */
  async send(db: Kysely<any>, msg: Outgoing): Promise<void> {
    const payload = JSON.stringify({ ...msg, i: this.instance });
    await sql`SELECT pg_notify(${CHANNEL}, ${payload})`.execute(db);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }
}
