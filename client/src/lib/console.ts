// The console page's plain parts: asking for a console link, where its WebSocket goes, the
// termproxy framing a terminal speaks, keysyms for pasted text, and what a closed console means
// in words (pure functions apart from the two requests).
import { apiGet, apiPost, ApiError } from './api.js';

import type { ConsoleLink } from '../../../contract/console.js';
import type { Vm } from '../../../contract/vm.js';

export type { ConsoleLink, ConsoleWatcher } from '../../../contract/console.js';

/** Asks labdeck for a one-time console link (control: a teacher taking over a student's VM). */
export function requestConsole(cluster: string, vmid: number, control = false): Promise<ConsoleLink> {
  return apiPost<ConsoleLink>(`/api/vm/${vmid}/console?cluster=${encodeURIComponent(cluster)}`, control ? { control: true } : {});
}

/** The absolute WebSocket URL of a link's path on this page's origin. */
export function socketUrl(path: string, loc: { protocol: string; host: string } = location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}${path}`;
}

/** termproxy's data message for typed text: `0:<byte length>:<text>`. */
export function termData(text: string): string {
  return `0:${new TextEncoder().encode(text).length}:${text}`;
}

/** termproxy's resize message. */
export function termResize(cols: number, rows: number): string {
  return `1:${cols}:${rows}:`;
}

/** The X keysym of a character typed from pasted text (Latin-1 as is, the rest as Unicode keysyms). */
export function keysymOf(ch: string): number {
  if (ch === '\n' || ch === '\r') return 0xff0d;
  if (ch === '\t') return 0xff09;
  const cp = ch.codePointAt(0)!;
  return cp < 0x100 ? cp : 0x01000000 + cp;
}

/** Close codes of the relay and what to tell the person. */
const CLOSE_TEXT: Record<number, string> = {
  4001: 'Your session has ended. Sign in again to reconnect.',
  4003: 'You no longer have access to this VM.',
  4009: 'The VM stopped. Start it, then reconnect.',
  4502: 'Proxmox closed the console.',
  1001: 'labdeck is restarting. Reconnect in a moment.',
};

/** Words for a relay close code, when it has a known meaning. */
export function closeText(code: number): string | null {
  return CLOSE_TEXT[code] ?? null;
}

/**
 * Why a console closed without a code we know (noVNC does not pass it on): asks the VM's status,
 * which answers 401 (signed out), 403 (no access) or the VM's power state.
 */
export async function whyClosed(cluster: string, vmid: number): Promise<string> {
  try {
    const vm = await apiGet<Pick<Vm, 'status'>>(`/api/vm/${vmid}/status?cluster=${encodeURIComponent(cluster)}`);
    if (vm.status === 'stopped') return CLOSE_TEXT[4009];
    return 'The console connection was lost.';
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return CLOSE_TEXT[4001];
    if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return CLOSE_TEXT[4003];
    return 'The console connection was lost.';
  }
}
