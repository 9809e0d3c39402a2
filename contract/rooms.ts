// socket.io room names: built and parsed here only. A user's sockets share `user:<id>`, a class's
// teachers and projectors `class:<id>`, admins `admin`; every projector socket is also in
// `projector` (so a push for a class's teachers can leave the wall out).

export const ADMIN_ROOM = 'admin';
export const PROJECTOR_ROOM = 'projector';

export const userRoom = (userId: number): string => `user:${userId}`;
export const classRoom = (classId: number): string => `class:${classId}`;

export type Room = { kind: 'admin' } | { kind: 'projector' } | { kind: 'user'; id: number } | { kind: 'class'; id: number };

/** Reads a room name back; null for a name this module does not make. */
export function parseRoom(name: string): Room | null {
  if (name === ADMIN_ROOM) return { kind: 'admin' };
  if (name === PROJECTOR_ROOM) return { kind: 'projector' };
  const m = /^(user|class):([1-9]\d*)$/.exec(name);
  return m ? { kind: m[1] as 'user' | 'class', id: Number(m[2]) } : null;
}

/** The hub's room for one viewer group (sockets with the same set of rooms share one). */
export const groupRoom = (groupKey: string): string => `g:${groupKey}`;
export const isGroupRoom = (name: string): boolean => name.startsWith('g:');
