// The session page's live countdown. It counts down locally from the seconds the server rendered
// and asks GET /api/session only once the countdown has run out: every load of the session slides
// its TTL, so polling every second would keep the session alive forever. If the server answers
// 401 the session really expired: show so, with the login form. If it is still alive (another tab
// or a redis-cli EXPIRE kept it), carry on counting from what the server says now.
// Served from /static/ so a Content-Security-Policy without 'unsafe-inline' allows it.
(function () {
  'use strict'

  const view = document.getElementById('session-view')
  const expiredView = document.getElementById('expired-view')
  if (view === null || expiredView === null) return

  const out = document.getElementById('expires-in')
  const bar = document.getElementById('expires-bar')
  const status = document.getElementById('expiry-status')
  const pageViews = document.getElementById('page-views')
  const lastAccessed = document.getElementById('last-accessed-at')

  // Redis rounds TTL to whole seconds, and the page took time to arrive: wait a little past zero
  // before asking, so the question never lands in the key's last moment and slides it again.
  const GRACE_MS = 1500
  const RETRY_MS = 3000
  let deadline = 0
  let timer = null

  function now () { return window.performance.now() }

  function startCountdown (seconds) {
    deadline = now() + seconds * 1000
    tick()
  }

  function tick () {
    clearTimeout(timer)
    const left = deadline - now()
    const shown = Math.max(0, Math.ceil(left / 1000))
    out.textContent = String(shown)
    bar.value = Math.max(0, left / 1000)
    if (left <= -GRACE_MS) {
      ask()
      return
    }
    if (left <= 0) status.textContent = 'Time is up; asking the server whether the session is gone…'
    timer = setTimeout(tick, left > 0 ? (left % 1000) + 20 : GRACE_MS + left + 20)
  }

  function ask () {
    status.textContent = 'Asking the server…'
    window.fetch('/api/session', { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        if (res.status === 401) {
          showExpired()
          return
        }
        if (!res.ok) throw new Error('HTTP ' + res.status)
        return res.json().then(function (session) {
          pageViews.textContent = String(session.page_views)
          bar.max = session.session_ttl
          if (lastAccessed !== null && session.last_accessed_at) {
            lastAccessed.setAttribute('datetime', session.last_accessed_at)
            lastAccessed.textContent = localTime(session.last_accessed_at)
          }
          status.textContent = 'Still alive: something used the session meanwhile, so its TTL started over.'
          startCountdown(session.expires_in)
        })
      })
      .catch(function () {
        status.textContent = 'Could not reach the server; trying again in a few seconds.'
        timer = setTimeout(ask, RETRY_MS)
      })
  }

  function showExpired () {
    clearTimeout(timer)
    view.hidden = true
    expiredView.hidden = false
    document.title = 'Session expired · fastify-redis-hash-session demo'
    const input = expiredView.querySelector('input[name="username"]')
    if (input !== null) input.focus()
  }

  function localTime (iso) {
    const date = new Date(iso)
    if (Number.isNaN(date.getTime())) return iso
    return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
  }

  // Times are rendered in UTC by the server; show them in the reader's time zone.
  Array.prototype.forEach.call(document.querySelectorAll('time[datetime]'), function (el) {
    el.title = el.textContent
    el.textContent = localTime(el.getAttribute('datetime'))
  })

  startCountdown(Number(view.getAttribute('data-expires-in')))
})()
