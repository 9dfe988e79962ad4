// The page shell: head, header, footer. Styles and scripts are static files served by the app
// (/static/...), so the Content-Security-Policy can forbid every inline script and style.
import { html, type SafeHtml } from './html'

export interface LayoutOptions {
  title: string
  body: SafeHtml
  /** Script paths under /static/, loaded deferred. */
  scripts?: string[]
}

export function layout ({ title, body, scripts = [] }: LayoutOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · fastify-redis-hash-session demo</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
${scripts.map((src) => html`<script src="${src}" defer></script>\n`)}</head>
<body>
<header class="topbar">
  <div class="wrap topbar-inner">
    <a class="brand" href="/"><span class="brand-mark" aria-hidden="true"></span>fastify-redis-hash-session <span class="brand-tag">demo</span></a>
    <span class="topbar-note">one Redis hash per session</span>
  </div>
</header>
<main class="wrap">
${body}
</main>
<footer class="wrap footer">
  Each session is one Redis hash with its own sliding TTL. Loading a page slides it; only <code>POST /increment</code> counts a page view.
</footer>
</body>
</html>
`.value
}
