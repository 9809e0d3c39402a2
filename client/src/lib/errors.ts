// Server errors in words a teacher or student understands, with the next step: the one place that
// maps error codes and Proxmox's reasons to text. Views call `plainError(err)` and show the result
// next to the control or field it concerns.
import { ApiError } from './api.js';

/** The field a 400 names (`{"error":{"field"}}`), for showing the message beside it. */
export function errorField(err: unknown): string | null {
  return err instanceof ApiError ? err.field : null;
}

const PROXMOX: Array<[RegExp, string]> = [
  [/already running/i, 'It is already running.'],
  [/not running/i, 'It is not running.'],
  [/is locked|lock/i, 'Proxmox has it locked for another task (a backup, clone or snapshot). Try again in a minute.'],
  [/template/i, 'It is a template: templates cannot be started. Ask your teacher for a VM made from it.'],
  [/is paused/i, 'It is paused in Proxmox. Ask your teacher to resume it.'],
  [/no such vm|does not exist/i, 'Proxmox no longer has this VM. Ask your teacher.'],
];

const FIELDS: Record<string, string> = {
  ttlHours: 'the lifetime', username: 'the username', vmid: 'the VM id', cluster: 'the cluster', tag: 'the tag', pool: 'the pool name',
  name: 'the name', password: 'the password', newPassword: 'the new password', currentPassword: 'the current password', token: 'the link',
};

/** Plain words for a failed request; `what` names the attempt ("start lab-a-ws-001"). */
export function plainError(err: unknown, what?: string): string {
  const prefix = what ? `Could not ${what}: ` : '';
  if (!(err instanceof ApiError)) return `${prefix}${(err as Error)?.message || 'something went wrong'}. Try again.`;
  const m = err.message;
  switch (err.code) {
    case 'network':
      return `${prefix}labdeck cannot be reached. Check your network; the page reconnects by itself.`;
    case 'unauthorized':
      return 'Your session has ended. Sign in again.';
    case 'forbidden':
      // A class scope's refusal says what the scope allows: that is the next step, so it is shown.
      if (/this class may use|has no scope yet/i.test(m)) return `${prefix}${m.charAt(0).toUpperCase()}${m.slice(1)}.`;
      return `${prefix}you are not allowed to do this. Ask your teacher or an admin if you should be.`;
    case 'too_many_requests':
      return 'Too many tries in a row. Wait a few minutes, then try again.';
    case 'unavailable':
      return `${prefix}that Proxmox cluster is not available to labdeck right now. Try again later or tell an admin.`;
    case 'proxmox_error':
      if (/unreachable/i.test(m)) return `${prefix}Proxmox does not answer right now. Try again in a minute; if it keeps failing, tell an admin.`;
      // Only admins are told Proxmox's own words; everyone else gets a plain message without them.
      return `${prefix}Proxmox did not do it${err.proxmox ? ` (${err.proxmox.replace(/^Proxmox:\s*/, '')})` : ''}. Try again; if it keeps failing, tell your teacher.`;
    case 'conflict': {
      if (/exists on clusters/i.test(m)) return `${prefix}that VM id exists on several clusters. Pick the cluster.`;
      if (/already running on VM|already running\b.*action/i.test(m) || /an action is already running/i.test(m)) return `${prefix}another action on this VM is still under way. Wait for it to finish.`;
      const reason = err.proxmox ?? m;
      for (const [re, text] of PROXMOX) if (re.test(reason)) return `${prefix}${text}`;
      return `${prefix}${m}.`;
    }
    case 'not_found':
      if (/invite/i.test(m)) return 'This invite link has expired or was revoked. Ask your teacher for a new one.';
      if (/projector/i.test(m)) return 'This projector link has expired or was revoked. Create a new one.';
      return `${prefix}${m.charAt(0).toUpperCase()}${m.slice(1)}. It may have been removed; reload the page.`;
    case 'bad_request': {
      if (/link token/i.test(m)) return 'This link is incomplete. Copy the whole link again from your teacher.';
      const field = err.field ? FIELDS[err.field] ?? err.field : null;
      const body = m.replace(/^(body|query|path)( parameter)? [A-Za-z.]+: /, '');
      return `${prefix}${field ? `check ${field}: ` : ''}${body}.`;
    }
    default:
      return `${prefix}${m}. Try again.`;
  }
}
