// The class's audit trail as sentences, newest first: class changes and every power action on its
// VMs (the students' own included, as the server records the class with each action). It reloads
// by itself when a class VM changes state, so a "starting…" line settles without a click.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { classAuditTrail } from '../lib/class-links.js';
import { auditSentence, type AuditRow } from '../lib/audit-text.js';
import { plainError } from '../lib/errors.js';
import type { LiveLink } from '../lib/live.js';
import { vmKey } from '../../../contract/vm.js';

@customElement('ld-class-audit')
export class ClassAudit extends LitElement {
  static override styles = [base, css`
    .scroll { max-height: 20rem; overflow: auto; border-top: 1px solid var(--border); }
    ol { list-style: none; margin: 0; padding: 0; }
    li { display: grid; grid-template-columns: 7rem 1fr; gap: .6rem; padding: .3rem .2rem; border-bottom: 1px solid var(--border); font-size: .92rem; }
    time { color: var(--muted); font-variant-numeric: tabular-nums; }
    .tone-bad-text { color: var(--bad); }
    .tone-busy-text { color: var(--busy); }
    .tone-off-text { color: var(--muted); }
  `];

  @property({ type: Number }) classId = 0;
  @property({ attribute: false }) link?: LiveLink;
  /** Keys of the class's VMs (a change to one of them reloads the trail). */
  @property({ attribute: false }) vmKeys: string[] = [];
  /** username → display name of the class's people. */
  @property({ attribute: false }) names = new Map<string, string>();
  @state() private entries: AuditRow[] | null = null;
  @state() private error = '';
  private off?: () => void;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private loading = false;
  private again = false;

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.off?.();
    clearTimeout(this.timer);
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('link') || changed.has('vmKeys')) {
      this.off?.();
      const keys = new Set(this.vmKeys);
      this.off = this.link?.store.subscribe((changes) => {
        if (changes.some((c) => keys.has((c.after ?? c.before)!.id) && c.before?.status !== c.after?.status)) this.refresh();
      });
    }
    if (changed.has('classId') && this.classId) void this.load();
  }

  /** Reloads soon (coalescing a burst of changes into one request). */
  refresh(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.load(), 300);
  }

  private async load(): Promise<void> {
    if (this.loading) { this.again = true; return; }
    this.loading = true;
    try {
      this.entries = await classAuditTrail(this.classId);
      this.error = '';
      // The outcome is written just after the VM's final state is pushed: look again for young "pending" lines.
      if (this.entries.some((e) => e.outcome === 'pending' && Date.now() - e.at < 15 * 60_000)) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.load(), 1500);
      }
    } catch (err) {
      this.error = plainError(err, 'load the audit trail');
    } finally {
      this.loading = false;
      if (this.again) { this.again = false; void this.load(); }
    }
  }

  private who = (username: string | null) => (username ? this.names.get(username) ?? username : 'labdeck');

  private vmName = (cluster: string, vmid: number) => this.link?.store.vms.get(vmKey(cluster, vmid))?.name ?? `VM ${vmid}`;

  override render() {
    const list = this.entries;
    return html`<section class="card" aria-labelledby="audit-h">
      <h2 id="audit-h">Audit trail</h2>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${list === null ? html`<p class="muted">Loading…</p>` : list.length === 0 ? html`<p class="muted">Nothing recorded yet.</p>` : html`
        <div class="scroll" tabindex="0" role="region" aria-label="Audit trail entries, newest first" data-audit>
          <ol>${list.map((e) => {
            const s = auditSentence(e, this.who, this.vmName);
            const at = new Date(e.at);
            return html`<li data-audit-entry=${e.id} data-outcome=${e.outcome}>
              <time datetime=${at.toISOString()} title=${at.toLocaleString()}>${at.toDateString() === new Date().toDateString() ? at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : at.toLocaleDateString([], { day: 'numeric', month: 'short' })}</time>
              <span class=${s.tone === 'ok' ? '' : `tone-${s.tone}-text`}>${s.text}</span>
            </li>`;
          })}</ol>
        </div>`}
    </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-class-audit': ClassAudit }
}
