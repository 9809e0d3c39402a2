// The instance name: configured (file or LABDECK_INSTANCE) or hostname-pid, and shown in the
// sync status as the instance that answered and as each cluster's leader.
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('instance name', () => {
  let t: TestServer;
  let cookie: string;

  beforeAll(async () => {
    t = await startTestServer({
      clusters: [{ id: 'lab-a', guests: 5 }, { id: 'lab-b', guests: 5, seed: 3 }],
      config: { instance: { name: 'dash-1' } },
    });
    await t.createUser('boss', 'admin');
    cookie = await t.login('boss');
    await t.synced();
  });
  afterAll(async () => t?.close());

  it('the sync status names the instance that answered and the one that leads each cluster', async () => {
    const res = await t.request('GET', '/api/sync/status', { cookie });
    expect(res.status).toBe(200);
    expect(res.body.instance).toBe('dash-1');
    expect(res.body.clusters.map((c: { id: string; leader: string }) => [c.id, c.leader])).toEqual([['lab-a', 'dash-1'], ['lab-b', 'dash-1']]);
  });

  it('LABDECK_INSTANCE names the instance; without it the name is hostname-pid', async () => {
    expect((await loadConfig({ LABDECK_INSTANCE: 'web-2' })).instance.name).toBe('web-2');
    const plain = await startTestServer({ clusters: [{ id: 'lab-a', guests: 2 }], start: { noSync: true } });
    try {
      expect(plain.labdeck.sync.status().instance).toBe(`${hostname()}-${process.pid}`);
    } finally {
      await plain.close();
    }
  });

  it('refuses a bad name, and a shared database that is not PostgreSQL, with a message naming the setting', async () => {
    await expect(loadConfig({ LABDECK_INSTANCE: 'has space' })).rejects.toThrow(ConfigError);
    await expect(loadConfig({ LABDECK_INSTANCE: 'has space' })).rejects.toThrow(/LABDECK_INSTANCE/);
    await expect(loadConfig({ LABDECK_SHARED: '1', DATABASE_URL: '/tmp/x.db' })).rejects.toThrow(/PostgreSQL/);
    await expect(loadConfig({ LABDECK_SHARED: 'maybe' })).rejects.toThrow(/LABDECK_SHARED/);
  });
});
