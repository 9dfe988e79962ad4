// The soak run's chart: one SVG with three panels (app heap, app RSS, Redis used_memory) over time,
// each on its own scale from zero, so growth shows as a rising line. Plain SVG, no dependency.

export interface Sample {
  seconds: number
  heapUsed: number
  rss: number
  redisUsedMemory: number
}

const SERIES = [
  { key: 'heapUsed', label: 'app heap used', color: '#1f77b4' },
  { key: 'rss', label: 'app RSS', color: '#ff7f0e' },
  { key: 'redisUsedMemory', label: 'Redis used_memory', color: '#2ca02c' }
] as const

function escape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

export function soakChart (samples: Sample[], title: string): string {
  const width = 720
  const panel = 160
  const left = 70
  const right = 20
  const top = 40
  const gap = 40
  const height = top + SERIES.length * (panel + gap)
  const maxT = Math.max(1, ...samples.map((s) => s.seconds))
  const x = (t: number): number => left + (t / maxT) * (width - left - right)
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="14">${escape(title)}</text>`
  ]
  SERIES.forEach((series, i) => {
    const y0 = top + i * (panel + gap) + panel
    const values = samples.map((s) => s[series.key])
    const max = Math.max(1, ...values) * 1.1
    const y = (v: number): number => y0 - (v / max) * panel
    const points = samples.map((s) => `${x(s.seconds).toFixed(1)},${y(s[series.key]).toFixed(1)}`).join(' ')
    out.push(
      `<line x1="${left}" y1="${y0}" x2="${width - right}" y2="${y0}" stroke="#999"/>`,
      `<line x1="${left}" y1="${y0 - panel}" x2="${left}" y2="${y0}" stroke="#999"/>`,
      `<text x="${left + 6}" y="${y0 - panel + 14}" fill="${series.color}">${series.label}</text>`,
      `<text x="${left - 6}" y="${y0 - panel + 4}" text-anchor="end">${(max / 1048576).toFixed(1)} MiB</text>`,
      `<text x="${left - 6}" y="${y0}" text-anchor="end">0</text>`,
      `<text x="${width - right}" y="${y0 + 16}" text-anchor="end">${maxT.toFixed(0)} s</text>`,
      `<polyline fill="none" stroke="${series.color}" stroke-width="2" points="${points}"/>`
    )
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
