// The shared vocabulary: pending states and where they end, the two meanings of "up", room names,
// and one HTTP status per domain error code.
import { describe, expect, it } from 'vitest';
import { countsAsUptime, finalOf, finalOfPending, guestProcessUp, isPending, pendingOf, powerActions, targetOfPending, vmStatuses } from '../../contract/vm.js';
import { ADMIN_ROOM, classRoom, parseRoom, userRoom } from '../../contract/rooms.js';
import { errorCodes, notFound } from '../../contract/errors.js';
import { httpStatusOf, statusOf } from '../../server/http/errors.js';

describe('VM vocabulary', () => {
  it('sends each action through its pending state to its final state', () => {
    for (const a of powerActions) {
      expect(isPending(pendingOf[a])).toBe(true);
      expect(targetOfPending(pendingOf[a])).toBe(finalOf[a]);
    }
    expect(Object.keys(finalOfPending).sort()).toEqual(vmStatuses.filter(isPending).sort());
    expect(targetOfPending('running')).toBeNull();
  });

  it('keeps the two meanings of "up" apart', () => {
    // A paused guest still has its process (a change to paused is not a stop) but is not counted as uptime.
    expect(guestProcessUp('paused')).toBe(true);
    expect(countsAsUptime('paused')).toBe(false);
    // A guest being stopped by labdeck still runs until its action ends: uptime, not yet "down" in Proxmox terms.
    expect(countsAsUptime('stopping')).toBe(true);
    expect(guestProcessUp('stopping')).toBe(false);
    expect(vmStatuses.filter(guestProcessUp)).toEqual(['running', 'paused', 'suspended']);
  });
});

describe('room names', () => {
  it('parses back what it builds, and nothing else', () => {
    expect(parseRoom(userRoom(7))).toEqual({ kind: 'user', id: 7 });
    expect(parseRoom(classRoom(12))).toEqual({ kind: 'class', id: 12 });
    expect(parseRoom(ADMIN_ROOM)).toEqual({ kind: 'admin' });
    for (const bad of ['class:', 'class:0', 'class:1x', 'user:-1', 'g:abc', 'teacher:1']) expect(parseRoom(bad)).toBeNull();
  });
});

describe('domain errors over HTTP', () => {
  it('gives every code one status', () => {
    expect(Object.keys(httpStatusOf).sort()).toEqual([...errorCodes].sort());
    expect(statusOf(notFound('x'))).toBe(404);
  });
});
