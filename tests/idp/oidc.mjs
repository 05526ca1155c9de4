// A test OpenID provider for Errhound's single-sign-on tests: panva's oidc-provider on 127.0.0.1.
//
//   node tests/idp/oidc.mjs --port 0     (0 = any free port)
//
// When ready it prints one JSON line on stdout, `{"issuer":"http://127.0.0.1:PORT"}`, and logs one
// line per request to stderr. It exits on SIGTERM or SIGINT, and when its stdin is a pipe, when
// that pipe closes (so a test process that dies does not leave it running).
//
// Control endpoints (JSON in and out; tests share one IdP, so each registers its own client):
//   POST /__control/clients   {redirect_uri, alg?, auth_method?, fault?}  ->  {client_id, client_secret}
//        alg: "RS256" (default) | "ES256" | "EdDSA" (Ed25519): signs this client's ID tokens
//        auth_method: "client_secret_basic" (default) | "client_secret_post"
//        fault: null | "wrong_nonce" | "expired" | "wrong_audience" | "wrong_issuer" |
//               "unknown_key" | "bad_signature", applied to the ID token the token endpoint returns
//        PKCE (S256) is required; response_mode query and form_post both work.
//   POST /__control/accounts  {id, email?, email_verified?, name?, groups?}  ->  the account
//        An upsert: the next token carries the new claims. Absent fields are absent claims.
//   POST /__control/rotate    {}  ->  {kids: {RS256, ES256, EdDSA}}
//        New keys sign every client's ID tokens from now on and are added to the JWKS (the old
//        ones stay published), so a relying party with a cached JWKS meets an unknown `kid`.
//   POST /__control/rotate    {client_id}  ->  {kid}
//        The same for one client only (a new key of its alg), so parallel tests don't notice.
//
// Claims: `openid email profile` puts sub, email, email_verified, name and groups (under the
// `profile` scope) into the ID token itself.
//
// Logging in:
//   * With `login_hint=<account id>` of a known account, nothing is shown: the IdP logs that account
//     in, grants consent and redirects straight back. This also works for a client without a
//     cookie store (the interaction cookies are read from the URL when absent).
//   * Otherwise the login page at /interaction/<uid> shows a form (any password is accepted):
//       input[name=login]      the account id
//       input[name=password]   ignored
//       button[type=submit]    signs in (consent is granted automatically)
//       a#cancel               ends the login with error=access_denied
//     An unknown account shows the form again with `p.error`.
import { fstatSync } from 'node:fs';
import { createServer } from 'node:http';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider, { interactionPolicy } from 'oidc-provider';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const ALGS = ['RS256', 'ES256', 'EdDSA'];
const FAULTS = new Set([
  'wrong_nonce', 'expired', 'wrong_audience', 'wrong_issuer', 'unknown_key', 'bad_signature',
]);
const AUTH_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

// ---- Keys ------------------------------------------------------------------------------------

