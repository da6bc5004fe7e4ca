// A real OpenID Provider (npm `oidc-provider`, a certified implementation) for Helix SSO
// end-to-end tests. Listens on 127.0.0.1:$PORT only; no interactive pages: the user is taken
// from the `login_hint` authorization parameter and consent is given automatically.
// See README.md in this folder for the environment variables, the users and the flow.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

import { Provider, errors } from 'oidc-provider';

function fail(message) {
  process.stderr.write(`oidc-provider: ${message}\n`);
  process.exit(2);
}

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) fail(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

// PORT=0 lets the system pick a free port; the `ready` line tells which one.
const PORT_RAW = process.env.PORT;
if (PORT_RAW === undefined || !/^[0-9]+$/.test(PORT_RAW) || Number(PORT_RAW) > 65535) {
  fail(`PORT (0-65535) is required, got ${JSON.stringify(PORT_RAW)}`);
}
const PORT = Number(PORT_RAW);
const CLIENT_ID = process.env.CLIENT_ID || 'helix';
const CLIENT_SECRET = process.env.CLIENT_SECRET || 'helix-secret';
// One redirect URI, or several separated by commas or spaces.
const REDIRECT_URIS = (process.env.REDIRECT_URI || '').split(/[\s,]+/).filter(Boolean);
if (REDIRECT_URIS.length === 0) fail('REDIRECT_URI is required');
for (const uri of REDIRECT_URIS) {
  let url;
  try {
    url = new URL(uri);
  } catch {
    fail(`REDIRECT_URI ${JSON.stringify(uri)} is not an absolute URL`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.hash) {
    fail(`REDIRECT_URI ${JSON.stringify(uri)} must be an http(s) URL without a fragment`);
  }
}
const CODE_TTL = intEnv('CODE_TTL', 60);
const ID_TOKEN_TTL = intEnv('ID_TOKEN_TTL', 3600);
const ACCESS_TOKEN_TTL = intEnv('ACCESS_TOKEN_TTL', 3600);

// Test users. The account id (login_hint) is also the `sub` claim.
const USERS = {
  alice: {
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Admin',
    groups: ['helix-admins', 'staff'],
  },
  bob: {
    email: 'bob@example.com',
    email_verified: true,
    name: 'Bob Builder',
    groups: ['staff'],
  },
  mallory: {
    email: 'mallory@evil.test',
    email_verified: false,
    name: 'Mallory Outsider',
    groups: [],
  },
};

function findUser(id) {
  return typeof id === 'string' && Object.hasOwn(USERS, id) ? USERS[id] : undefined;
}

// A stable (for the life of the process) RS256 signing key.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `helix-test-${randomBytes(6).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

// The issuer contains the port, which is known only once listening (PORT=0), so the provider is
// built after listen().
function createProvider(issuer) {
  const configuration = {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: REDIRECT_URIS,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        // client_secret_post is accepted for this client as well: oidc-provider treats the two
        // shared-secret methods as interchangeable.
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [signingJwk] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
    },
    // Scope -> claims. `groups` is its own scope.
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    // Put the scope-granted claims in the ID token too (the default puts them only in userinfo
    // when an access token is issued alongside).
    conformIdTokenClaims: false,
    pkce: {
      required: () => true,
    },
    responseTypes: ['code'],
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    ttl: {
      AuthorizationCode: CODE_TTL,
      IdToken: ID_TOKEN_TTL,
      AccessToken: ACCESS_TOKEN_TTL,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(_ctx, id) {
      const user = findUser(id);
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: user.email,
            email_verified: user.email_verified,
            name: user.name,
            preferred_username: id,
            groups: [...user.groups],
          };
        },
      };
    },
    renderError(ctx, out, _error) {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  };

  const provider = new Provider(issuer, configuration);

  for (const event of [
    'server_error',
    'authorization.error',
    'grant.error',
    'introspection.error',
    'revocation.error',
    'userinfo.error',
    'jwks.error',
    'discovery.error',
    'end_session.error',
  ]) {
    provider.on(event, (_ctx, err) => {
      const detail = err.error_description ? `: ${err.error_description}` : '';
      process.stderr.write(`oidc-provider: ${event}: ${err.error || err.message}${detail}\n`);
      if (event === 'server_error' && err.stack) process.stderr.write(`${err.stack}\n`);
    });
  }

  const COOKIE_SESSION = provider.cookieName('session');

  provider.use(async (ctx, next) => {
    // Every new authorization request starts without an end-user session, so the user is always
    // the one named by login_hint (a client that keeps cookies between logins as different users
    // would otherwise get the previous user, or the provider's HTML logout confirmation).
    // The old session cookie is dropped from this request and expired in the client.
    if (ctx.path === '/auth' && typeof ctx.req.headers.cookie === 'string') {
      const isSession = (c) => c.startsWith(`${COOKIE_SESSION}=`) || c.startsWith(`${COOKIE_SESSION}.sig=`);
      const cookies = ctx.req.headers.cookie.split(';').map((c) => c.trim()).filter(Boolean);
      if (cookies.some(isSession)) {
        ctx.req.headers.cookie = cookies.filter((c) => !isSession(c)).join('; ');
        ctx.cookies.set(COOKIE_SESSION, null, { path: '/', httpOnly: true, sameSite: 'lax' });
      }
    }

    const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
    const formPost = /^\/interaction\/([^/]+)\/login$/.exec(ctx.path);
    if (formPost && ctx.method === 'POST') {
      await finishFormLogin(ctx);
      return;
    }
    if (!match || ctx.method !== 'GET') {
      await next();
      return;
    }

    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      if (err instanceof errors.SessionNotFound) {
        ctx.status = 400;
        ctx.type = 'application/json';
        ctx.body = { error: 'invalid_request', error_description: `interaction: ${err.error_description || err.message}` };
        return;
      }
      throw err;
    }
    const { prompt, params, session } = details;
    let result;

    if (prompt.name === 'login') {
      const hint = params.login_hint;
      if (!hint) {
        // A person in a browser: ask who they are (the form posts to finishFormLogin).
        ctx.status = 200;
        ctx.type = 'html';
        ctx.set('Cache-Control', 'no-store');
        ctx.body = loginPage(match[1]);
        return;
      }
      if (findUser(hint)) {
        result = { login: { accountId: hint } };
      } else {
        result = {
          error: 'access_denied',
          error_description: hint ? `unknown user (login_hint=${hint})` : 'login_hint is required',
        };
      }
    } else if (prompt.name === 'consent') {
      const accountId = session?.accountId;
      let grant;
      if (details.grantId) {
        grant = await provider.Grant.find(details.grantId);
      }
      if (!grant) {
        grant = new provider.Grant({ accountId, clientId: params.client_id });
      }
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      if (missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      const grantId = await grant.save();
      result = details.grantId ? { consent: {} } : { consent: { grantId } };
    } else {
      result = { error: 'access_denied', error_description: `unsupported prompt ${prompt.name}` };
    }

    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: prompt.name === 'consent',
    });
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(returnTo);
  });

  // The sign-in form's answer: `username=alice` (a known user) signs in; anyone else is
  // refused (access_denied back to the client).
  async function finishFormLogin(ctx) {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const username = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('username') ?? '';
    try {
      await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      ctx.status = 400;
      ctx.type = 'application/json';
      ctx.body = { error: 'invalid_request', error_description: `interaction: ${err.error_description || err.message}` };
      return;
    }
    const result = findUser(username)
      ? { login: { accountId: username } }
      : { error: 'access_denied', error_description: `unknown user (${username})` };
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(returnTo);
  }

  return provider;
}

function loginPage(uid) {
  const action = `/interaction/${encodeURIComponent(uid)}/login`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title></head>
<body><h1>Sign in to the test identity provider</h1>
<form method="post" action="${action}">
<label>Username <input name="username" autocomplete="username" autofocus></label>
<button type="submit">Continue</button>
</form></body></html>`;
}

const server = createServer();
server.on('error', (err) => fail(`listen on 127.0.0.1:${PORT} failed: ${err.message}`));
server.listen(PORT, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  let provider;
  try {
    provider = createProvider(issuer);
  } catch (err) {
    fail(`configuration error: ${err.stack || err}`);
  }
  server.on('request', provider.callback());
  process.stdout.write(`ready ${issuer}\n`);
});

function shutdown(signal) {
  process.stderr.write(`oidc-provider: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
