// Your account: who you are signed in as, and a password change (local accounts; the server ends
// your other sessions and keeps this one).
import { LitElement, html, css } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { announce } from '../lib/announce.js';
import { changePassword, type User } from '../lib/session.js';

@customElement('ld-account')
export class AccountPage extends LitElement {
  static override styles = [base, css`
    :host { display: block; max-width: 28rem; }
    form { display: grid; gap: .8rem; }
    label { display: grid; gap: .3rem; font-weight: 600; }
    .ok { color: var(--ok); }
  `];

  @property({ attribute: false }) user?: User;
  @state() private busy = false;
  @state() private error = '';
  @state() private done = false;

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const currentPassword = String(data.get('current') ?? '');
    const newPassword = String(data.get('next') ?? '');
    const again = String(data.get('again') ?? '');
    this.done = false;
    if (!currentPassword || !newPassword) {
      this.error = 'Enter your current password and a new one.';
      return;
    }
    if (newPassword.length < 8) {
      this.error = 'The new password needs at least 8 characters.';
      return;
    }
    if (newPassword !== again) {
      this.error = 'The two new passwords differ.';
      return;
    }
    this.busy = true;
    this.error = '';
    try {
      await changePassword(currentPassword, newPassword);
      form.reset();
      this.done = true;
      announce('Password changed. Your other sessions have been signed out.');
    } catch (err) {
      this.error = (err as Error).message || 'The password could not be changed.';
    } finally {
      this.busy = false;
    }
  }

  override render() {
    const u = this.user;
    return html`<h1>Your account</h1>
      <section class="card" aria-label="Signed in as">
        <p>Signed in as <strong>${u?.displayName}</strong> (${u?.username}, ${u?.role}).</p>
      </section>
      <section class="card" aria-label="Change password">
        <h2>Change password</h2>
        <form @submit=${this.submit} novalidate>
          <label>Current password <input name="current" type="password" autocomplete="current-password" required></label>
          <label>New password <input name="next" type="password" autocomplete="new-password" minlength="8" required></label>
          <label>New password again <input name="again" type="password" autocomplete="new-password" minlength="8" required></label>
          <div role="alert" class="error">${this.error}</div>
          ${this.done ? html`<p class="ok" data-password-changed>Password changed. Your other devices have been signed out; this one stays signed in.</p>` : ''}
          <button class="primary" type="submit" ?disabled=${this.busy}>${this.busy ? 'Changing…' : 'Change password'}</button>
        </form>
      </section>`;
  }
}
