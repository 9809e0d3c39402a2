// Run-time faults per cluster: latency with jitter, a rate of 500s, refused connections (down),
// accepted but unanswered requests (hang) and a revoked token, as the real client meets them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import { raw, startFast, tokenClient } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

describe.each(['http', 'https'] as const)('faults over %s', (protocol) => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ tls: protocol === 'https', clusters: [{ id: 'lab-f', guests: 5 }, { id: 'lab-g', guests: 5 }] });
  });
  afterAll(() => sim.close());

  it('adds latency with jitter to every answer', async () => {
    const c = sim.cluster('lab-f');
    await c.setFault({ latencyMs: 120, jitterMs: 30 });
    const t = Date.now();
    await tokenClient(c).version.$get();
    const took = Date.now() - t;
    expect(took).toBeGreaterThanOrEqual(115);
    expect(took).toBeLessThan(2000);
    await c.setFault({});
  });

  it('answers a fraction of requests with 500', async () => {
    const c = sim.cluster('lab-f');
    await c.setFault({ errorRate: 1 });
    await expect(tokenClient(c).version.$get()).rejects.toThrow(/return Error 500 /);
    await c.setFault({ errorRate: 0.5 });
    const results = await Promise.all(Array.from({ length: 60 }, () => raw(c, 'GET', '/version')));
    const errors = results.filter((r) => r.status === 500).length;
    expect(errors).toBeGreaterThan(5);
    expect(errors).toBeLessThan(55);
    await c.setFault({});
    expect((await raw(c, 'GET', '/version')).status).toBe(200);
  });

  it('refuses connections while down and comes back on the same port', async () => {
    const c = sim.cluster('lab-f');
    const port = c.port;
    await c.setFault({ mode: 'down' });
    // A pooled keep-alive socket may fail first with "other side closed"; new connections are refused.
    await expect(raw(c, 'GET', '/version')).rejects.toThrow('fetch failed');
    await expect(raw(c, 'GET', '/version')).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    await expect(tokenClient(c).version.$get()).rejects.toThrow(/FaILED to call GET/);
    expect((await tokenClient(sim.cluster('lab-g')).version.$get()).release).toBe('9.0');
    await c.setFault({ mode: 'ok' });
    expect(c.port).toBe(port);
    expect((await tokenClient(c).version.$get()).release).toBe('9.0');
  });

  it('accepts but never answers while hanging', async () => {
    const c = sim.cluster('lab-f');
    await c.setFault({ mode: 'hang' });
    const t = Date.now();
    // The client re-sends once after its timeout, so it gives up after two timeouts.
    await expect(tokenClient(c, { queryTimeout: 150 }).version.$get()).rejects.toThrow(/FaILED to call GET/);
    expect(Date.now() - t).toBeGreaterThanOrEqual(280);
    await c.setFault({});
    expect((await tokenClient(c).version.$get()).release).toBe('9.0');
  });

  it('lets a slow answer make the client send a POST twice, and the action still happens', async () => {
    const c = sim.cluster('lab-g');
    const g = c.guests().find((x) => x.status === 'stopped' && !x.template)!;
    // The resent POST must reach the simulator before the client's timeout ends it: over HTTPS on a
    // busy machine a fresh TLS handshake alone can take 100 ms, so the timeout leaves room for one.
    await c.setFault({ latencyMs: 1200 });
    c.resetStats();
    const start = tokenClient(c, { queryTimeout: 500 }).nodes.$(g.node)[g.type].$(g.vmid).status.start.$post();
    await expect(start).rejects.toThrow(/FaILED to call POST/);
    // Barrier: the client's second POST reached the simulator.
    await waitFor(() => (c.stats().byPath[`/nodes/${g.node}/${g.type}/${g.vmid}/status/start`] ?? 0) >= 2, 3000, 'the resent POST');
    expect(c.stats().byPath[`/nodes/${g.node}/${g.type}/${g.vmid}/status/start`]).toBe(2);
    await waitFor(() => (c.guest(g.vmid)!.status === 'running' ? true : undefined));
    await c.setFault({});
  });

  it('answers 401 Authentication failed! to the token once it is revoked', async () => {
    const c = sim.cluster('lab-f');
    await c.setFault({ tokenRevoked: true });
    await expect(tokenClient(c).cluster.resources.$get()).rejects.toThrow(/401 Authentication failed!/);
    await c.setFault({});
    expect((await tokenClient(c).cluster.resources.$get()).length).toBeGreaterThan(0);
  });
});
