// Following an invite link: shows the class and lets a signed-in student join it.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { inviteInfo, acceptInvite } from '../lib/classes.js';
import { navigate } from '../lib/router.js';
import { announce } from '../lib/announce.js';
import type { User } from '../lib/session.js';

@customElement('ld-invite')
export class InvitePage extends LitElement {
  static override styles = [base, css`:host { max-width: 30rem; margin: 6vh auto 0; }`];

  @property() token = '';
  @property({ attribute: false }) user?: User;
  @state() private name = '';
  @state() private error = '';
  @state() private busy = false;

  override connectedCallback(): void {
    super.connectedCallback();
    inviteInfo(this.token).then((i) => { this.name = i.name; }, (err: Error) => { this.error = err.message; });
  }

  private async join(): Promise<void> {
    this.busy = true;
    try {
      const res = await acceptInvite(this.token);
      announce(`You joined ${res.name}.`);
      navigate('/my', true);
    } catch (err) {
      this.error = (err as Error).message;
    } finally {
      this.busy = false;
    }
  }

  override render() {
    return html`<div class="card">
      <h1>Join a class</h1>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.name ? html`<p>You have been invited to <strong>${this.name}</strong>.</p>
        ${this.user?.role === 'student'
          ? html`<button class="primary" @click=${this.join} ?disabled=${this.busy}>Join ${this.name}</button>`
          : html`<p class="muted">Only student accounts join classes through invite links.</p>`}` : this.error ? nothing : html`<p class="muted">Loading…</p>`}
    </div>`;
  }
}
