// Escaping for every view: the `html` tag escapes each interpolated value unless it is already
// markup made by `html` itself, so a view cannot forget to escape a username or a hash value.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escape text for an HTML element body or a quoted attribute value. */
export function escapeHtml (value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c])
}

/** Markup that is already safe: produced by `html`, never by string concatenation of user input. */
export class SafeHtml {
  readonly value: string
  constructor (value: string) { this.value = value }
  toString (): string { return this.value }
}

function render (value: unknown): string {
  if (value instanceof SafeHtml) return value.value
  if (Array.isArray(value)) return value.map(render).join('')
  if (value === undefined || value === null || value === false) return ''
  return escapeHtml(value)
}

/** Tagged template: `html\`<p>${name}</p>\`` escapes `name`; arrays of `html` fragments are joined. */
export function html (strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]
  return new SafeHtml(out)
}
