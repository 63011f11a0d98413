// node-oidc-provider, for `make bench` to compare the token exchange with (the performance
// issue's "10× node-oidc-provider"). Its store is an unbounded in-memory Map: the package's
// own memory adapter keeps only the last 1,000 entries, which would drop codes minted ahead.
//
// POST /v1/obie/authorization_codes mints a code through the provider's own models (a grant,
// then an authorization code for it), so bench/lua/mint.lua can mint here as on obie-tokens;
// the body is {"auth_code": "..."}. POST /token is the provider's: the authorization_code
// grant with client_secret_basic. The scope has no `openid`, so no ID token is signed, as
// obie-tokens issues none; no refresh token either (the client has no refresh_token grant).
import Provider from 'oidc-provider';

const REDIRECT_URI = 'https://www.google.com';
const CLIENT_ID = 'bench';
const SCOPE = 'accounts';

const entries = new Map();

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload) {
    entries.set(this.key(id), payload);
  }

  async find(id) {
    return entries.get(this.key(id));
  }

  async findByUid() {
    return undefined;
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const payload = entries.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    entries.delete(this.key(id));
  }

  async revokeByGrantId() {}
}

const provider = new Provider('http://127.0.0.1', {
  adapter: MapAdapter,
  clients: [{
    client_id: CLIENT_ID,
    client_secret: 'bench-secret',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: [SCOPE],
  // Codes live as long as obie-tokens' in `make bench` (--auth-code-ttl 600).
  ttl: { AuthorizationCode: 600, AccessToken: 3600, Grant: 3600 },
  features: { devInteractions: { enabled: false } },
});

async function mint(ctx) {
  const client = await provider.Client.find(CLIENT_ID);
  const grant = new provider.Grant({ accountId: 'psu', clientId: CLIENT_ID });
  grant.addOIDCScope(SCOPE);
  const grantId = await grant.save();
  const code = new provider.AuthorizationCode({
    accountId: 'psu', client, grantId, scope: SCOPE, redirectUri: REDIRECT_URI,
  });
  ctx.status = 201;
  ctx.body = { auth_code: await code.save() };
}

provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/v1/obie/authorization_codes') {
    await mint(ctx);
  } else {
    await next();
  }
});

const server = provider.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
