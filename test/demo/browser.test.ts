// The demo in a real browser: headless Chromium (Debian's `chromium` package) driven by
// playwright-core. Log in with the shortest TTL, count, change the TTL, log out; log in again and
// watch the page notice by itself that the session expired. Then the same pages on a phone-sized
// viewport, which must fit without scrolling sideways. Screenshots go to test/artifacts/.
import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildDemo } from './helpers'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARTIFACTS = join(__dirname, '..', 'artifacts')

async function launch (t: { teardown: (fn: () => Promise<void>) => void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
  })
  t.teardown(() => browser.close())
  return browser
}

/**
 * Everything on the page that sticks out past the viewport's right or left edge, as
 * "tag#id.class: left–right", plus the document itself when it can scroll sideways. Elements
 * that are not rendered (hidden panels) have empty boxes and are skipped. Nothing is exempt, not
 * even inside an `overflow-x: auto` box: on a phone the table and the commands must wrap.
 */
function horizontalOverflow (page: Page): Promise<string[]> {
  return page.evaluate(() => {
    // Runs in the page. The project's types have no DOM lib: name the little this uses.
    interface Box { left: number, right: number, width: number, height: number }
    interface El { tagName: string, id: string, className: unknown, getBoundingClientRect: () => Box }
    const { document, window } = globalThis as unknown as {
      document: { documentElement: { clientWidth: number, scrollWidth: number }, body: { querySelectorAll: (selector: string) => ArrayLike<El> } }
      window: { innerWidth: number }
    }
    const width = document.documentElement.clientWidth
    const found: string[] = []
    if (document.documentElement.scrollWidth > width) found.push(`document: scrollWidth ${document.documentElement.scrollWidth} > ${width}`)
    if (window.innerWidth > width + 20) found.push(`window: innerWidth ${window.innerWidth} > ${width}`)
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      const box = el.getBoundingClientRect()
      if (box.width === 0 && box.height === 0) continue
      if (box.right > width + 0.5 || box.left < -0.5) {
        const name = el.tagName.toLowerCase() + (el.id === '' ? '' : `#${el.id}`) + (typeof el.className === 'string' && el.className !== '' ? `.${el.className.split(/\s+/).join('.')}` : '')
        found.push(`${name}: ${Math.round(box.left)}–${Math.round(box.right)} of ${width}`)
      }
    }
    return found
  })
}

