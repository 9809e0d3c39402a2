// The node-list scan reads what JSON.parse + normaliseNodeGuests would, or declines: never anything else.
import { describe, expect, it } from 'vitest';
import { scanNodeGuestList as scanNodeGuests } from '../../server/pve/node-list-scan.js';
import { normaliseNodeGuests } from '../../server/pve/signals.js';
import { startSimulator } from '../../server/simulator/index.js';
import { prng } from '../../server/simulator/generator.js';

/** What the ordinary path makes of a body: the guests, or 'error' where it throws. */
function ordinary(body: Buffer): ReturnType<typeof normaliseNodeGuests> | 'error' {
  try {
    return normaliseNodeGuests((JSON.parse(body.toString('utf8')) as { data?: unknown }).data ?? null, 'qemu');
  } catch {
    return 'error';
  }
}

/** The scan agrees with the ordinary path or declines. */
function agrees(body: Buffer): boolean {
  const got = scanNodeGuests(body);
  if (got === null) return true;
  const want = ordinary(body);
  expect(want).not.toBe('error');
  expect(got).toEqual(want);
  return false;
}


describe('node list scan', () => {
  it('reads the simulator\'s node lists of each type (over HTTP, as Proxmox answers them) as the ordinary path does', async () => {
    const sim = await startSimulator({ clusters: [{ id: 'c', guests: 300, nodes: 2, seed: 7 }], unauthorizedDelayMs: 0 });
    try {
      const c = sim.clusters[0];
      for (const node of c.nodes) {
        for (const kind of ['qemu', 'lxc'] as const) {
          const res = await fetch(`${c.url}/api2/json/nodes/${node}/${kind}`, { headers: { Authorization: `PVEAPIToken=${c.tokenId}=${c.tokenSecret}` } });
          expect(res.status).toBe(200);
          const body = Buffer.from(await res.arrayBuffer());
          const got = scanNodeGuests(body);
          expect(got).not.toBeNull();
          expect(got).toEqual(ordinary(body));
          expect(got!.length).toBeGreaterThan(0);
          expect(got!.some((g) => g.status === 'running' && g.uptime! > 0)).toBe(true);
        }
      }
    } finally {
      await sim.close();
    }
  });

  it('reads numbers as strings, odd statuses, repeated keys, escapes, nesting and whitespace like JSON.parse', () => {
    const bodies = [
      '{"data":[{"vmid":"101","status":"running","uptime":"42"},{"vmid":102,"status":"RUNNING","uptime":1.5e3}]}',
      ' {\n "data" : [ { "status" : "stopped" , "vmid" : 103 , "uptime" : 0 } ] , "total" : 1 }\r\n',
      '{"data":[{"vmid":104,"vmid":105,"status":"paused","status":"io-error"}]}',
      '{"d\\u0061ta":[{"v\\u006did":106,"st\\u0061tus":"r\\u0075nning","name":"a\\"b\\\\c\\/d\\u00e9"}]}',
      '{"data":[{"vmid":107,"blockstat":{"scsi0":{"rd_bytes":1,"x":[1,2,{"vmid":999}]}},"status":"running","uptime":null}]}',
      '{"data":[{"vmid":1.5},{"vmid":-3},{"vmid":"x"},{"vmid":true},{"vmid":null},{"status":"running"},{}, 7, "s", [1], null, {"vmid":108,"status":3,"uptime":"  "}]}',
      '{"data":[]}',
      '{"data":[{"vmid":109,"status":"","uptime":-0,"tags":"a;b","lock":"backup","name":"é✓😀"}]}',
      '{"data":[{"vmid":1,"uptime":12345678901234567890}],"data":[{"vmid":110,"status":"stopped"}]}',
    ];
    for (const b of bodies) {
      const body = Buffer.from(b);
      expect(scanNodeGuests(body), b).not.toBeNull();
      agrees(body);
    }
  });

  it('declines what is not {"data": [...]} or not JSON at all', () => {
    for (const b of ['', '[]', '{}', '{"data":null}', '{"data":{}}', '{"data":[1,]}', '{"data":[{"vmid":01}]}', '{"data":[{"vmid":1}]}x',
      '{"data":[{"vmid":1,"name":"a\tb"}]}', '{"data":[{"vmid":1,"name":"\\x"}]}', '{"data":[{"vmid":1}]', '\ufeff{"data":[]}', '{"data":[{"vmid":1.}]}',
      '{"data":[{"vmid":tru}]}', '{"data":[{"vmid":1 "status":"running"}]}']) {
      expect(scanNodeGuests(Buffer.from(b)), b).toBeNull();
    }
  });

  it('never reads a damaged answer differently from the ordinary path (random cuts, flips and insertions)', () => {
    const random = prng(12);
    const base = Buffer.from(JSON.stringify({ data: [
      { vmid: 100, name: 'ws-1', status: 'running', uptime: 500, cpu: 0.01, tags: 'a;b', pid: 4 },
      { vmid: '101', name: 'ct-1', status: 'stopped', uptime: 0, type: 'lxc', lock: 'x"y' },
      { vmid: 102, status: 'running', uptime: 7, nested: { a: [1, { b: 'c' }] } },
    ] }));
    const alphabet = Buffer.from('{}[]:,"\\ 0123456789.-+eEtrufalsn\n\u00ff');
    let read = 0;
    for (let n = 0; n < 20_000; n++) {
      const b = Buffer.from(base);
      const edits = 1 + Math.floor(random() * 3);
      let body = b;
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * body.length);
        const r = random();
        const c = alphabet[Math.floor(random() * alphabet.length)];
        if (r < 0.33) body = body.subarray(0, at);
        else if (r < 0.66) body[at] = c;
        else body = Buffer.concat([body.subarray(0, at), Buffer.from([c]), body.subarray(at)]);
      }
      if (!agrees(body)) read++;
    }
    // Most damage makes the answer unreadable; some leaves valid JSON, which the scan must read too.
    expect(read).toBeGreaterThan(100);
  });
});
