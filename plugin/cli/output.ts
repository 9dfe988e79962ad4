// What the CLI prints: aligned tables and terminal histograms on stdout, one-line errors and a
// progress line on stderr. --json replaces all of stdout with one JSON document.

export interface Output {
  out: (text: string) => void
  err: (text: string) => void
  /** Whether stderr is a terminal (the progress line then rewrites itself in place). */
  errIsTTY: boolean
}

/** Columns padded to their widest cell; `right` columns (numbers) aligned to the right. */
export function table (headers: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]): string => cells
    .map((c, i) => right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))
    .join('  ')
    .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n') + '\n'
}

/** One bar per bucket, scaled to the largest, with its count and share. */
export function histogram (buckets: Array<{ label: string, count: number }>, width = 40): string {
  const max = Math.max(1, ...buckets.map((b) => b.count))
  const total = buckets.reduce((sum, b) => sum + b.count, 0)
  const rows = buckets.map((b) => [
    b.label,
    '█'.repeat(Math.round((b.count / max) * width)) || (b.count > 0 ? '▏' : ''),
    String(b.count),
    total === 0 ? '' : `${((b.count / total) * 100).toFixed(1)} %`
  ])
  const labelWidth = Math.max(...rows.map((r) => r[0].length))
  const countWidth = Math.max(...rows.map((r) => r[2].length))
  return rows.map((r) => `  ${r[0].padStart(labelWidth)}  ${r[1].padEnd(width)}  ${r[2].padStart(countWidth)}  ${r[3]}`.trimEnd()).join('\n') + '\n'
}

/** "42 s", "5 min", "3 h 20 min", "2 d 4 h": a duration in seconds, to two units. */
export function duration (seconds: number): string {
  if (seconds < 60) return `${seconds} s`
  const units: Array<[string, number]> = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]]
  const parts: string[] = []
  let rest = Math.floor(seconds)
  for (const [unit, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`)
      rest %= size
    }
    if (parts.length === 2) break
  }
  return parts.join(' ')
}

export function bytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** A cell shortened to `max` characters, on one line. */
export function cell (text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]/g, ' ')
  return flat.length <= max ? flat : flat.slice(0, max - 1) + '…'
}

/**
 * "scanned 12,000 keys…" on stderr at most once a second while a scan runs (always with --progress,
 * never with --no-progress, otherwise only on a terminal), rewritten in place on a terminal.
 */
export class Progress {
  readonly #output: Output
  readonly #enabled: boolean
  #last = 0
  #shown = false

  constructor (output: Output, mode: boolean | undefined) {
    this.#output = output
    this.#enabled = mode ?? output.errIsTTY
  }

  tick (scanned: number): void {
    if (!this.#enabled) return
    const now = Date.now()
    if (now - this.#last < 1000) return
    this.#last = now
    this.#shown = true
    this.#write(`scanned ${scanned.toLocaleString('en-US')} keys…`)
  }

  done (scanned: number): void {
    if (!this.#shown) return
    this.#write(`scanned ${scanned.toLocaleString('en-US')} keys`)
    if (this.#output.errIsTTY) this.#output.err('\n')
  }

  #write (text: string): void {
    this.#output.err(this.#output.errIsTTY ? `\r\u001b[K${text}` : text + '\n')
  }
}

/** "label   value" lines, the labels padded to the longest. */
export function pairs (rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([label]) => label.length))
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n') + '\n'
}