if (!existsSync(CHROMIUM)) {
  t.fail(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
} else {
  t.test('log in, count, change the TTL, log out, then watch the session expire', { timeout: 90_000 }, async (t) => {
    const started = Date.now()
    const { app, redis, key } = await buildDemo(t)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const base = `http://127.0.0.1:${port}`

    const browser = await launch(t)
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } })
    const page: Page = await context.newPage()

    // Anything the strict CSP blocks, or any script error, fails the test.
    const problems: string[] = []
    page.on('console', (message) => {
      // The one expected error: Chromium logs the 401 that tells the page its session expired.
      if (message.type() === 'error' && !(message.location().url.endsWith('/api/session') && /\b401\b/.test(message.text()))) {
        problems.push(message.text())
      }
    })
    page.on('pageerror', (err) => { problems.push(err.message) })
    const apiCalls: number[] = []
    page.on('request', (request) => { if (request.url().endsWith('/api/session')) apiCalls.push(Date.now()) })

    const sid = async (): Promise<string | undefined> => (await context.cookies(base)).find((c) => c.name === 'sid')?.value
    const text = async (selector: string): Promise<string> => (await page.locator(selector).textContent())?.trim() ?? ''
    const waitText = (selector: string, value: string): Promise<void> => page.locator(selector, { hasText: new RegExp(`^\\s*${value}\\s*$`) }).waitFor({ timeout: 10_000 })

    async function login (username: string, ttl: string, prefix = 'login'): Promise<void> {
      await page.fill(`#${prefix}-username`, username)
      await page.locator(`input[name="ttl"][value="${ttl}"]`).first().check()
      await page.locator('button[type="submit"]', { hasText: 'Start session' }).first().click()
      await waitText('#username', username)
    }

    // 1. Log in with the shortest TTL.
    await page.goto(base + '/')
    t.equal(await page.title(), 'Log in · fastify-redis-hash-session demo')
    t.equal(await sid(), undefined, 'no cookie before logging in')
    await login('ada', '15')
    t.equal(await text('#page-views'), '0', 'count 0')
    t.equal(await page.getAttribute('#session-ttl', 'data-seconds'), '15')
    const firstId = await sid()
    t.ok(firstId, 'sid cookie set')
    t.same(await redis.hmget(key(firstId!), 'username', 'page_views', 'session_ttl'), ['ada', '0', '15'], 'Redis holds the session')

    // 2. Increment twice.
    await page.click('#increment')
    await waitText('#page-views', '1')
    await page.click('#increment')
    await waitText('#page-views', '2')
    t.equal(await text('#page-views'), '2', 'count 2')
    t.equal(await redis.hget(key(firstId!), 'page_views'), '2')
    t.equal(await page.locator('#hash tr', { hasText: 'page_views' }).locator('td').textContent(), '2', 'the raw hash shows it too')

    // The session page, for people to look at.
    mkdirSync(ARTIFACTS, { recursive: true })
    const shot = join(ARTIFACTS, 'demo-session.png')
    await page.screenshot({ path: shot, fullPage: true })
    t.comment(`screenshot of the session page: ${shot}`)

    // The countdown runs locally: no request to /api/session while time is left.
    const shown = Number(await text('#expires-in'))
    t.ok(shown > 0 && shown <= 15, `countdown shows ${shown} s`)

    // 3. Change the TTL.
    await page.selectOption('#ttl-select', '60')
    await page.click('#change-ttl')
    await page.locator('#session-ttl[data-seconds="60"]').waitFor({ timeout: 10_000 })
    t.equal(await text('#session-ttl'), '1 minute')
    t.equal(await redis.hget(key(firstId!), 'session_ttl'), '60')
    const redisTtl = await redis.ttl(key(firstId!))
    t.ok(redisTtl > 50 && redisTtl <= 60, `Redis TTL ${redisTtl}`)
    t.ok(Number(await text('#expires-in')) > 15, 'the countdown starts from the new TTL')

    // 4. Log out.
    await page.click('#logout')
    await page.locator('#login-username').waitFor({ timeout: 10_000 })
    t.equal(await text('#notice'), 'You are logged out.', 'the login page says so')
    t.equal(new URL(page.url()).search, '?logged-out')
    t.equal(await sid(), undefined, 'cookie gone')
    t.equal(await redis.exists(key(firstId!)), 0, 'hash gone')
    t.same(apiCalls, [], 'no /api/session polling while the countdown had time left')

    // 5. Log in again with 15 s and let it expire, watching the page.
    await login('ada', '15')
    const loggedIn = Date.now()
    const secondId = await sid()
    t.not(secondId, firstId, 'a new session ID')
    t.ok(await page.locator('#expired-view').isHidden(), 'the expired panel is hidden while the session lives')
    await page.locator('#expired-view').waitFor({ state: 'visible', timeout: 40_000 })
    const waited = (Date.now() - loggedIn) / 1000
    t.ok(waited >= 14, `the page said "expired" after ${waited.toFixed(1)} s, not before the TTL ran out`)
    t.ok(await page.locator('#session-view').isHidden(), 'the session view is gone')
    t.match(await text('#expired-view .alert'), /Session expired/)
    t.ok(await page.locator('#relogin-username').isVisible(), 'the login form is offered again')
    t.equal(await page.title(), 'Session expired · fastify-redis-hash-session demo')
    t.equal(await redis.exists(key(secondId!)), 0, 'Redis really expired it')
    t.equal(apiCalls.length, 1, 'the page asked the server once, when its countdown ran out')
    t.ok(apiCalls[0] - loggedIn >= 15_000, 'and not before')
    await page.screenshot({ path: join(ARTIFACTS, 'demo-expired.png'), fullPage: true })

    // The login form on the expired panel works.
    await login('ada', '60', 'relogin')
    t.equal(await text('#page-views'), '0')

    t.same(problems, [], 'no script errors and no CSP violations')
    t.comment(`browser test took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })

  t.test('on a phone (390 x 844) the pages fit the screen: nothing wider than the viewport', { timeout: 60_000 }, async (t) => {
    const { app, redis, key } = await buildDemo(t)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const base = `http://127.0.0.1:${port}`
    const browser = await launch(t)
    // isMobile: the page's <meta name="viewport"> applies, as on a phone.
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
    page.on('pageerror', (err) => { problems.push(err.message) })
    mkdirSync(ARTIFACTS, { recursive: true })

    async function login (username: string): Promise<string> {
      await page.fill('#login-username', username)
      await page.locator('input[name="ttl"][value="1800"]').check()
      await page.locator('button[type="submit"]', { hasText: 'Start session' }).click()
      await page.locator('#username').waitFor({ timeout: 10_000 })
      const id = (await context.cookies(base)).find((c) => c.name === 'sid')?.value
      if (id === undefined) throw new Error('no sid cookie after logging in')
      return id
    }

    await page.goto(base + '/')
    t.same(await horizontalOverflow(page), [], 'the login page fits')
    await page.screenshot({ path: join(ARTIFACTS, 'demo-login-phone.png'), fullPage: true })

    const id = await login('ada.lovelace@analytical-engine.example')
    await page.click('#increment')
    await page.locator('#page-views', { hasText: /^1$/ }).waitFor({ timeout: 10_000 })
    t.same(await horizontalOverflow(page), [], 'the session page fits')
    // What made it hard to read: every hash value and command is there, each in a box that fits.
    const hash = await redis.hgetall(key(id))
    const table = await page.locator('#hash tbody tr').evaluateAll((rows) => rows.map((row) => [
      row.querySelector('th code')?.textContent ?? '',
      row.querySelector('td code')?.textContent ?? '',
      row.querySelector('td')?.getBoundingClientRect().width ?? 0
    ] as const))
    t.same(Object.fromEntries(table.map(([field, value]) => [field, value])), hash, 'the table is the hash')
    for (const [field, value, width] of table) {
      // A value gets the card's width, not a sliver beside the field name: 24 ISO characters fit on a line.
      if (field.endsWith('_at')) t.ok(width >= 250, `${field} = ${value}: its cell is ${Math.round(width)} px wide`)
    }
    const commandLines = await page.locator('#commands pre').evaluateAll((pres) => pres.map((pre) => {
      const code = pre.querySelector('code')
      const { getComputedStyle } = globalThis as unknown as { getComputedStyle: (el: unknown) => { lineHeight: string } }
      const lineHeight = parseFloat(getComputedStyle(code).lineHeight)
      return { text: code.textContent ?? '', lines: Math.round(code.getBoundingClientRect().height / lineHeight), scrolls: pre.scrollWidth > pre.clientWidth }
    }))
    t.ok(commandLines.some((c) => c.text.includes(key(id))), 'the commands name the key')
    for (const c of commandLines) {
      t.notOk(c.scrolls, `${c.text}: nothing hidden to the right`)
      t.ok(c.lines <= 4, `${c.text}: wraps to ${c.lines} line(s), not a column of fragments`)
    }
    const shot = join(ARTIFACTS, 'demo-session-phone.png')
    await page.screenshot({ path: shot, fullPage: true })
    t.comment(`screenshot of the session page on a phone: ${shot}`)

    // The worst case the form allows: 64 characters without a space.
    await page.click('#logout')
    await page.locator('#login-username').waitFor({ timeout: 10_000 })
    await login('x'.repeat(64))
    t.same(await horizontalOverflow(page), [], 'a 64-character username without spaces fits too')
    t.same(problems, [], 'no script errors and no CSP violations')
  })

  t.test('two browsers as two devices: one sees the other in "Your sessions" and logs it out', { timeout: 60_000 }, async (t) => {
    const { app, redis, key } = await buildDemo(t)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const base = `http://127.0.0.1:${port}`
    const browser = await launch(t)
    const laptop = await browser.newContext({ viewport: { width: 1200, height: 900 }, userAgent: 'Laptop browser' })
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, userAgent: 'Phone browser' })
    const problems: string[] = []
    const open = async (context: typeof laptop): Promise<Page> => {
      const page = await context.newPage()
      page.on('pageerror', (err) => { problems.push(err.message) })
      await page.goto(base + '/')
      await page.fill('#login-username', 'grace')
      await page.locator('input[name="ttl"][value="1800"]').check()
      await page.locator('button[type="submit"]', { hasText: 'Start session' }).click()
      await page.locator('#username').waitFor({ timeout: 10_000 })
      return page
    }
    const onLaptop = await open(laptop)
    const onPhone = await open(phone)
    const phoneSid = (await phone.cookies(base)).find((c) => c.name === 'sid')?.value as string
    const labels = async (page: Page): Promise<string[]> => await page.locator('#session-list .session-label').evaluateAll((els) => els.map((el) => el.textContent?.trim() ?? ''))

    await onLaptop.reload()
    t.same((await labels(onLaptop)).sort(), ['Laptop browser this browser', 'Phone browser'], 'the laptop lists both, itself marked')
    t.same((await labels(onPhone)).sort(), ['Laptop browser', 'Phone browser this browser'], 'so does the phone')
    t.same(await horizontalOverflow(onPhone), [], 'the list fits the phone')
    mkdirSync(ARTIFACTS, { recursive: true })
    await onPhone.screenshot({ path: join(ARTIFACTS, 'demo-your-sessions-phone.png'), fullPage: true })

    // The laptop logs the phone out with the phone's own "Log out" button in its list.
    await onLaptop.locator('#session-list li', { hasText: 'Phone browser' }).locator('button', { hasText: 'Log out' }).click()
    await onLaptop.locator('#username').waitFor({ timeout: 10_000 })
    t.same(await labels(onLaptop), ['Laptop browser this browser'], 'only the laptop is left')
    t.equal(await redis.exists(key(phoneSid)), 0, 'the phone\'s session is gone from Redis')
    await onPhone.reload()
    await onPhone.locator('#login-username').waitFor({ timeout: 10_000 })
    t.match(await onPhone.locator('body').textContent(), /Your session expired/, 'the phone is back at the login form')

    // Log in on the phone again, then "Log out everywhere else" from it.
    await onPhone.fill('#login-username', 'grace')
    await onPhone.locator('input[name="ttl"][value="1800"]').check()
    await onPhone.locator('button[type="submit"]', { hasText: 'Start session' }).click()
    await onPhone.locator('#end-others').click()
    await onPhone.locator('#username').waitFor({ timeout: 10_000 })
    t.same(await labels(onPhone), ['Phone browser this browser'])
    await onLaptop.reload()
    await onLaptop.locator('#login-username').waitFor({ timeout: 10_000 })
    t.same(problems, [], 'no script errors')
  })
}
