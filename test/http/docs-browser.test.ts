// /docs in a real browser: each contract version's page loads from this server alone without errors, lists that
// version's operations, and its try-it calls reach this server's API of that version and show what it answered;
// /docs leads to the newest version's page. What the pages show does not depend on the store:
// stores: sqlite
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Page, type Response as PageResponse } from 'playwright-core'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { CONTRACT_VERSIONS, readSpec, type ContractVersion } from '../../src/contract/spec.js'
import { contractErrors, contracts } from '../contract.js'
import { fixtures, startApp, v2Fixtures } from '../helper.js'
import { adminToken, bearer, secretAuth } from '../tokens.js'

const CHROMIUM = process.env.TRACKBOT_CHROMIUM ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
// Each run's screenshot is a test artifact under .tap/; UPDATE_SCREENSHOT=1 refreshes README's committed copy.
const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOT === '1' ? join(projectRoot, 'test', 'artifacts') : join(projectRoot, '.tap', 'artifacts')
const SCREENSHOT = join(SCREENSHOT_DIR, 'docs-page.png')
// A busy CI machine renders slowly; these bound waits for things that do happen, they are not assertions on time.
const STEP_TIMEOUT_MS = 60_000

const SEED_OPERATIONS = ['create_conversation', 'delete_conversation', 'get_conversation_by_id', 'list_conversations']

interface Observed {
  consoleErrors: string[]
  failedRequests: string[]
  foreignRequests: string[]
  errorResponses: string[]
  apiResponses: PageResponse[]
}

