// Admin — users: list everyone, add a local account, change a role, disable or re-enable, set a new
// password. The server ends the sessions of anyone whose rights or password change.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { apiGet, apiPost, apiPatch } from '../lib/api.js';
import { announce } from '../lib/announce.js';
import type { User as Me } from '../lib/session.js';
import type { User } from '../../../server/auth/users.js';

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

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.users = (await apiGet<{ users: User[] }>('/api/users')).users;
    } catch (err) {
      this.error = (err as Error).message;
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
      this.error = (err as Error).message;
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

  private patch(u: User, change: Record<string, unknown>, said: string): void {
    void this.run(() => apiPatch(`/api/users/${u.id}`, change), said);
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
          <thead><tr><th>User</th><th>Signs in with</th><th>Role</th><th>State</th><th></th></tr></thead>
          <tbody>${list.map((u) => {
            const self = u.id === this.me?.id;
            const local = u.source === 'local';
            return html`<tr data-user=${u.username} class=${u.disabled ? 'disabled' : ''}>
              <td>${u.displayName} <span class="muted small">${u.username}</span></td>
              <td class="small">${local ? 'labdeck password' : `Proxmox (${u.source.replace(/^pve:/, '')})`}</td>
              <td><select aria-label=${`Role of ${u.username}`} ?disabled=${this.busy || self}
                @change=${(e: Event) => this.patch(u, { role: (e.target as HTMLSelectElement).value }, `${u.username} is now ${(e.target as HTMLSelectElement).value}.`)}>
                ${ROLES.map((r) => html`<option value=${r} ?selected=${u.role === r}>${r}</option>`)}</select></td>
              <td>${u.disabled ? html`<span class="badge tone-off">Disabled</span>` : html`<span class="badge tone-ok">Active</span>`}</td>
              <td><div class="row">
                ${self ? html`<span class="muted small">you (change your password under <a href="/account">your account</a>)</span>` : html`<button class="small" ?disabled=${this.busy}
                  @click=${() => this.patch(u, { disabled: !u.disabled }, `${u.username} ${u.disabled ? 'enabled' : 'disabled'}.`)}>${u.disabled ? 'Enable' : 'Disable'}</button>`}
                ${local && !self ? html`<button class="small" ?disabled=${this.busy} @click=${() => this.resetPassword(u)}>Set password</button>` : nothing}
              </div></td>
            </tr>`;
          })}</tbody>
        </table></div>`}
      </section>`;
  }
}
