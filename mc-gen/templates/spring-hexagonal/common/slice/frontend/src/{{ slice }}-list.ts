import { LitElement, html } from "lit";

/** One {{ slice }} as the slice's HTTP API (/api/{{ slice }}s) returns it. */
export interface {{ Slice }} {
  id: string;
  title: string;
  done: boolean;
}

/** `<{{ slice }}-list>`: the {{ slice }}s, a form to open one, a button to complete each. */
export class {{ Slice }}List extends LitElement {
  static properties = { {{ slice }}s: { state: true } };

  declare {{ slice }}s: {{ Slice }}[];

  constructor() {
    super();
    this.{{ slice }}s = [];
  }

  connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  async load(): Promise<void> {
    const response = await fetch("/api/{{ slice }}s");
    this.{{ slice }}s = response.ok ? await response.json() : [];
  }

  async open(title: string): Promise<void> {
    await fetch("/api/{{ slice }}s", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ title }),
    });
    await this.load();
  }

  async complete(id: string): Promise<void> {
    await fetch(`/api/{{ slice }}s/${id}/complete`, { method: "POST" });
    await this.load();
  }

  render() {
    return html`
      <form @submit=${(event: Event) => {
        event.preventDefault();
        const input = this.renderRoot.querySelector("input");
        if (input && input.value.trim()) void this.open(input.value);
      }}>
        <input name="title" placeholder="New {{ slice }}" />
        <button type="submit">Open</button>
      </form>
      <ul>
        ${this.{{ slice }}s.map(
          ({{ slice }}) => html`<li class=${ {{ slice }}.done ? "done" : "open"}>
            ${ {{ slice }}.title}
            ${ {{ slice }}.done ? "" : html`<button @click=${() => this.complete({{ slice }}.id)}>Done</button>`}
          </li>`,
        )}
      </ul>
    `;
  }
}

customElements.define("{{ slice }}-list", {{ Slice }}List);
