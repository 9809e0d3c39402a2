// The simulator's consoles over real HTTP and WebSockets, as real Proxmox serves them: vncproxy
// and termproxy with their schema checks and VM.Console, tickets bound to caller, guest and port,
// one connection per port, the RFB 3.8 handshake and framebuffer of a qemu guest, the termproxy
// login and echo of an LXC guest, and stopped guests refusing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { WebSocket } from 'ws';
import type { SimCluster, Simulator } from '../../server/simulator/index.js';
import { RfbClient, pixelAt } from '../../server/simulator/console/rfb-client.js';
import { BANNER_RGB, COUNTER_RECT, COUNTER_RGB, KEY_ROW_Y } from '../../server/simulator/console/framebuffer.js';
import { startFast, raw } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const USER = { userid: 'console@pve', password: 'console-pass', privileges: ['VM.Console', 'VM.Audit'] };
const NOBODY = { userid: 'viewer@pve', password: 'viewer-pass', privileges: ['VM.Audit'] };

interface Ticketed { port: number; ticket: string; password?: string; user: string; upid: string }

function token(c: SimCluster): Record<string, string> {
  return { Authorization: `PVEAPIToken=${c.tokenId}=${c.tokenSecret}` };
}

async function post(c: SimCluster, path: string, body = '', headers = token(c)) {
  return raw(c, 'POST', path, { token: false, headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' }, body });
}

async function ticketLogin(c: SimCluster, u: { userid: string; password: string }) {
  const r = await post(c, '/access/ticket', new URLSearchParams({ username: u.userid, password: u.password }).toString(), {});
  const d = r.json!.data as { ticket: string; CSRFPreventionToken: string };
  return { Cookie: `PVEAuthCookie=${encodeURIComponent(d.ticket)}`, CSRFPreventionToken: d.CSRFPreventionToken, ticket: d.ticket };
}

/** Opens the websocket; resolves with the socket once open, or with the HTTP status it was refused with. */
function openWs(c: SimCluster, path: string, headers: Record<string, string>): Promise<{ ws: WebSocket; rfb: RfbClient } | { status: number; reason: string } | { dropped: true }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${c.host}:${c.port}/api2/json${path}`, ['binary'], { headers });
    // The reader is attached at once: the server's first bytes may arrive before a promise resolves.
    ws.on('open', () => resolve({ ws, rfb: new RfbClient(ws) }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '' }));
    ws.on('error', () => resolve({ dropped: true }));
  });
}

const closed = (ws: WebSocket) => new Promise<void>((r) => (ws.readyState === ws.CLOSED ? r() : ws.once('close', () => r())));

describe('simulated consoles', () => {
  let sim: Simulator;
  let c: SimCluster;
  let legacy: SimCluster;
  let vm: { vmid: number; node: string; name: string };
  let ct: { vmid: number; node: string; name: string };

  beforeAll(async () => {
    sim = await startFast({
      clusters: [
        { id: 'lab-a', nodes: 1, guests: 30, seed: 7, users: [USER, NOBODY] },
        { id: 'old', nodes: 1, guests: 30, seed: 7, users: [USER], termproxyTokenLogin: false },
      ],
    });
    c = sim.cluster('lab-a');
    legacy = sim.cluster('old');
    const pick = (cl: SimCluster, type: 'qemu' | 'lxc') => {
      const g = cl.guests().find((x) => x.type === type && !x.template)!;
      if (g.status !== 'running') cl.powerOutside(g.vmid, 'start');
      return { vmid: g.vmid, node: g.node, name: g.name };
    };
    vm = pick(c, 'qemu');
    ct = pick(c, 'lxc');
    pick(legacy, 'lxc');
  });
  afterAll(() => sim?.close());

  const vncproxy = async (cl = c, v = vm, headers = token(cl)) => {
    const r = await post(cl, `/nodes/${v.node}/qemu/${v.vmid}/vncproxy`, 'websocket=1', headers);
    return { status: r.status, text: r.text, data: r.json?.data as Ticketed };
  };
  const wsPath = (kind: 'qemu' | 'lxc', v: { node: string; vmid: number }, t: { port: number; ticket: string }) =>
    `/nodes/${v.node}/${kind}/${v.vmid}/vncwebsocket?port=${t.port}&vncticket=${encodeURIComponent(t.ticket)}`;

  it('vncproxy answers a port in 5900-5999, a ticket bound to the token, and the VNC password', async () => {
    const { status, data } = await vncproxy();
    expect(status).toBe(200);
    expect(data.port).toBeGreaterThanOrEqual(5900);
    expect(data.port).toBeLessThanOrEqual(5999);
    expect(data.user).toBe(c.tokenId);
    expect(data.password).toMatch(/^[!-`]{8}$/);
    expect(data.ticket.startsWith(`${data.password}:PVEVNC:`)).toBe(true);
    expect(data.upid).toMatch(/^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vncproxy:\d+:/);
  });

  it('checks parameters against the schema and needs VM.Console', async () => {
    const bad = await post(c, `/nodes/${vm.node}/qemu/${vm.vmid}/vncproxy`, 'websocket=1&width=800');
    expect(bad.status).toBe(400);
    expect(bad.json!.errors).toHaveProperty('width');
    const viewer = await ticketLogin(c, NOBODY);
    const denied = await vncproxy(c, vm, { Cookie: viewer.Cookie, CSRFPreventionToken: viewer.CSRFPreventionToken });
    expect(denied.status).toBe(403);
    expect(denied.text).toContain(`/vms/${vm.vmid}, VM.Console`);
    const wrongType = await post(c, `/nodes/${ct.node}/qemu/${ct.vmid}/vncproxy`, 'websocket=1');
    expect(wrongType.status).toBe(500);
  });

  it('relays a real RFB 3.8 session: handshake, ServerInit with the name, the picture, and key presses change it', async () => {
    const { data } = await vncproxy();
    const open = await openWs(c, wsPath('qemu', vm, data), token(c));
    expect('ws' in open).toBe(true);
    const { ws, rfb } = open as { ws: WebSocket; rfb: RfbClient };
    expect(ws.protocol).toBe('binary');
    const init = await rfb.handshake(data.password!);
    expect(init).toEqual({ width: 640, height: 400, name: vm.name });
    const [full] = await rfb.update(false, { x: 0, y: 0, w: 640, h: 400 });
    expect(full.w * full.h).toBe(640 * 400);
    expect(pixelAt(full, 10, 10)).toEqual([...BANNER_RGB]);
    expect(pixelAt(full, COUNTER_RECT.x + 5, 5)).toEqual([...COUNTER_RGB[0]]);
    rfb.key(0x61);
    const changed = await rfb.update(true, { x: 0, y: 0, w: 640, h: 400 });
    const counter = changed.find((r) => r.x === COUNTER_RECT.x)!;
    expect(pixelAt(counter, COUNTER_RECT.x + 5, 5)).toEqual([...COUNTER_RGB[1]]);
    expect(changed.some((r) => r.y === KEY_ROW_Y)).toBe(true);
    ws.close();
  });

  it('refuses a wrong VNC password inside RFB', async () => {
    const { data } = await vncproxy();
    const { rfb } = (await openWs(c, wsPath('qemu', vm, data), token(c))) as { rfb: RfbClient };
    await expect(rfb.handshake('wrong!!!')).rejects.toThrow(/Authentication failure/);
  });

  it('binds the ticket to the caller and the port, and a port takes one connection', async () => {
    const { data } = await vncproxy();
    const user = await ticketLogin(c, USER);
    const asOther = await openWs(c, wsPath('qemu', vm, data), { Cookie: user.Cookie });
    expect(asOther).toMatchObject({ status: 401, reason: 'permission denied - invalid PVEVNC ticket' });
    const otherPort = await openWs(c, wsPath('qemu', vm, { port: data.port === 5999 ? 5998 : data.port + 1, ticket: data.ticket }), token(c));
    expect(otherPort).toMatchObject({ status: 401 });
    const outOfRange = await openWs(c, wsPath('qemu', vm, { port: 6000, ticket: data.ticket }), token(c));
    expect(outOfRange).toMatchObject({ status: 400 });
    const anonymous = await openWs(c, wsPath('qemu', vm, data), {});
    expect(anonymous).toMatchObject({ status: 401 });
    const first = await openWs(c, wsPath('qemu', vm, data), token(c));
    expect('ws' in first).toBe(true);
    const second = await openWs(c, wsPath('qemu', vm, data), token(c));
    expect(second).toEqual({ dropped: true });
    (first as { ws: WebSocket }).ws.close();
  });

  it('a stopped guest closes the console without a word, and a running one closes when it stops', async () => {
    const g = c.guests().filter((x) => x.type === 'qemu' && !x.template)[1];
    if (g.status !== 'stopped') c.powerOutside(g.vmid, 'stop');
    const { data } = await vncproxy(c, g);
    const { rfb } = (await openWs(c, wsPath('qemu', g, data), token(c))) as { rfb: RfbClient };
    await expect(rfb.handshake(data.password!)).rejects.toThrow(/closed/);

    const live = await vncproxy();
    const { ws: ws2, rfb: rfb2 } = (await openWs(c, wsPath('qemu', vm, live.data), token(c))) as { ws: WebSocket; rfb: RfbClient };
    await rfb2.handshake(live.data.password!);
    c.powerOutside(vm.vmid, 'stop');
    await closed(ws2);
    c.powerOutside(vm.vmid, 'start');
  });

  const termLogin = (ws: WebSocket, line: string) => new Promise<string>((resolve) => {
    let got = '';
    ws.on('message', (d: Buffer) => {
      got += d.toString();
      if (got.includes('# ')) resolve(got);
    });
    ws.on('close', () => resolve(got));
    ws.send(line);
  });

  it('termproxy: the login line with the token ticket gets OK, typed text is echoed, resize is read', async () => {
    const r = await post(c, `/nodes/${ct.node}/lxc/${ct.vmid}/termproxy`);
    expect(r.status).toBe(200);
    const t = r.json!.data as Ticketed;
    expect(t.user).toBe(c.tokenId);
    const { ws } = (await openWs(c, wsPath('lxc', ct, t), token(c))) as { ws: WebSocket };
    const banner = await termLogin(ws, `${t.user}:${t.ticket}\n`);
    expect(banner.startsWith('OK')).toBe(true);
    let out = '';
    ws.on('message', (d: Buffer) => { out += d.toString(); });
    ws.send('1:100:30:');
    const typed = 'stty size\r';
    ws.send(`0:${Buffer.byteLength(typed)}:${typed}`);
    await waitFor(() => out.includes('30 100'), 3000, 'the shell to echo');
    expect(out).toContain('stty size');
    ws.close();
  });

  it('termproxy on an older release refuses the token ticket, and takes a user ticket', async () => {
    const ctOld = legacy.guests().find((x) => x.type === 'lxc' && !x.template)!;
    const r = await post(legacy, `/nodes/${ctOld.node}/lxc/${ctOld.vmid}/termproxy`);
    const t = r.json!.data as Ticketed;
    const { ws } = (await openWs(legacy, wsPath('lxc', ctOld, t), token(legacy))) as { ws: WebSocket };
    expect(await termLogin(ws, `${t.user}:${t.ticket}\n`)).toBe('');

    const user = await ticketLogin(legacy, USER);
    const r2 = await post(legacy, `/nodes/${ctOld.node}/lxc/${ctOld.vmid}/termproxy`, '', { Cookie: user.Cookie, CSRFPreventionToken: user.CSRFPreventionToken });
    const t2 = r2.json!.data as Ticketed;
    expect(t2.user).toBe(USER.userid);
    const { ws: ws2 } = (await openWs(legacy, wsPath('lxc', ctOld, t2), { Cookie: user.Cookie })) as { ws: WebSocket };
    expect((await termLogin(ws2, `${t2.user}:${t2.ticket}\n`)).startsWith('OK')).toBe(true);
    ws2.close();
  });
});