/** A new signing key for `alg`: its node KeyObject and its private JWK with a fresh `kid`. */
function newKey(alg) {
  const { privateKey } = alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'ES256'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : crypto.generateKeyPairSync('ed25519');
  const kid = `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`;
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

function publicJwk({ jwk }) {
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
}

function sign(key, input) {
  const data = Buffer.from(input);
  if (key.alg === 'ES256') {
    return crypto.sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  }
  return crypto.sign(key.alg === 'RS256' ? 'sha256' : null, data, key.privateKey);
}

const initialKeys = ALGS.map(newKey);
/** Every key in the JWKS, oldest first. */
const published = [...initialKeys];
/** The key that signs each alg's ID tokens now. */
const signers = Object.fromEntries(initialKeys.map((key) => [key.alg, key]));

function rotate(body) {
  if (body.client_id !== undefined) {
    const client = clients.get(body.client_id);
    if (!client) throw new Error(`unknown client_id ${body.client_id}`);
    client.signer = newKey(client.metadata.id_token_signed_response_alg);
    published.push(client.signer);
    return { kid: client.signer.kid };
  }
  for (const client of clients.values()) delete client.signer;
  for (const alg of ALGS) {
    const key = newKey(alg);
    published.push(key);
    signers[alg] = key;
  }
  return { kids: Object.fromEntries(ALGS.map((alg) => [alg, signers[alg].kid])) };
}

// ---- Clients and accounts ----------------------------------------------------------------------

/** client_id -> {metadata, fault, signer?}; `signer` is the client's own key after a rotation. */
const clients = new Map();
/** account id -> {id, email, email_verified, name, groups} */
const accounts = new Map();

function registerClient(body) {
  const redirectUris = body.redirect_uris ?? [body.redirect_uri];
  if (!redirectUris.every((uri) => typeof uri === 'string' && uri)) {
    throw new Error('redirect_uri (a string) is required');
  }
  const alg = body.alg ?? 'RS256';
  if (!ALGS.includes(alg)) throw new Error(`alg must be one of ${ALGS.join(', ')}`);
  const authMethod = body.auth_method ?? 'client_secret_basic';
  if (!AUTH_METHODS.has(authMethod)) throw new Error(`unknown auth_method ${authMethod}`);
  const fault = body.fault ?? null;
  if (fault !== null && !FAULTS.has(fault)) throw new Error(`unknown fault ${fault}`);
  const metadata = {
    client_id: `client-${crypto.randomBytes(8).toString('hex')}`,
    client_secret: crypto.randomBytes(24).toString('base64url'),
    redirect_uris: redirectUris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: authMethod,
    id_token_signed_response_alg: alg,
  };
  clients.set(metadata.client_id, { metadata, fault });
  return { client_id: metadata.client_id, client_secret: metadata.client_secret };
}

function setAccount(body) {
  if (typeof body.id !== 'string' || !body.id) throw new Error('id (a string) is required');
  const account = {
    id: body.id,
    email: body.email,
    email_verified: body.email_verified,
    name: body.name,
    groups: body.groups,
  };
  accounts.set(account.id, account);
  return account;
}

async function findAccount(_ctx, id) {
  const account = accounts.get(id);
  if (!account) return undefined;
  return {
    accountId: id,
    async claims() {
      // Read at each use, so a changed account shows in the next token.
      const now = accounts.get(id) ?? account;
      const claims = { sub: id };
      for (const name of ['email', 'email_verified', 'name', 'groups']) {
        if (now[name] !== undefined && now[name] !== null) claims[name] = now[name];
      }
      return claims;
    },
  };
}

// ---- Storage ------------------------------------------------------------------------------------

/**
 * The provider's storage, in memory without a size bound (oidc-provider's own memory adapter
 * evicts after 1000 entries, which a long parallel run would reach). Clients come from `clients`.
 */
const store = new Map();
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
}, 60_000).unref();

class Adapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload, expiresAt });
    if (payload.uid) store.set(`uid:${payload.uid}`, { payload: id, expiresAt });
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: id, expiresAt });
  }

  async find(id) {
    if (this.model === 'Client') return clients.get(id)?.metadata;
    const entry = store.get(this.key(id));
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return entry.payload;
  }

  async findByUid(uid) {
    const id = store.get(`uid:${uid}`)?.payload;
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode) {
    const id = store.get(`userCode:${userCode}`)?.payload;
    return id ? this.find(id) : undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of store) {
      if (key.startsWith(`${this.model}:`) && entry.payload.grantId === grantId) store.delete(key);
    }
  }
}

// ---- ID token faults and rotation ----------------------------------------------------------------

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());
const jsonb64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The ID token the client should get: as the provider signed it, unless the keys were rotated
 * since (then the client's new key re-signs it) or the client has a fault (then the claims or the key
 * change and it is re-signed).
 */
