// The session page: who you are, the counter, the TTL counting down, the raw Redis hash and the
// redis-cli commands to look at it yourself, the forms that change it, and (hidden until the
// countdown reaches zero and the server confirms) the "session expired" panel with a login form.
import type { UserSession } from '../../plugin'
import { html, type SafeHtml } from './html'
import { layout } from './layout'
import { loginForm, type TtlChoice } from './login'

export interface SessionView {
  username: string
  pageViews: number
  /** The session's configured idle TTL in seconds. */
  ttl: number
  /** Seconds before Redis expires the hash, as Redis reported it. */
  expiresIn: number
  createdAt?: Date
  lastAccessedAt?: Date
  /** The Redis key, as redis-cli sees it, and the prefix every session key starts with. */
  key: string
  prefix: string
  /** HGETALL of the key, in Redis's order. */
  hash: Record<string, string>
  /** Field names the plugin owns. */
  reservedFields: ReadonlySet<string>
  csrfToken: string
  /** This user's sessions (listUserSessions), and which one is this browser's. */
  sessions: readonly UserSession[]
  currentHandle: string
  /** With absoluteTtl: when the session ends however active it is. */
  expiresAt?: Date
  ttlChoices: readonly TtlChoice[]
  /** How to run redis-cli against the demo's Redis, e.g. `redis-cli -p 6380`. */
  redisCli: string
}

/** "2025-01-31 14:05:09 UTC"; the page script rewrites it in the reader's time zone. */
export function formatTime (date: Date | undefined): string {
  if (date === undefined || Number.isNaN(date.getTime())) return '—'
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
}

export function formatTtl (seconds: number, choices: readonly TtlChoice[]): string {
  const choice = choices.find((c) => c.seconds === seconds)
  if (choice !== undefined) return choice.label
  if (seconds % 3600 === 0) return `${seconds / 3600} h`
  if (seconds % 60 === 0) return `${seconds / 60} min`
  return `${seconds} s`
}

