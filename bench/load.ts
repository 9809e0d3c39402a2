// HTTP load for the read benchmark: closed-loop workers, each with its own session cookie,
// hitting one path for a fixed time; latency is measured until the whole body has arrived. Like a
// browser they accept gzip; bytes are counted as they came over the wire.
import { Pool } from 'undici';
import { now } from './stats.js';

export interface LoadResult {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  latenciesMs: number[];
  bytes: number;
  elapsedMs: number;
  rps: number;
}

/** Runs `concurrency` workers against GET path for durationMs (cookies are used round-robin). */
export async function runReadLoad(opts: { url: string; path: string; cookies: string[]; concurrency: number; durationMs: number }): Promise<LoadResult> {
  const pool = new Pool(opts.url, { connections: opts.concurrency, pipelining: 1 });
  const latenciesMs: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let bytes = 0;
  const t0 = now();
  const end = t0 + opts.durationMs;
  const worker = async (i: number) => {
    const cookie = opts.cookies[i % opts.cookies.length];
    while (now() < end) {
      const start = now();
      try {
        const res = await pool.request({ method: 'GET', path: opts.path, headers: { cookie, 'accept-encoding': 'gzip' } });
        const body = Buffer.from(await res.body.arrayBuffer());
        latenciesMs.push(now() - start);
        bytes += body.length;
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => worker(i)));
  const elapsedMs = now() - t0;
  await pool.close();
  return { requests: latenciesMs.length, errors, statuses, latenciesMs, bytes, elapsedMs, rps: (latenciesMs.length / elapsedMs) * 1000 };
}
