// The sign-in page: username and password, and where the server allows it a choice of signing in
// with Proxmox credentials through a cluster; the server's message when refused.
import { LitElement, html, css } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { signIn, signInMethods, type ProxmoxMethod, type DemoAccounts } from '../lib/session.js';

@customElement('ld-sign-in')
export class SignIn extends LitElement {
  static override styles = [base, css`
    :host { max-width: 24rem; margin: 8vh auto 0; }
    form { display: grid; gap: .8rem; }
    label { display: grid; gap: .3rem; font-weight: 600; }
    h1 { font-size: 1.6rem; }
    .hint { font-weight: 400; font-size: .85rem; }
    .demo { margin: .8rem 0 0; font-size: .9rem; }
  `];

  @state() private busy = false;
  @state() private error = '';
  @state() private methods: ProxmoxMethod[] = [];
  @state() private via = '';
  @state() private demo: DemoAccounts | null = null;

  override connectedCallback(): void {
    super.connectedCallback();
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
    try {
      const user = await signIn(username, password, this.via || undefined);
      this.dispatchEvent(new CustomEvent('signed-in', { detail: user, bubbles: true, composed: true }));
    } catch (err) {
      this.error = (err as Error).message || 'Sign-in failed.';
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
