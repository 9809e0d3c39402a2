// The confirmation before anything destructive: a modal dialog naming what will happen, how many
// VMs or people it touches and which (as the Proxmox UI lists the guests of a bulk action). Focus
// goes to the safe choice and back to the control that opened it; Escape cancels.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import { base } from '../lib/styles.js';

export interface ConfirmOptions {
  title: string;
  message: string;
  /** What it touches, listed (VM names, a user). */
  items?: string[];
  /** The confirm button's words ("Shut down 14 VMs"). */
  confirm: string;
  danger?: boolean;
}

/** The element that has focus, looking inside shadow roots. */
function deepActive(): HTMLElement | null {
  let el = document.activeElement as HTMLElement | null;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement as HTMLElement;
  return el;
}

@customElement('ld-confirm-dialog')
export class ConfirmDialog extends LitElement {
  static override styles = [base, css`
    dialog { border: 1px solid var(--border); border-radius: var(--radius); background: var(--surface); color: var(--text); padding: 1.2rem; max-width: min(34rem, 92vw); box-shadow: 0 8px 30px rgb(0 0 0 / 30%); }
    dialog::backdrop { background: rgb(0 0 0 / 45%); }
    ul { max-height: 14rem; overflow: auto; margin: .6rem 0; padding: .4rem .4rem .4rem 1.4rem; background: var(--surface-2); border-radius: 6px; font-size: .92rem; }
    .buttons { display: flex; gap: .5rem; justify-content: flex-end; margin-top: 1rem; flex-wrap: wrap; }
    button.danger-fill { background: var(--bad); color: var(--accent-text); border-color: var(--bad); }
  `];

  @property({ attribute: false }) options!: ConfirmOptions;
  @query('dialog') private dialog!: HTMLDialogElement;
  resolve: (ok: boolean) => void = () => undefined;

  override firstUpdated(): void {
    this.dialog.showModal();
  }

  private close(ok: boolean): void {
    this.dialog.close();
    this.resolve(ok);
  }

  override render() {
    const o = this.options;
    return html`<dialog aria-labelledby="t" aria-describedby="m" @cancel=${(e: Event) => { e.preventDefault(); this.close(false); }}>
      <h2 id="t">${o.title}</h2>
      <p id="m">${o.message}</p>
      ${o.items?.length ? html`<ul tabindex="0" aria-label="Affected">${o.items.map((i) => html`<li>${i}</li>`)}</ul>` : nothing}
      <div class="buttons">
        <button autofocus @click=${() => this.close(false)}>Cancel</button>
        <button class=${o.danger ? 'danger-fill' : 'primary'} data-confirm @click=${() => this.close(true)}>${o.confirm}</button>
      </div>
    </dialog>`;
  }
}

/** Asks before a destructive action; resolves true when confirmed. Focus returns to where it was. */
export function confirmAction(options: ConfirmOptions): Promise<boolean> {
  const before = deepActive();
  const el = document.createElement('ld-confirm-dialog');
  el.options = options;
  return new Promise<boolean>((resolve) => {
    el.resolve = (ok) => {
      el.remove();
      before?.focus();
      resolve(ok);
    };
    document.body.append(el);
  });
}

declare global {
  interface HTMLElementTagNameMap { 'ld-confirm-dialog': ConfirmDialog }
}
