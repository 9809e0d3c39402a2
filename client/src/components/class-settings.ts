// Class settings, folded away under the class page: rename, co-teachers, enrol or remove a student
// by username, and delete the class (owner or admin), each error shown under its own form.
// Removing a student and deleting the class ask first. Tells the page to reload after each change.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { announce } from '../lib/announce.js';
import { navigate } from '../lib/router.js';
import type { User } from '../lib/session.js';
import { plainError } from '../lib/errors.js';
import { confirmAction } from './confirm-dialog.js';

type Section = 'name' | 'teachers' | 'students' | 'delete';
import { renameClass, deleteClass, addTeacher, removeTeacher, addStudent, removeStudent, type ClassDetail } from '../lib/classes.js';

@customElement('ld-class-settings')
export class ClassSettings extends LitElement {
  static override styles = [base, css`
    :host { display: block; margin: 0 0 1rem; }
    summary { cursor: pointer; font-weight: 600; padding: .2rem 0; }
    .grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 18rem), 1fr)); margin-top: .6rem; }
    form { display: flex; gap: .4rem; flex-wrap: wrap; align-items: end; }
    form input, form select { flex: 1 1 10rem; min-width: 0; }
    ul { list-style: none; padding: 0; margin: .3rem 0 .6rem; }
    li { display: flex; gap: .5rem; align-items: center; padding: .2rem 0; }
    h3 { margin: 0 0 .4rem; font-size: 1rem; }
    .field-error { font-size: .88rem; margin: .3rem 0 0; }
  `];

  @property({ attribute: false }) detail?: ClassDetail;
  @property({ attribute: false }) user?: User;
  @state() private busy = false;
  @state() private errors: Partial<Record<Section, string>> = {};

  private async run(section: Section, what: string, fn: () => Promise<void>, said: string, form?: HTMLFormElement): Promise<void> {
    this.busy = true;
    try {
      await fn();
      this.errors = {};
      form?.reset();
      announce(said);
      this.dispatchEvent(new CustomEvent('class-changed', { bubbles: true, composed: true }));
    } catch (err) {
      const text = plainError(err, what);
      this.errors = { [section]: text };
      announce(text);
    } finally {
      this.busy = false;
    }
  }

  private fieldError(section: Section) {
    const text = this.errors[section];
    return text ? html`<p class="error field-error" role="alert">${text}</p>` : nothing;
  }

  private field(e: SubmitEvent, name: string): [HTMLFormElement, string] {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    return [form, String(new FormData(form).get(name) ?? '').trim()];
  }

  private onRename(e: SubmitEvent): void {
    const [form, name] = this.field(e, 'name');
    if (name) void this.run('name', 'rename the class', () => renameClass(this.detail!.id, name), `Class renamed to ${name}.`, form);
  }

  private onAddTeacher(e: SubmitEvent): void {
    const [form, username] = this.field(e, 'username');
    if (username) void this.run('teachers', `add ${username} as a co-teacher`, () => addTeacher(this.detail!.id, username), `${username} now teaches this class.`, form);
  }

  private onAddStudent(e: SubmitEvent): void {
    const [form, username] = this.field(e, 'username');
    if (username) void this.run('students', `add ${username}`, () => addStudent(this.detail!.id, username), `${username} joined the class.`, form);
  }

  private async onRemoveStudent(e: SubmitEvent): Promise<void> {
    const [form, id] = this.field(e, 'student');
    const s = this.detail!.students.find((x) => String(x.id) === id);
    if (!s) { this.errors = { students: 'Choose the student to remove.' }; return; }
    if (!(await confirmAction({ title: `Take ${s.displayName} out of ${this.detail!.name}?`, message: 'Their VM assignments in this class end; the VMs stay in Proxmox. You can add them again by username.', confirm: 'Remove from class', danger: true }))) return;
    void this.run('students', `remove ${s.displayName}`, () => removeStudent(this.detail!.id, s.id), `${s.displayName} left the class.`, form);
  }

  private async onDelete(): Promise<void> {
    const d = this.detail!;
    if (!(await confirmAction({ title: `Delete the class ${d.name}?`, message: 'Its students lose access to its VMs, and its links stop working. The VMs themselves are not touched.', confirm: 'Delete class', danger: true }))) return;
    this.busy = true;
    try {
      await deleteClass(d.id);
      announce(`Class ${d.name} deleted.`);
      navigate('/classes');
    } catch (err) {
      this.errors = { delete: plainError(err, 'delete the class') };
    } finally {
      this.busy = false;
    }
  }

  override render() {
    const d = this.detail;
    if (!d) return nothing;
    const u = this.user;
    const mayDelete = u?.role === 'admin' || d.teachers.some((t) => t.id === u?.id && t.owner);
    return html`<details class="card">
      <summary>Class settings: name, teachers, students</summary>
      <div class="grid">
        <section aria-label="Rename class">
          <h3>Name</h3>
          <form @submit=${this.onRename}>
            <input name="name" aria-label="New class name" .value=${d.name} maxlength="100" required>
            <button type="submit" ?disabled=${this.busy}>Rename</button>
          </form>${this.fieldError('name')}
        </section>
        <section aria-label="Teachers">
          <h3>Teachers</h3>
          <ul>${d.teachers.map((t) => html`<li data-teacher=${t.username}>${t.displayName} <span class="muted small">${t.username}${t.owner ? ' · owner' : ''}</span>
            ${t.owner ? nothing : html`<button class="small" ?disabled=${this.busy} aria-label=${`Remove ${t.displayName} as teacher`}
              @click=${() => this.run('teachers', `remove ${t.displayName}`, () => removeTeacher(d.id, t.id), `${t.displayName} no longer teaches this class.`)}>Remove</button>`}</li>`)}</ul>
          <form @submit=${this.onAddTeacher}>
            <input name="username" aria-label="Co-teacher's username" placeholder="username of a teacher" autocapitalize="none" spellcheck="false" required>
            <button type="submit" ?disabled=${this.busy}>Add co-teacher</button>
          </form>${this.fieldError('teachers')}
        </section>
        <section aria-label="Students">
          <h3>Students</h3>
          <form @submit=${this.onAddStudent}>
            <input name="username" aria-label="Student's username" placeholder="username of a student" autocapitalize="none" spellcheck="false" required>
            <button type="submit" ?disabled=${this.busy}>Add student</button>
          </form>${this.fieldError('students')}
          ${d.students.length ? html`<form @submit=${this.onRemoveStudent} style="margin-top:.5rem">
            <select name="student" aria-label="Student to remove" required>
              <option value="">choose a student</option>
              ${d.students.map((s) => html`<option value=${s.id}>${s.displayName} (${s.username})</option>`)}
            </select>
            <button type="submit" class="danger" ?disabled=${this.busy}>Remove from class</button>
          </form>` : nothing}
        </section>
        ${mayDelete ? html`<section aria-label="Delete class">
          <h3>Delete</h3>
          <p class="muted small">Ends the class: students lose access to its VMs; the VMs stay in Proxmox.</p>
          <button class="danger" ?disabled=${this.busy} @click=${this.onDelete}>Delete this class</button>${this.fieldError('delete')}
        </section>` : nothing}
      </div>
    </details>`;
  }
}
