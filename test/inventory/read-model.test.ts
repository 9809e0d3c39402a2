// The read model answers GET /api/vms exactly as the database would: after sync passes that stop,
// destroy, create and move guests, after power actions, with filters and sorts, per role, and with
// one cluster gone stale; and a model loaded while writes go on misses none of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { dialects } from '../helpers/db.js';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { acceptsGzip, sortVms } from '../../server/http/routes/vms.js';
import { ReadModel } from '../../server/inventory/read-model.js';
import type { Vm } from '../../contract/vm.js';
import { waitFor } from '../helpers/wait.js';

describe.each(dialects)('read model (%s)', (dialect) => {
  let ts: TestServer;
  let admin: string;
  beforeAll(async () => {
    ts = await startTestServer({ dialect, clusters: [{ id: 'lab-a', nodes: 2, guests: 14, seed: 3 }, { id: 'lab-b', guests: 8, seed: 4 }] });
    await ts.synced();
    await ts.createUser('root', 'admin');
    admin = await ts.login('root');
  }, 60_000);
  afterAll(async () => { await ts?.close(); });

  /** What the database path answers for a query: the repository's rows, sorted as the route sorts. */
  const fromDb = async (filter: Parameters<TestServer['labdeck']['inventory']['list']>[0] = {}, sort?: Parameters<typeof sortVms>[1], order?: 'asc' | 'desc') =>
    sortVms(await ts.labdeck.inventory.list(filter), sort, order);

  /** Compares at a quiet moment: the fast lane may still write after a pass (then read again). */
  const expectSame = async () => {
    for (let i = 0; ; i++) {
      const before = await ts.labdeck.inventory.currentRevision();
      const res = await ts.request<{ revision: number; vms: Vm[] }>('GET', '/api/vms', { cookie: admin });
      const truth = await fromDb();
      if (before !== await ts.labdeck.inventory.currentRevision() && i < 50) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(res.body.vms).toEqual(truth);
      expect(res.body.revision).toBe(before);
      return res.body;
    }
  };

  it('follows changes, tombstones, new guests and migrations of sync passes and power actions', async () => {
    await expectSame();
    const a = ts.sim.cluster('lab-a');
    const b = ts.sim.cluster('lab-b');
    const running = a.guests().find((g) => g.status === 'running' && !g.template)!;
    a.powerOutside(running.vmid, 'stop');
    const gone = b.guests().find((g) => !g.template)!;
    b.destroyGuest(gone.vmid);
    await ts.labdeck.sync.trigger({ kind: 'full' });
    let body = await expectSame();
    expect(body.vms.find((v) => v.id === `lab-a:${running.vmid}`)?.status).toBe('stopped');
    expect(body.vms.some((v) => v.id === `lab-b:${gone.vmid}`)).toBe(false);

    const created = b.createGuest({ name: 'fresh-one' });
    const moved = a.guests().find((g) => !g.template && g.vmid !== running.vmid)!;
    a.migrate(moved.vmid, a.nodes.find((n) => n !== moved.node)!);
    await ts.labdeck.sync.trigger({ kind: 'full' });
    body = await expectSame();
    expect(body.vms.some((v) => v.id === `lab-b:${created}`)).toBe(true);

    // A pending state written by labdeck itself (not a sync pass) is in the next read.
    // (A guest no pass saw change, so the fast lane is not watching it.)
    const still = a.guests().find((g) => g.status === 'running' && !g.template && g.vmid !== moved.vmid && g.vmid !== running.vmid)!;
    await ts.labdeck.sync.setStatus('lab-a', still.vmid, 'stopping');
    body = await expectSame();
    expect(body.vms.find((v) => v.id === `lab-a:${still.vmid}`)?.status).toBe('stopping');
    await ts.labdeck.sync.trigger({ kind: 'quick' });
    await expectSame();
  });

  it('the full list is gzip-compressed for a client that accepts it, and plain otherwise', async () => {
    const plain = await request(`${ts.url}/api/vms`, { headers: { cookie: admin } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    const text = await plain.body.text();
    const zipped = await request(`${ts.url}/api/vms`, { headers: { cookie: admin, 'accept-encoding': 'br;q=1, gzip;q=0.5' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(Buffer.from(await zipped.body.arrayBuffer())).toString()).toBe(text);
    expect(JSON.parse(text).vms).toEqual(await fromDb());
    expect([acceptsGzip('gzip;q=0'), acceptsGzip('identity'), acceptsGzip('deflate, GZIP'), acceptsGzip(undefined)]).toEqual([false, false, true, false]);
  });

  it('filters, sorts and student reads match the database path', async () => {
    const get = async (path: string, cookie = admin) => (await ts.request<{ vms: Vm[] }>('GET', path, { cookie })).body.vms;
    const some = (await fromDb())[3];
    const cases: Array<[string, Parameters<typeof fromDb>]> = [
      ['?cluster=lab-b', [{ cluster: 'lab-b' }]],
      ['?status=running&sort=name&order=desc', [{ status: 'running' }, 'name', 'desc']],
      [`?q=${encodeURIComponent(some.name.slice(0, 4).toUpperCase())}`, [{ q: some.name.slice(0, 4).toUpperCase() }]],
      [`?q=${some.vmid}`, [{ q: String(some.vmid) }]],
      ['?type=lxc&sort=node', [{ type: 'lxc' }, 'node']],
      ['?category=windows&sort=ip', [{ category: 'windows' }, 'ip']],
      ['?sort=lastUpdated&order=desc', [{}, 'lastUpdated', 'desc']],
    ];
    if (some.tags.length) cases.push([`?tag=${some.tags[0]}`, [{ tag: some.tags[0] }]]);
    for (const [path, args] of cases) {
      for (let i = 0; ; i++) {
        const before = await ts.labdeck.inventory.currentRevision();
        const [answer, truth] = [await get(`/api/vms${path}`), await fromDb(...args)];
        if (before !== await ts.labdeck.inventory.currentRevision() && i < 50) continue;
        expect(answer, path).toEqual(truth);
        break;
      }
    }

    await ts.createUser('pupil', 'student');
    const pupil = await ts.login('pupil');
    expect(await get('/api/vms', pupil)).toEqual([]);
  });

  it('marks exactly the clusters without a recent successful pass as stale', async () => {
    // As if lab-b's last successful pass ended an hour ago (recorded the way the sync loop records one).
    await ts.labdeck.syncState.recordPass({
      cluster: 'lab-b', kind: 'quick', startedAt: Date.now() - 3_600_000, durationMs: 10, guests: 8, changed: 0, requests: 1, error: null,
    });
    const body = await expectSame();
    expect(body.vms.filter((v) => v.stale).every((v) => v.cluster === 'lab-b')).toBe(true);
    expect(body.vms.filter((v) => v.cluster === 'lab-b').every((v) => v.stale)).toBe(true);
    expect(body.vms.some((v) => v.cluster === 'lab-a' && !v.stale)).toBe(true);
    const filtered = (await ts.request<{ vms: Vm[] }>('GET', '/api/vms?sort=name', { cookie: admin })).body.vms;
    expect(filtered.filter((v) => v.stale).map((v) => v.id)).toEqual((await fromDb({}, 'name')).filter((v) => v.stale).map((v) => v.id));
    await ts.labdeck.sync.trigger({ kind: 'quick' });
    expect((await expectSame()).vms.some((v) => v.stale)).toBe(false);
  });

  it('the admin body is held while it is read, dropped when idle, and rebuilt equal to a fresh one', async () => {
    const model = new ReadModel({ db: ts.labdeck.db, feed: ts.labdeck.feed, clusterStates: () => ts.labdeck.syncState.clusterStates(), bodyIdleMs: 150 });
    await model.start();
    try {
      const text = async () => {
        const b = await model.allBody();
        return { revision: b.revision, text: Buffer.from(b.body).toString(), gzip: gunzipSync(await b.gzip()).toString() };
      };
      const first = await text();
      expect(first.gzip).toBe(first.text);
      expect(model.heldBodyBytes()).toBe(Buffer.byteLength(first.text));
      // Read again and again, each before the idle time ends: still held.
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 50));
        await model.allBody();
      }
      expect(model.heldBodyBytes()).toBeGreaterThan(0);
      await waitFor(() => model.heldBodyBytes() === 0, 5000, 'the idle admin body to be dropped');
      const again = await text();
      // A pass may have written meanwhile: then the new body is the database's answer of its revision.
      if (again.revision === first.revision) expect(again.text).toBe(first.text);
      expect(again.gzip).toBe(again.text);
      const truth = { revision: await ts.labdeck.inventory.currentRevision(), vms: await fromDb() };
      if (truth.revision === again.revision) expect(JSON.parse(again.text)).toEqual(truth);

      // A change drops the body at once; the next read has the change.
      const a = ts.sim.cluster('lab-a');
      // (Running in the model too: not one an earlier test left in a pending state.)
      const g = a.guests().find((x) => x.status === 'running' && !x.template && model.byKeys([`lab-a:${x.vmid}`])[0]?.status === 'running')!;
      a.powerOutside(g.vmid, 'stop');
      await ts.labdeck.sync.trigger({ kind: 'full' });
      expect(model.heldBodyBytes()).toBe(0);
      const after = JSON.parse((await text()).text) as { vms: Vm[] };
      expect(after.vms.find((v) => v.id === `lab-a:${g.vmid}`)?.status).toBe('stopped');
    } finally {
      model.stop();
    }
  });

  it('a model loaded while passes write loses no change between its snapshot and the feed', async () => {
    const a = ts.sim.cluster('lab-a');
    const model = new ReadModel({ db: ts.labdeck.db, feed: ts.labdeck.feed, clusterStates: () => ts.labdeck.syncState.clusterStates() });
    for (const g of a.guests().filter((x) => !x.template).slice(0, 4)) a.powerOutside(g.vmid, g.status === 'running' ? 'stop' : 'start');
    const pass = ts.labdeck.sync.trigger({ kind: 'full' });
    await model.start();
    await pass;
    const b = ts.sim.cluster('lab-b');
    b.destroyGuest(b.guests().find((g) => !g.template)!.vmid);
    await ts.labdeck.sync.trigger({ kind: 'full' });
    try {
      // At a quiet moment: the fast lane follows the guests started and stopped above and may still
      // write after the pass; then the model must catch up with that write too.
      for (let i = 0; ; i++) {
        const before = await ts.labdeck.inventory.currentRevision();
        await waitFor(() => model.revision() >= before, 10_000, 'the model to reach the stored revision');
        const truth = await fromDb();
        if (before !== await ts.labdeck.inventory.currentRevision() && i < 50) continue;
        expect(model.all()).toEqual(truth.map((vm) => ({ ...vm, stale: false })));
        expect(model.revision()).toBe(before);
        break;
      }
    } finally {
      model.stop();
    }
  });
});