function reissue(idToken, issuer) {
  const [h, p] = idToken.split('.');
  const header = b64json(h);
  const payload = b64json(p);
  const clientId = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
  const client = clients.get(clientId);
  const fault = client?.fault ?? null;
  let key = client?.signer ?? signers[header.alg];
  if (!key || (!fault && key.kid === header.kid)) return idToken;
  const now = Math.floor(Date.now() / 1000);
  switch (fault) {
    case 'wrong_nonce':
      payload.nonce = `not-${payload.nonce ?? 'a-nonce'}`;
      break;
    case 'expired':
      payload.iat = now - 7200;
      payload.exp = now - 3600;
      if (payload.auth_time) payload.auth_time = now - 7200;
      break;
    case 'wrong_audience':
      payload.aud = 'client-someone-else';
      payload.azp = undefined;
      break;
    case 'wrong_issuer':
      payload.iss = `${issuer}/not-this-issuer`;
      break;
    case 'unknown_key':
      key = newKey(header.alg);
      break;
    default:
      break;
  }
  const input = `${jsonb64({ ...header, kid: key.kid })}.${jsonb64(payload)}`;
  const signature = sign(key, input);
  if (fault === 'bad_signature') signature[signature.length - 1] ^= 0x01;
  return `${input}.${signature.toString('base64url')}`;
}

// ---- Interactions ---------------------------------------------------------------------------------

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, clientId, login, error) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Test IdP: sign in</title></head>
<body>
<h1>Sign in to the test IdP</h1>
<p>For client <code>${escapeHtml(clientId)}</code>. Any password works.</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Account <input name="login" value="${escapeHtml(login)}" autofocus required></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button>
</form>
<p><a id="cancel" href="/interaction/${escapeHtml(uid)}/abort">Cancel</a></p>
</body>
</html>
`;
}

/** A grant of everything the request asked for: consent without a page. */
async function grantAll(provider, details, accountId) {
  const { params, prompt, grantId } = details;
  const grant = (grantId && await provider.Grant.find(grantId))
    ?? new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope ?? 'openid'));
  const claims = new Set(prompt.details?.missingOIDCClaims ?? []);
  if (params.claims) {
    const requested = JSON.parse(params.claims);
    for (const name of [...Object.keys(requested.id_token ?? {}), ...Object.keys(requested.userinfo ?? {})]) {
      claims.add(name);
    }
  }
  if (claims.size) grant.addOIDCClaims([...claims]);
  return grant.save();
}

async function finish(provider, ctx, result) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

async function logIn(provider, ctx, details, accountId) {
  const grantId = await grantAll(provider, details, accountId);
  await finish(provider, ctx, { login: { accountId }, consent: { grantId } });
}

async function readBody(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

/** GET /interaction/:uid, POST /interaction/:uid/login, GET /interaction/:uid/abort. */
async function interaction(provider, ctx, uid, action) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params } = details;
  ctx.set('cache-control', 'no-store');
  if (action === 'abort') {
    await finish(provider, ctx, {
      error: 'access_denied',
      error_description: 'the user cancelled the login',
    });
  } else if (action === 'login' && ctx.method === 'POST') {
    const login = new URLSearchParams(await readBody(ctx)).get('login')?.trim() ?? '';
    if (accounts.has(login)) {
      await logIn(provider, ctx, details, login);
    } else {
      ctx.type = 'html';
      ctx.body = loginPage(uid, params.client_id, login, `unknown account "${login}"`);
    }
  } else if (!action && ctx.method === 'GET') {
    if (prompt.name === 'login') {
      const hint = params.login_hint;
      if (hint && accounts.has(hint)) {
        await logIn(provider, ctx, details, hint);
      } else {
        ctx.type = 'html';
        ctx.body = loginPage(uid, params.client_id, hint ?? '', hint ? `unknown account "${hint}"` : '');
      }
    } else {
      // Consent (a session from an earlier login, a new client): granted without a page.
      const grantId = await grantAll(provider, details, details.session.accountId);
      await finish(provider, ctx, { consent: { grantId } });
    }
  } else {
    ctx.status = 405;
  }
}

/** A login_hint that names another account than the session's asks for a new login. */
function loginPolicy() {
  const { Check, base } = interactionPolicy;
  const policy = base();
  policy.get('login').checks.add(new Check(
    'login_hint_differs',
    'the login_hint names another account than the session',
    (ctx) => {
      const { oidc } = ctx;
      const hint = oidc.params.login_hint;
      return hint && oidc.session.accountId && hint !== oidc.session.accountId
        ? Check.REQUEST_PROMPT
        : Check.NO_NEED_TO_PROMPT;
    },
  ));
  return policy;
}

// ---- The server --------------------------------------------------------------------------------

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  adapter: Adapter,
  findAccount,
  jwks: { keys: initialKeys.map((key) => key.jwk) },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  // The claims of the scopes go into the ID token itself, not only to userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  enabledJWA: { idTokenSigningAlgValues: ALGS },
  features: { devInteractions: { enabled: false } },
  interactions: {
    policy: loginPolicy(),
    url: (_ctx, { uid }) => `/interaction/${uid}`,
  },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')], short: { signed: false } },
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, IdToken: 3600, Interaction: 600, Session: 3600,
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Test IdP error</title><pre class="error">${escapeHtml(JSON.stringify(out))}</pre>`;
  },
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error']) {
  provider.on(event, (_ctx, error) => {
    process.stderr.write(`idp: ${event}: ${error.message}${error.error_description ? ` (${error.error_description})` : ''}\n`);
  });
}