/** Quote a shell word only when it needs it. */
export function shellWord (word: string): string {
  return /^[A-Za-z0-9_:./@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`
}

function time (date: Date | undefined, id: string): SafeHtml {
  if (date === undefined) return html`<span id="${id}">—</span>`
  return html`<time id="${id}" datetime="${date.toISOString()}">${formatTime(date)}</time>`
}

function csrf (token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}">`
}

export function sessionPage (view: SessionView): string {
  const key = shellWord(view.key)
  const pattern = shellWord(view.prefix + '*')
  const cli = view.redisCli
  const commands = [
    { command: `${cli} HGETALL ${key}`, note: 'the whole hash, as in the table' },
    { command: `${cli} TTL ${key}`, note: 'seconds left; -2 once it has expired' },
    { command: `${cli} HGET ${key} page_views`, note: 'one field' },
    { command: `${cli} --scan --pattern ${pattern}`, note: 'every live session' },
    { command: `${cli} MONITOR`, note: 'watch the commands each request sends' }
  ]
  return layout({
    title: `Session of ${view.username}`,
    scripts: ['/static/session.js'],
    body: html`<div id="session-view" data-expires-in="${view.expiresIn}" data-session-ttl="${view.ttl}">
<section class="card hero">
  <div class="hero-head">
    <div>
      <p class="eyebrow">Signed in as</p>
      <h1 id="username">${view.username}</h1>
    </div>
    <form method="post" action="/logout">${csrf(view.csrfToken)}<button class="button ghost" type="submit" id="logout">Log out</button></form>
  </div>
  <div class="stats">
    <div class="stat">
      <span class="stat-label">Page views</span>
      <span class="stat-value" id="page-views">${view.pageViews}</span>
      <form method="post" action="/increment">${csrf(view.csrfToken)}<button class="button primary" type="submit" id="increment">Count a page view</button></form>
    </div>
    <div class="stat">
      <span class="stat-label">Session TTL</span>
      <span class="stat-value" id="session-ttl" data-seconds="${view.ttl}">${formatTtl(view.ttl, view.ttlChoices)}</span>
      <form method="post" action="/ttl" class="ttl-form">${csrf(view.csrfToken)}
        <label class="visually-hidden" for="ttl-select">New TTL</label>
        <select id="ttl-select" name="ttl">
          ${view.ttlChoices.map((c) => html`<option value="${c.seconds}"${c.seconds === view.ttl ? html` selected` : ''}>${c.short}</option>`)}
        </select>
        <button class="button" type="submit" id="change-ttl">Change TTL</button>
      </form>
    </div>
    <div class="stat">
      <span class="stat-label">Expires in</span>
      <span class="stat-value"><span id="expires-in">${view.expiresIn}</span><span class="unit"> s</span></span>
      <progress id="expires-bar" max="${view.ttl}" value="${view.expiresIn}"></progress>
      <span class="stat-note" id="expiry-status" aria-live="polite">Counting down here; any request that loads the session starts it over.</span>
    </div>
  </div>
  <dl class="times">
    <div><dt>Created</dt><dd>${time(view.createdAt, 'created-at')}</dd></div>
    <div><dt>Last accessed</dt><dd>${time(view.lastAccessedAt, 'last-accessed-at')}</dd></div>
    <div><dt>Ends for good</dt><dd>${view.expiresAt === undefined ? html`<span id="ends-at">never (no absolute timeout)</span>` : time(view.expiresAt, 'ends-at')}</dd></div>
  </dl>
</section>

<section class="card" id="your-sessions">
  <h2>Your sessions</h2>
  <p class="muted">Every browser logged in as <strong>${view.username}</strong>, from the plugin's per-user index (<code>sessionStore.listUserSessions()</code>). Log in from another browser to see it here.</p>
  <ul class="sessions" id="session-list">
    ${view.sessions.map((s) => html`<li class="session-item${s.handle === view.currentHandle ? ' current' : ''}" data-handle="${s.handle}">
      <div class="session-label">${s.label ?? 'Unknown browser'}${s.handle === view.currentHandle ? html` <span class="tag">this browser</span>` : ''}</div>
      <div class="session-times">Created ${time(s.createdAt, `created-${s.handle}`)} · last seen ${time(s.lastAccessedAt, `seen-${s.handle}`)}</div>
      ${s.handle === view.currentHandle
        ? ''
        : html`<form method="post" action="/sessions/end">${csrf(view.csrfToken)}<input type="hidden" name="handle" value="${s.handle}"><button class="button ghost small" type="submit">Log out</button></form>`}
    </li>`)}
  </ul>
  ${view.sessions.length > 1
    ? html`<form method="post" action="/sessions/end-others">${csrf(view.csrfToken)}<button class="button" type="submit" id="end-others">Log out everywhere else</button></form>`
    : ''}
</section>

<section class="card">
  <h2>The Redis hash</h2>
  <p class="muted">What <code>HGETALL ${view.key}</code> returns right now, read without sliding the TTL. Every value is a string in Redis; the fields marked <span class="tag">plugin</span> belong to the plugin. Your browser holds only the session ID, in the <code>HttpOnly</code> cookie <code>sid</code>.</p>
  <div class="table-scroll">
  <table class="hash" id="hash">
    <thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
    <tbody>
      ${Object.entries(view.hash).map(([field, value]) => html`<tr><th scope="row"><code>${field}</code>${view.reservedFields.has(field) ? html` <span class="tag">plugin</span>` : ''}</th><td><code>${value}</code></td></tr>`)}
    </tbody>
  </table>
  </div>
</section>

<section class="card">
  <h2>Inspect it yourself</h2>
  <p class="muted">Run these in another terminal while you use the page.</p>
  <ul class="commands" id="commands">
    ${commands.map((c) => html`<li><pre><code>${c.command}</code></pre><span class="command-note">${c.note}</span></li>`)}
  </ul>
</section>
</div>

<section class="card narrow" id="expired-view" hidden>
  <div class="alert alert-info" role="status"><strong>Session expired.</strong> The server confirmed it: the hash is gone from Redis (its TTL ran out, or the session was ended elsewhere).</div>
  <h2>Start a new session</h2>
  ${loginForm({ ttlChoices: view.ttlChoices, username: view.username, ttl: view.ttl }, 'relogin')}
</section>`
  })
}
