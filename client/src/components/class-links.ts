// A class's links on the teacher page: every active invite and projector link (read from the
// server, so they are still there after a reload) with expiry, uses, Copy, Open and Revoke, and
// new links with a lifetime the teacher picks (a projector link may last a term).
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { activeLinks, createLink, revokeLink, type ClassLink, type LinkKind } from '../lib/class-links.js';
import { plainError } from '../lib/errors.js';
import { announce } from '../lib/announce.js';
import { confirmAction } from './confirm-dialog.js';

const LIFETIMES: Record<LinkKind, Array<[hours: number, label: string]>> = {
  invite: [[24, '1 day'], [24 * 7, '1 week'], [24 * 30, '30 days']],
  projector: [[12, '12 hours'], [24 * 7, '1 week'], [24 * 30, '30 days'], [24 * 120, 'a term (4 months)']],
};
const DEFAULT: Record<LinkKind, number> = { invite: 24 * 7, projector: 24 * 120 };
const NAME: Record<LinkKind, string> = { invite: 'Invite link', projector: 'Projector link' };

@customElement('ld-class-links')
export class ClassLinks extends LitElement {
  static override styles = [base, css`
    .kinds { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 24rem), 1fr)); }
    ul { list-style: none; margin: .4rem 0; padding: 0; display: grid; gap: .5rem; }
    li { border: 1px solid var(--border); border-radius: 6px; padding: .45rem .55rem; display: grid; gap: .3rem; }
    .url { font-family: var(--mono); font-size: .8rem; overflow-wrap: anywhere; }
    .meta { font-size: .85rem; }
    .small { font-size: .85rem; }
    button.small, .button.small { min-height: 1.9rem; padding: .15rem .55rem; font-size: .88rem; }
    form { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; }
    label.life { font-size: .88rem; display: inline-flex; gap: .3rem; align-items: center; }
  `];

  @property({ type: Number }) classId = 0;
  @state() private links: ClassLink[] | null = null;
  @state() private error: Partial<Record<LinkKind, string>> = {};
  @state() private busy = false;

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('classId') && this.classId) void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.links = await activeLinks(this.classId);
    } catch (err) {
      this.error = { invite: plainError(err, 'load the class links') };
    }
  }

  private async create(e: SubmitEvent, kind: LinkKind): Promise<void> {
    e.preventDefault();
    const hours = Number(new FormData(e.target as HTMLFormElement).get('ttl'));
    this.busy = true;
    try {
      const link = await createLink(this.classId, kind, hours);
      this.error = { ...this.error, [kind]: '' };
      announce(`${NAME[kind]} created.`);
      await this.load();
      if (link.url) await this.copy(link, false);
    } catch (err) {
      this.error = { ...this.error, [kind]: plainError(err, `create the ${NAME[kind].toLowerCase()}`) };
    } finally {
      this.busy = false;
    }
  }

  private async revoke(link: ClassLink): Promise<void> {
    const ok = await confirmAction({
      title: `Revoke this ${NAME[link.kind].toLowerCase()}?`,
      message: link.kind === 'projector' ? 'A screen showing it goes dark at once.' : 'Students who have not joined yet can no longer use it; those who joined stay in the class.',
      confirm: 'Revoke', danger: true,
    });
    if (!ok) return;
    try {
      await revokeLink(this.classId, link);
      announce(`${NAME[link.kind]} revoked.`);
      await this.load();
    } catch (err) {
      this.error = { ...this.error, [link.kind]: plainError(err, 'revoke the link') };
    }
  }

  private async copy(link: ClassLink, say = true): Promise<void> {
    try {
      await navigator.clipboard.writeText(link.url!);
      announce(say ? `${NAME[link.kind]} copied.` : `${NAME[link.kind]} created and copied.`);
    } catch {
      if (say) this.error = { ...this.error, [link.kind]: 'Copying did not work here: select the link and copy it by hand.' };
    }
  }

  private renderLink(l: ClassLink) {
    const uses = l.kind === 'invite' ? ` · used ${l.uses} ${l.uses === 1 ? 'time' : 'times'}${l.maxUses !== null ? ` of ${l.maxUses}` : ''}` : '';
    return html`<li data-link=${l.kind} data-link-id=${l.id}>
      ${l.url ? html`<span class="url" data-link-url>${l.url}</span>` : html`<span class="muted small">This link was made before labdeck kept links for copying: revoke it and create a new one to copy it.</span>`}
      <span class="meta muted">expires ${new Date(l.expiresAt).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })}${uses}</span>
      <div class="row">
        ${l.url ? html`<button class="small" @click=${() => this.copy(l)}>Copy</button>` : nothing}
        ${l.url && l.kind === 'projector' ? html`<a class="button small" href=${l.url} target="_blank" rel="noopener">Open</a>` : nothing}
        <button class="small danger" @click=${() => this.revoke(l)}>Revoke</button>
      </div>
    </li>`;
  }

  private renderKind(kind: LinkKind) {
    const mine = (this.links ?? []).filter((l) => l.kind === kind);
    const err = this.error[kind];
    return html`<section aria-label=${`${NAME[kind]}s`} data-links=${kind}>
      <h2>${NAME[kind]}s</h2>
      <p class="muted small">${kind === 'invite' ? 'Students who follow it (and sign in) join this class.' : 'A read-only view of this class for a classroom PC; no sign-in needed.'}</p>
      ${this.links === null ? html`<p class="muted small">Loading…</p>` : mine.length ? html`<ul>${mine.map((l) => this.renderLink(l))}</ul>` : html`<p class="small" data-no-links>No active ${NAME[kind].toLowerCase()}.</p>`}
      <form @submit=${(e: SubmitEvent) => this.create(e, kind)}>
        <label class="life">Lasts <select name="ttl" aria-label=${`Lifetime of a new ${NAME[kind].toLowerCase()}`}>
          ${LIFETIMES[kind].map(([h, label]) => html`<option value=${h} ?selected=${h === DEFAULT[kind]}>${label}</option>`)}</select></label>
        <button type="submit" ?disabled=${this.busy}>Create ${NAME[kind].toLowerCase()}</button>
      </form>
      ${err ? html`<p class="error small" role="alert">${err}</p>` : nothing}
    </section>`;
  }

  override render() {
    return html`<div class="card kinds">${this.renderKind('invite')}${this.renderKind('projector')}</div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-class-links': ClassLinks }
}
