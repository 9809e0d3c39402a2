// Teacher/admin — the classes the user teaches, with a form to create one.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { listClasses, createClass, type ClassListRow } from '../lib/classes.js';
import { navigate } from '../lib/router.js';
import type { User } from '../lib/session.js';

@customElement('ld-class-list')
export class ClassList extends LitElement {
  static override styles = [base, css`
    ul { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 18rem), 1fr)); gap: 1rem; }
    li a { display: block; text-decoration: none; color: inherit; }
    li a:hover .card { border-color: var(--accent); }
    form { margin-top: 1rem; }
  `];

  @property({ attribute: false }) user?: User;
  @state() private classes: ClassListRow[] | null = null;
  @state() private error = '';

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.classes = await listClasses();
      if (this.classes.length === 1 && this.user?.role === 'teacher') navigate(`/classes/${this.classes[0].id}`, true);
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  private async create(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('name') as HTMLInputElement;
    const name = input.value.trim();
    if (!name) return;
    try {
      const id = await createClass(name);
      navigate(`/classes/${id}`);
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  override render() {
    return html`<h1>Classes</h1>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.classes === null ? html`<p class="muted">Loading…</p>`
        : this.classes.length === 0 ? html`<p>No classes yet. Create one below, then add VMs to its pool and invite your students with a link.</p>`
        : html`<ul>${this.classes.map((c) => html`<li><a href=${`/classes/${c.id}`}><div class="card">
            <h2>${c.name}</h2><div class="muted">${c.students} students · ${c.vms} VMs</div></div></a></li>`)}</ul>`}
      <form class="row" @submit=${this.create}>
        <label>New class <input name="name" maxlength="100" required></label>
        <button type="submit">Create</button>
      </form>`;
  }
}
