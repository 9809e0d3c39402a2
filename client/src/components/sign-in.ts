// The sign-in page: username and password, and where the server allows it a choice of signing in
// with Proxmox credentials through a cluster; the server's message when refused, why an earlier
// session ended, and the class a followed invite link leads to.
import { LitElement, html, css } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { signIn, signInMethods, endedReason, endedText, type ProxmoxMethod, type DemoAccounts } from '../lib/session.js';
import { inviteInfo } from '../lib/classes.js';
import { plainError } from '../lib/errors.js';
import { ApiError } from '../lib/api.js';

@customElement('ld-sign-in')
export class SignIn extends LitElement {
  static override styles = [base, css`
    :host { max-width: 24rem; margin: 8vh auto 0; }
    form { display: grid; gap: .8rem; }
    label { display: grid; gap: .3rem; font-weight: 600; }
    h1 { font-size: 1.6rem; }
    .hint { font-weight: 400; font-size: .85rem; }
    .demo { margin: .8rem 0 0; font-size: .9rem; }
    .notice { background: var(--surface-2); border-left: 4px solid var(--accent); padding: .5rem .7rem; border-radius: 4px; }
  `];

  @state() private busy = false;
  @state() private error = '';
  @state() private methods: ProxmoxMethod[] = [];
  @state() private via = '';
  @state() private demo: DemoAccounts | null = null;
  @state() private ended = endedText(endedReason);
  @state() private invitedTo = '';
  @state() private inviteError = '';

  override connectedCallback(): void {
    super.connectedCallback();
    document.title = 'Sign in · labdeck';
    const next = new URLSearchParams(location.search).get('next') ?? '';
    const invite = /^\/invite\/([A-Za-z0-9_-]{20,100})$/.exec(next);
    if (invite) {
      inviteInfo(invite[1]).then((i) => { this.invitedTo = i.name; }, (err) => { this.inviteError = plainError(err); });
    }
    void signInMethods().then((m) => {
      this.methods = m.proxmox;
      this.demo = m.demo;
    });
  }

  private async submit(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const username = String(data.get('username') ?? '').trim();
    const password = String(data.get('password') ?? '');
    if (!username || !password) {
      this.error = 'Enter your username and password.';
      return;
    }
    this.busy = true;
    this.error = '';
    this.ended = null;
    try {
      const user = await signIn(username, password, this.via || undefined);
      this.dispatchEvent(new CustomEvent('signed-in', { detail: user, bubbles: true, composed: true }));
    } catch (err) {
      this.error = err instanceof ApiError && err.status === 401 ? 'Wrong username or password. Check both and try again.' : plainError(err, 'sign in');
      (form.elements.namedItem('password') as HTMLInputElement | null)?.focus();
    } finally {
      this.busy = false;
    }
  }

  private demoNames(users: string[]) {
    const [first, second, ...rest] = users;
    const students = rest.length === 2 ? html`<code>${rest[0]}</code> … <code>${rest[1]}</code>` : rest.map((u) => html`<code>${u}</code> `);
    return html`<code>${first}</code>, <code>${second}</code> or ${students}`;
  }

  override render() {
    return html`<div class="card">
      <h1>Sign in to labdeck</h1>
      ${this.ended ? html`<p class="notice" role="status" data-ended>${this.ended}</p>` : ''}
      ${this.invitedTo ? html`<p class="notice" data-invited>You are invited to <strong>${this.invitedTo}</strong>. Sign in to join it.</p>` : ''}
      ${this.inviteError ? html`<p class="error" data-invited>${this.inviteError}</p>` : ''}
      <form @submit=${this.submit} novalidate>
        ${this.methods.length ? html`<label>Account
          <select name="via" @change=${(e: Event) => { this.via = (e.target as HTMLSelectElement).value; }}>
            <option value="">labdeck account</option>
            ${this.methods.map((m) => html`<option value=${m.cluster}>Proxmox account on ${m.name}</option>`)}
          </select>
          ${this.via ? html`<span class="muted hint">Your Proxmox user name without the realm (realm ${this.methods.find((m) => m.cluster === this.via)?.realm}).</span>` : ''}
        </label>` : ''}
        <label>Username <input name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <div role="alert" class="error">${this.error}</div>
        <button class="primary" type="submit" ?disabled=${this.busy}>${this.busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
      ${this.demo ? html`<p class="demo muted" data-demo-hint>Demo mode: sign in as ${this.demoNames(this.demo.users)} with the password <code>${this.demo.password}</code>.</p>` : ''}
    </div>`;
  }
}
