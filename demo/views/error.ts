// Error pages for the HTML routes: 400, 403, 404, 503 and the rest. The /api routes answer JSON.
import { html } from './html'
import { layout } from './layout'

export interface ErrorView {
  status: number
  title: string
  message: string
  /** Where the button leads. Default `/`. */
  back?: string
}

export function errorPage (view: ErrorView): string {
  return layout({
    title: view.title,
    body: html`<section class="card narrow error" id="error">
  <p class="eyebrow">Error ${view.status}</p>
  <h1>${view.title}</h1>
  <p>${view.message}</p>
  <a class="button primary" href="${view.back ?? '/'}">Back to the demo</a>
</section>`
  })
}