/** Everything the page does that a test should know of; API calls are those under /api/, of any version. */
function observe (page: Page, origin: string): Observed {
  const observed: Observed = { consoleErrors: [], failedRequests: [], foreignRequests: [], errorResponses: [], apiResponses: [] }
  page.on('console', (message) => {
    if (message.type() === 'error') observed.consoleErrors.push(`${message.text()} (${message.location().url})`)
  })
  page.on('pageerror', (error) => observed.consoleErrors.push(`uncaught: ${error.message}`))
  page.on('requestfailed', (request) => observed.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`))
  page.on('request', (request) => {
    const url = request.url()
    if (!url.startsWith('data:') && new URL(url).origin !== origin) observed.foreignRequests.push(url)
  })
  page.on('response', (response) => {
    const url = new URL(response.url())
    if (url.pathname.startsWith('/api/')) observed.apiResponses.push(response)
    if (response.status() >= 400) observed.errorResponses.push(`${response.status()} ${url.pathname}`)
  })
  return observed
}

async function specErrors (response: PageResponse): Promise<string[]> {
  const { pathname, search } = new URL(response.url())
  return contractErrors({
    method: response.request().method(),
    url: pathname + search,
    status: response.status(),
    headers: await response.allHeaders(),
    text: await response.text(),
  })
}

/** Runs get_conversation_by_id from its try-it form and waits for the UI to show the answer; `api`: the page's version's base path. */
async function tryGetConversation (page: Page, api: string, conversationId: number, expectedStatus: number): Promise<PageResponse> {
  const operation = page.locator('#operations-Conversations-get_conversation_by_id')
  await operation.locator('tr[data-param-name="conversationId"] input').fill(String(conversationId))
  const [response] = await Promise.all([
    page.waitForResponse((candidate) => new URL(candidate.url()).pathname === `${api}/conversations/${conversationId}`),
    operation.getByRole('button', { name: 'Execute' }).click(),
  ])
  await operation.locator('.live-responses-table .response .response-col_status', { hasText: String(expectedStatus) }).waitFor()
  return response
}

/** Each operationId of `version`'s spec, read from the document the server serves. */
function operationIds (version: ContractVersion): string[] {
  return Object.values(readSpec(version).paths ?? {}).flatMap((item) =>
    ['get', 'put', 'post', 'delete', 'patch'].map((method) => (item as Record<string, { operationId?: string }>)[method]?.operationId)
  ).filter((id) => id !== undefined)
}

const NEWEST = CONTRACT_VERSIONS.at(-1)!

for (const version of CONTRACT_VERSIONS) {
  // The newest version's page is reached as readers reach it, through /docs; its screenshot is README's.
  const entry = version === NEWEST ? '/docs' : `/docs/${version}`
  t.test(`${entry} renders ${version}'s spec from this server and its try-it reaches this server's ${version}`, async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.fail(`Chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` (npm test's pretest, scripts/ensure-chromium.sh, does) or set TRACKBOT_CHROMIUM`)
      return
    }
    const { basePath: api } = contracts[version]
    const { origin, request, createUser } = await startApp(t, { transport: 'http' })
    const userId = (await createUser({ name: 'Grace' })).id
    // Made through the page's own version, so the answer shown is that version's shape of it.
    const conversation = await (version === 'v1' ? fixtures(request) : v2Fixtures(request)).createConversation(userId, { title: 'Seen in the docs' })
    const missingId = conversation.id + 1000

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    t.teardown(() => browser.close())
    const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } })
    page.setDefaultTimeout(STEP_TIMEOUT_MS)
    const observed = observe(page, origin)

    const loaded = await page.goto(`${origin}${entry}`)
    t.equal(loaded?.status(), 200)
    t.equal(new URL(page.url()).pathname, `/docs/${version}`, `${entry} is ${version}'s page`)
    t.equal(await page.title(), `Trackbot API ${readSpec(version).info.version} reference`)
    const specOperations = operationIds(version)
    await page.locator('.opblock').nth(specOperations.length - 1).waitFor()

    const shownIds = await page.locator('.opblock-summary-operation-id').allTextContents()
    t.same(shownIds.toSorted(), specOperations.toSorted(), `every operation of ${version}'s spec is listed, by operationId`)
    for (const id of SEED_OPERATIONS) t.ok(shownIds.includes(id), `shows ${id}`)
    t.equal(shownIds.includes('create_messages'), version !== 'v1', version === 'v1' ? 'v1 has no create_messages' : 'shows create_messages')
    const shownPaths = await Promise.all((await page.locator('.opblock-summary-path').all()).map((path) => path.getAttribute('data-path')))
    for (const path of ['/users/{userId}/conversations', '/conversations/{conversationId}']) t.ok(shownPaths.includes(path), `shows ${path}`)
    t.equal(await page.locator('.servers select').inputValue(), api, `try-it targets this server's ${version}`)

    const operation = page.locator('#operations-Conversations-get_conversation_by_id')
    await operation.locator('.opblock-summary-control').click()
    await operation.getByRole('button', { name: 'Try it out' }).click()

    // A deliberate miss first: the UI shows our Problem.
    const notFound = await tryGetConversation(page, api, missingId, 404)
    t.equal(notFound.status(), 404)
    t.match(await operation.locator('.live-responses-table .response .response-col_description').first().innerText(), /urn:trackbot:problem:not-found/)

    const found = await tryGetConversation(page, api, conversation.id, 200)
    t.equal(found.status(), 200)
    const { messages, ...expected } = conversation
    t.same(await found.json(), expected, `the network response is our conversation, as ${version} shows it`)
    t.equal(await operation.locator('.request-url pre').innerText(), `${origin}${api}/conversations/${conversation.id}`)
    t.match(await operation.locator('.live-responses-table .response .response-col_description').first().innerText(), /Seen in the docs/)

    if (version === NEWEST) {
      mkdirSync(SCREENSHOT_DIR, { recursive: true })
      // From the top: the operation list, then the try-it form and what the server answered.
      await page.evaluate('window.scrollTo(0, 0)')
      await page.screenshot({ path: SCREENSHOT })
    }

    for (const response of observed.apiResponses) {
      t.same(await specErrors(response), [], `${response.request().method()} ${new URL(response.url()).pathname} obeys the spec`)
      t.ok(new URL(response.url()).pathname.startsWith(`${api}/`), `${new URL(response.url()).pathname}: a call to ${version}`)
    }
    t.equal(observed.apiResponses.length, 2, 'the two try-it calls, and no other API call')
    // Chromium logs every 4xx as a console error; the deliberate miss is the only one allowed.
    const deliberate = `Failed to load resource: the server responded with a status of 404 (Not Found) (${origin}${api}/conversations/${missingId})`
    t.same(observed.consoleErrors, [deliberate], 'no other console error (CSP violations show up here)')
    t.same(observed.failedRequests, [], 'no failed requests')
    t.same(observed.foreignRequests, [], 'no request leaves this server')
    t.same(observed.errorResponses, [`404 ${api}/conversations/${missingId}`], 'no error response but the deliberate miss')
    await browser.close()
  })
}

t.test('with tokens required, /docs has an Authorize button whose token try-it sends', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`Chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` or set TRACKBOT_CHROMIUM`)
    return
  }
  const { origin, createUser, createConversation } = await startApp(t, { transport: 'http', auth: secretAuth })
  const token = await adminToken()
  const user = await createUser({ name: 'Grace' }, bearer(token))
  const conversation = await createConversation(user.id, { title: 'Behind a token' }, bearer(token))

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } })
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  await page.goto(`${origin}/docs`)
  const operation = page.locator('#operations-Conversations-get_conversation_by_id')
  await operation.locator('.opblock-summary-control').click()
  await operation.getByRole('button', { name: 'Try it out' }).click()

  const api = contracts[NEWEST].basePath
  const refused = await tryGetConversation(page, api, conversation.id, 401)
  t.equal(refused.status(), 401, 'without a token: 401')

  await page.locator('.auth-wrapper button.authorize').click()
  await page.locator('.modal-ux input[type="text"], .modal-ux input[type="password"]').first().fill(token)
  await page.locator('.modal-ux .auth-btn-wrapper button.authorize').click()
  await page.locator('.modal-ux .auth-btn-wrapper button.btn-done').click()

  const found = await tryGetConversation(page, api, conversation.id, 200)
  t.equal(found.status(), 200, 'with the token entered under Authorize: 200')
  t.equal(found.request().headers().authorization, `Bearer ${token}`, 'try-it sent it as a bearer token')
  await browser.close()
})
