// Swagger UI in a real browser: Debian's Chromium driven by playwright-core (no browser
// download). Opens $OBIE_BASE_URL/swagger-ui/, checks that no request leaves 127.0.0.1 and
// that every operation of $OBIE_OPENAPI is listed, then does the flow by clicking as a
// newcomer would: Authorize, then "Try it out" → "Execute" on the ccg token, the code, and
// the access token with that code typed into the body. Saves a screenshot to
// $OBIE_SCREENSHOT. Exits non-zero on the first broken expectation.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { chromium } from 'playwright-core';
import type { Locator, Page } from 'playwright-core';

const baseUrl = process.env.OBIE_BASE_URL;
const documentPath = process.env.OBIE_OPENAPI;
const screenshot = process.env.OBIE_SCREENSHOT;
assert.ok(baseUrl && documentPath && screenshot, 'OBIE_BASE_URL, OBIE_OPENAPI and OBIE_SCREENSHOT are needed');

type Operation = { operationId: string };
type Document = { paths: Record<string, Record<string, Operation>> };
const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const doc = JSON.parse(readFileSync(documentPath, 'utf8')) as Document;
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => methods.includes(method))
    .map(([method, op]) => ({ path, method: method.toUpperCase(), operationId: op.operationId })),
);

// Sandbox values (SPEC §7).
const fiReferenceId = 'PSDGB-FCA-111111';
const redirectUri = 'https://www.google.com';

function step(name: string): void {
  console.log(`ok - ${name}`);
}

// Nothing but the server under test: any other host is recorded and the request aborted.
function isLocal(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'data:' || protocol === 'blob:' || hostname === '127.0.0.1';
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const foreign: string[] = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  context.setDefaultTimeout(15_000);
  context.on('request', (request) => {
    if (!isLocal(request.url())) foreign.push(request.url());
  });
  await context.route('**/*', (route) =>
    isLocal(route.request().url()) ? route.continue() : route.abort('blockedbyclient'),
  );
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(`${baseUrl}/swagger-ui/`);
  await page.locator('.opblock').first().waitFor();
  await expectEveryOperationListed(page);
  await authorize(page);

  const ccg = await execute(page, 'createCcgToken', {
    grant_type: 'client_credentials',
    psp_id: 'PSDGB-FCA-123456',
    scope: 'accounts payments',
  });
  assert.equal(ccg.status, '201', `createCcgToken answered ${ccg.status}: ${JSON.stringify(ccg.body)}`);
  step('POST /v1/oauth2/tokens: Try it out → Execute shows 201');

  const code = await execute(page, 'createAuthorizationCode', {
    redirect_uri: redirectUri,
    scope: 'accounts',
    state: 'swagger-ui',
  });
  assert.equal(code.status, '201', `createAuthorizationCode answered ${code.status}: ${JSON.stringify(code.body)}`);
  const authCode = code.body.data.auth_code;
  assert.equal(typeof authCode, 'string');
  step('POST /v1/obie/authorization_codes: 201, auth_code read from the page');

  const token = await execute(page, 'createAccessToken', { auth_code: authCode, redirect_uri: redirectUri });
  assert.equal(token.status, '201', `createAccessToken answered ${token.status}: ${JSON.stringify(token.body)}`);
  assert.equal(token.body.data.token_type, 'bearer');
  assert.equal(token.body.data.state, 'swagger-ui');
  assert.match(token.body.data.access_token, /^[0-9a-f-]{36}$/);
  step('POST /v1/obie/tokens with the code typed into the body: 201, the access token');

  // From the operation's title to the server response: the code typed in, the 201 shown.
  const scrollY = await page.evaluate(() => window.scrollY);
  const top = await token.operation.locator('.opblock-summary').boundingBox();
  const bottom = await token.operation.locator('.live-responses-table').boundingBox();
  assert.ok(top && bottom);
  await page.screenshot({
    path: screenshot,
    fullPage: true,
    clip: { x: 0, y: top.y + scrollY - 8, width: 1280, height: bottom.y + bottom.height - top.y + 16 },
  });
  console.log(`screenshot: ${screenshot}`);

  assert.deepEqual(pageErrors, [], 'the page threw');
} finally {
  await browser.close();
}
assert.deepEqual(foreign, [], 'requests left 127.0.0.1');
step('no request left 127.0.0.1');
console.log('Swagger UI: the whole flow passed in the browser');

async function expectEveryOperationListed(page: Page): Promise<void> {
  const listed = await page.locator('.opblock').evaluateAll((blocks) =>
    blocks.map((block) => ({
      id: block.id,
      path: block.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '',
      method: block.querySelector('.opblock-summary-method')?.textContent?.trim() ?? '',
    })),
  );
  assert.equal(listed.length, operations.length, `listed: ${JSON.stringify(listed)}`);
  for (const op of operations) {
    const shown = listed.find((block) => block.id.endsWith(`-${op.operationId}`));
    assert.ok(shown, `${op.operationId} is not listed`);
    assert.deepEqual({ path: shown.path, method: shown.method }, { path: op.path, method: op.method });
  }
  step(`every operation of the document is listed (${operations.length})`);
}

async function authorize(page: Page): Promise<void> {
  await page.locator('.auth-wrapper button.authorize').click();
  const modal = page.locator('.modal-ux');
  const basic = modal.locator('.auth-container').filter({ hasText: 'basic_auth' });
  await basic.locator('input[name="username"]').fill('api-consumer-id');
  await basic.locator('input[name="password"]').fill('password');
  await basic.getByRole('button', { name: 'Apply credentials' }).click();
  await basic.locator('button', { hasText: 'Logout' }).waitFor();
  const ccgToken = modal.locator('.auth-container').filter({ hasText: 'ccg_token' });
  await ccgToken.locator('input').fill('good-access-token');
  await ccgToken.getByRole('button', { name: 'Apply credentials' }).click();
  await ccgToken.locator('button', { hasText: 'Logout' }).waitFor();
  await modal.locator('button.close-modal').click();
  await modal.waitFor({ state: 'detached' });
  step('Authorize: Basic api-consumer-id / password, ccg_token good-access-token');
}

// Expands one operation, clicks "Try it out", fills the sandbox headers and the body,
// clicks "Execute" and reads the server response shown on the page.
async function execute(
  page: Page,
  operationId: string,
  body: Record<string, string>,
): Promise<{ operation: Locator; status: string; body: any }> {
  const operation = page.locator(`.opblock[id$="-${operationId}"]`);
  await operation.locator('.opblock-summary-control').click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  await operation.locator('tr[data-param-name="fi_reference_id"] input').fill(fiReferenceId);
  await operation.locator('tr[data-param-name="version"] select').selectOption('1');
  await operation.locator('textarea.body-param__text').fill(JSON.stringify(body, null, 2));
  await operation.getByRole('button', { name: 'Execute' }).click();
  const response = operation.locator('.live-responses-table tr.response').first();
  await response.waitFor();
  // The ccg_token header goes once, from the Authorize dialog (no duplicate parameter).
  const curl = await operation.locator('.curl-command').innerText();
  assert.equal(curl.match(/ccg_token:/g)?.length ?? 0, operationId === 'createCcgToken' ? 0 : 1, curl);
  const status = (await response.locator('.response-col_status').innerText()).trim();
  const text = await response.locator('.response-col_description pre').first().innerText();
  return { operation, status, body: JSON.parse(text) };
}
