// Admin — users: list everyone, add a local account, change a role, disable or re-enable, set a new
// password. Role changes and disabling ask first and can be undone; the server ends the sessions
// of anyone whose rights or password change.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { apiGet, apiPost, apiPatch } from '../lib/api.js';
import { announce } from '../lib/announce.js';
import { plainError } from '../lib/errors.js';
import { confirmAction } from './confirm-dialog.js';
import type { User as Me } from '../lib/session.js';
import type { User, UserListResponse } from '../../../contract/users.js';

const ROLES = ['student', 'teacher', 'admin'] as const;

@customElement('ld-user-admin')
export class UserAdmin extends LitElement {
  static override styles = [base, css`
    form.add { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
    form.add label { display: grid; gap: .2rem; font-size: .9rem; }
    .scroll { overflow-x: auto; }
    td { vertical-align: middle; }
    tr.disabled td { color: var(--muted); }
    .filter { max-width: 20rem; margin: .6rem 0; }
  `];

  @property({ attribute: false }) me?: Me;
  @state() private users: User[] | null = null;
  @state() private error = '';
  @state() private busy = false;
  @state() private q = '';
  @state() private undo: { text: string; act: () => void } | null = null;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.users = (await apiGet<UserListResponse>('/api/users')).users;
    } catch (err) {
      this.error = plainError(err, 'load the users');
    }
  }

  private async run(fn: () => Promise<unknown>, said: string): Promise<boolean> {
    this.busy = true;
    try {
      await fn();
      this.error = '';
      announce(said);
      await this.load();
      return true;
    } catch (err) {
      this.error = plainError(err, said.replace(/\.$/, '').toLowerCase());
      announce(this.error);
      return false;
    } finally {
      this.busy = false;
    }
  }

  private async onAdd(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const d = new FormData(form);
    const username = String(d.get('username') ?? '').trim();
    const displayName = String(d.get('displayName') ?? '').trim();
    const password = String(d.get('password') ?? '');
    const role = String(d.get('role') ?? 'student');
    if (!username || password.length < 8) {
      this.error = 'A new user needs a username and a password of at least 8 characters.';
      return;
    }
    const ok = await this.run(() => apiPost('/api/users', { username, password, role, ...(displayName ? { displayName } : {}) }), `User ${username} added.`);
    if (ok) form.reset();
  }

  private patch(u: User, change: Record<string, unknown>, said: string): Promise<boolean> {
    return this.run(() => apiPatch(`/api/users/${u.id}`, change), said);
  }

  /** A role change asks first (it changes what the person may see and do) and can be undone. */
  private async changeRole(u: User, select: HTMLSelectElement): Promise<void> {
    const role = select.value as User['role'];
    const before = u.role;
    const ok = await confirmAction({
      title: `Make ${u.displayName} ${role === 'admin' ? 'an admin' : `a ${role}`}?`,
      message: `${role === 'admin' ? 'Admins see and act on every VM, class and user.' : role === 'teacher' ? 'Teachers run their classes and see those classes\' VMs.' : 'Students see only the VMs assigned to them.'} ${u.username} is signed out everywhere and signs in again with the new rights.`,
      confirm: `Make ${role}`, danger: role === 'admin' || before === 'admin',
    });
    if (!ok) {
      select.value = before;
      return;
    }
    if (await this.patch(u, { role }, `${u.username} is now ${role}.`)) {
      this.undo = { text: `${u.username} is now ${role}.`, act: () => void this.patch(u, { role: before }, `${u.username} is ${before} again.`) };
    } else {
      select.value = before;
    }
  }

  /** Disabling asks first (it signs the person out at once) and can be undone; enabling does not ask. */
  private async toggleDisabled(u: User): Promise<void> {
    if (!u.disabled && !(await confirmAction({
      title: `Disable ${u.displayName}?`,
      message: `${u.username} is signed out everywhere at once and cannot sign in until an admin enables the account again. Their classes and VMs stay as they are.`,
      confirm: 'Disable', danger: true,
    }))) return;
    const disabled = !u.disabled;
    if (await this.patch(u, { disabled }, `${u.username} ${disabled ? 'disabled' : 'enabled'}.`) && disabled) {
      this.undo = { text: `${u.username} is disabled.`, act: () => void this.patch(u, { disabled: false }, `${u.username} enabled again.`) };
    }
  }

  private resetPassword(u: User): void {
    const password = prompt(`New password for ${u.username} (at least 8 characters). Their sessions end.`);
    if (password === null) return;
    if (password.length < 8) {
      this.error = 'The new password needs at least 8 characters.';
      return;
    }
    this.patch(u, { password }, `Password of ${u.username} changed.`);
  }

  override render() {
    const q = this.q.trim().toLowerCase();
    const list = (this.users ?? []).filter((u) => !q || u.username.toLowerCase().includes(q) || u.displayName.toLowerCase().includes(q));
    return html`<h1>Users</h1>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.undo ? html`<p class="row" role="status" data-undo><span>${this.undo.text}</span>
        <button class="small" @click=${() => { const u = this.undo!; this.undo = null; u.act(); }}>Undo</button></p>` : nothing}
      <section class="card" aria-label="Add a user">
        <h2>Add a local account</h2>
        <form class="add" @submit=${this.onAdd}>
          <label>Username <input name="username" autocapitalize="none" spellcheck="false" required></label>
          <label>Display name <input name="displayName"></label>
          <label>Password <input name="password" type="password" autocomplete="new-password" minlength="8" required></label>
          <label>Role <select name="role">${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}</select></label>
          <button class="primary" type="submit" ?disabled=${this.busy}>Add user</button>
        </form>
      </section>
      <section class="card" aria-label="All users" style="margin-top:1rem">
        <input class="filter" type="search" aria-label="Search users" placeholder="Search users" @input=${(e: InputEvent) => { this.q = (e.target as HTMLInputElement).value; }}>
        ${this.users === null ? html`<p class="muted">Loading…</p>` : html`<div class="scroll"><table>
          <thead><tr><th>User</th><th>Signs in with</th><th>Role</th><th>State</th><th>Actions</th></tr></thead>
          <tbody>${list.map((u) => {
            const self = u.id === this.me?.id;
            const local = u.source === 'local';
            return html`<tr data-user=${u.username} class=${u.disabled ? 'disabled' : ''}>
              <td>${u.displayName} <span class="muted small">${u.username}</span></td>
              <td class="small">${local ? 'labdeck password' : `Proxmox (${u.source.replace(/^pve:/, '')})`}</td>
              <td><select aria-label=${`Role of ${u.username}`} ?disabled=${this.busy || self}
                @change=${(e: Event) => this.changeRole(u, e.target as HTMLSelectElement)}>
                ${ROLES.map((r) => html`<option value=${r} ?selected=${u.role === r}>${r}</option>`)}</select></td>
              <td>${u.disabled ? html`<span class="badge tone-off">Disabled</span>` : html`<span class="badge tone-ok">Active</span>`}</td>
              <td><div class="row">
                ${self ? html`<span class="muted small">you (change your password under <a href="/account">your account</a>)</span>` : html`<button class="small" ?disabled=${this.busy}
                  @click=${() => this.toggleDisabled(u)}>${u.disabled ? 'Enable' : 'Disable'}</button>`}
                ${local && !self ? html`<button class="small" ?disabled=${this.busy} @click=${() => this.resetPassword(u)}>Set password</button>` : nothing}
              </div></td>
            </tr>`;
          })}</tbody>
        </table></div>`}
      </section>`;
  }
}
