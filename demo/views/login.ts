// The login form: a username and a TTL choice. Shown on its own at `/`, with the reasons after a
// rejected POST /login (400), and inside the session page for when the session expires.
import { html, type SafeHtml } from './html'
import { layout } from './layout'

export interface TtlChoice {
  seconds: number
  label: string
  /** For tight spots, such as the TTL select on the session page. */
  short: string
}

export interface LoginView {
  ttlChoices: readonly TtlChoice[]
  /** Prefill after a rejected attempt. */
  username?: string
  ttl?: number
  /** What was wrong with the last attempt, one sentence each. */
  errors?: string[]
  /** A note above the form, such as "your session expired". */
  notice?: string
}

/** The form alone. `idPrefix` keeps element IDs unique when the page holds two forms. */
export function loginForm (view: LoginView, idPrefix = 'login'): SafeHtml {
  const selected = view.ttl ?? view.ttlChoices[1]?.seconds ?? view.ttlChoices[0]?.seconds
  return html`<form class="login-form" method="post" action="/login">
  <label class="field" for="${idPrefix}-username">
    <span class="field-label">Username</span>
    <input id="${idPrefix}-username" name="username" type="text" required maxlength="64" autocomplete="username" spellcheck="false" placeholder="ada" value="${view.username ?? ''}">
    <span class="field-hint">1 to 64 characters. Shown back to you, escaped.</span>
  </label>
  <fieldset class="field">
    <legend class="field-label">Session TTL</legend>
    <div class="segmented">
      ${view.ttlChoices.map((choice) => html`<label class="segment"><input type="radio" name="ttl" value="${choice.seconds}"${choice.seconds === selected ? html` checked` : ''}><span>${choice.label}</span></label>`)}
    </div>
    <span class="field-hint">Idle time before Redis expires the hash. Every request that loads the session starts it over.</span>
  </fieldset>
  <button class="button primary" type="submit">Start session</button>
</form>`
}

export function loginPage (view: LoginView): string {
  const errors = view.errors ?? []
  return layout({
    title: errors.length > 0 ? 'Could not log in' : 'Log in',
    body: html`<section class="intro">
  <h1>A server-side session, live in Redis</h1>
  <p>Log in to create a session: one Redis hash holding your username, a page-view counter and three fields the plugin keeps. Then count, change the TTL, log out, or let it expire and watch the page notice.</p>
</section>
<section class="card narrow" id="login">
  ${view.notice !== undefined ? html`<div class="alert alert-info" role="status" id="notice">${view.notice}</div>` : ''}
  ${errors.length > 0
    ? html`<div class="alert alert-error" role="alert" id="errors"><strong>Could not log in.</strong><ul>${errors.map((e) => html`<li>${e}</li>`)}</ul></div>`
    : ''}
  <h2>Start a session</h2>
  ${loginForm(view)}
</section>`
  })
}