// One line per request.
provider.use(async (ctx, next) => {
  const start = Date.now();
  try {
    await next();
  } finally {
    process.stderr.write(`idp: ${ctx.method} ${ctx.path} ${ctx.status} ${Date.now() - start}ms\n`);
  }
});

// A client without a cookie store (reqwest in a test) still finishes a login: the interaction's
// uid is in the URL, so its cookies are filled in from there when absent.
provider.use(async (ctx, next) => {
  const match = /^\/(interaction|auth)\/([^/]+)/.exec(ctx.path);
  if (match) {
    const name = provider.cookieName(match[1] === 'auth' ? 'resume' : 'interaction');
    const cookie = ctx.get('cookie');
    if (!cookie.split(/;\s*/).some((c) => c.startsWith(`${name}=`))) {
      ctx.req.headers.cookie = cookie ? `${cookie}; ${name}=${match[2]}` : `${name}=${match[2]}`;
    }
  }
  await next();
});

// Control endpoints, interactions, the JWKS with rotated keys, faults on the token response.
provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/__control/')) {
    if (ctx.method !== 'POST') {
      ctx.status = 405;
      return;
    }
    try {
      const raw = await readBody(ctx);
      const body = raw ? JSON.parse(raw) : {};
      const route = ctx.path.slice('/__control/'.length);
      if (route === 'clients') ctx.body = registerClient(body);
      else if (route === 'accounts') ctx.body = setAccount(body);
      else if (route === 'rotate') ctx.body = rotate(body);
      else ctx.status = 404;
    } catch (error) {
      ctx.status = 400;
      ctx.body = { error: error.message };
    }
    return;
  }
  const match = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(ctx.path);
  if (match) {
    await interaction(provider, ctx, match[1], match[2]);
    return;
  }
  if (ctx.method === 'GET' && ctx.path === '/jwks') {
    ctx.type = 'application/jwk-set+json; charset=utf-8';
    ctx.body = { keys: published.map(publicJwk) };
    return;
  }
  await next();
  if (ctx.method === 'POST' && ctx.path === '/token' && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: reissue(ctx.body.id_token, issuer) };
  }
});

server.on('request', provider.callback());

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Exit with the parent: a pipe on stdin closes when the process holding it dies. A terminal or
// /dev/null (a background job in a script) is not watched; SIGTERM stops those.
const stdin = fstatSync(0, { throwIfNoEntry: false });
if (stdin && (stdin.isFIFO() || stdin.isSocket())) {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
