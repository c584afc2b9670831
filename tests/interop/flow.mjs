// An independent relying party (npm openid-client v6, npm jose) against a running Rampart:
// discovery, authorization code + PKCE through a scripted login (real /login form with its CSRF
// token), token, userinfo, refresh, revocation, introspection; tokens verified with jose against
// the published JWKS. openid-client's ID token validation runs with its defaults (signature, iss,
// aud, exp, iat, nonce, at_hash...); only plain-http loopback requests are allowed.
// Input: env ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, EMAIL, PASSWORD.
// Output: one JSON object on stdout.
import * as client from 'openid-client';
import * as jose from 'jose';

const env = process.env;
const issuer = new URL(env.ISSUER);
const cookies = new Map();

function remember(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const index = pair.indexOf('=');
    const name = pair.slice(0, index).trim();
    const value = pair.slice(index + 1).trim();
    if (value === '' || /max-age=0/i.test(line)) cookies.delete(name);
    else cookies.set(name, value);
  }
}

async function browserGet(url) {
  const response = await fetch(url, {
    redirect: 'manual',
    headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
  });
  remember(response);
  return response;
}

async function browserPostForm(url, form) {
  const response = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    },
    body: new URLSearchParams(form),
  });
  remember(response);
  return response;
}

// Follow redirects like a browser until one leaves for the client's redirect_uri.
async function loginAndAuthorize(authorizationUrl) {
  let url = authorizationUrl.href;
  for (let hop = 0; hop < 10; hop++) {
    if (url.startsWith(env.REDIRECT_URI)) return new URL(url);
    const response = await browserGet(url);
    if (response.status === 200 && new URL(url).pathname === '/login') {
      const html = await response.text();
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)[1];
      const next = /name="next" value="([^"]*)"/.exec(html)[1].replaceAll('&amp;', '&');
      const posted = await browserPostForm(new URL('/login', issuer), {
        email: env.EMAIL, password: env.PASSWORD, csrf_token: csrf, next,
      });
      if (posted.status !== 303 && posted.status !== 302) throw new Error(`login failed: ${posted.status}`);
      url = new URL(posted.headers.get('location'), issuer).href;
      continue;
    }
    if (response.status !== 302 && response.status !== 303) {
      throw new Error(`unexpected ${response.status} at ${new URL(url).pathname}`);
    }
    url = new URL(response.headers.get('location'), url).href;
  }
  throw new Error('too many redirects');
}

const result = {};
const config = await client.discovery(
  issuer, env.CLIENT_ID, env.CLIENT_SECRET, client.ClientSecretBasic(env.CLIENT_SECRET),
  { execute: [client.allowInsecureRequests] },
);
const metadata = config.serverMetadata();
result.discovery = { issuer: metadata.issuer, pkce: metadata.supportsPKCE() };

const codeVerifier = client.randomPKCECodeVerifier();
const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
const nonce = client.randomNonce();
const state = client.randomState();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: env.REDIRECT_URI,
  scope: 'openid email profile',
  code_challenge: codeChallenge,
  code_challenge_method: 'S256',
  nonce,
  state,
});
const callback = await loginAndAuthorize(authorizationUrl);
result.callbackHasIss = callback.searchParams.get('iss') === metadata.issuer;

const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: codeVerifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
});
const claims = tokens.claims();
result.idToken = { sub: claims.sub, email: claims.email, nonce: claims.nonce === nonce, amr: claims.amr };
result.tokens = { access: tokens.access_token, id: tokens.id_token, refresh: tokens.refresh_token };

const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
result.userinfo = { sub: userinfo.sub, email: userinfo.email };

const jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
const access = await jose.jwtVerify(tokens.access_token, jwks, {
  issuer: metadata.issuer, audience: metadata.issuer, typ: 'at+jwt', algorithms: ['ES256', 'EdDSA', 'RS256'],
});
const id = await jose.jwtVerify(tokens.id_token, jwks, {
  issuer: metadata.issuer, audience: env.CLIENT_ID, algorithms: ['ES256', 'EdDSA', 'RS256'],
});
result.jose = { accessTyp: access.protectedHeader.typ, accessClient: access.payload.client_id, idSub: id.payload.sub };
let confused = false;
try {
  await jose.jwtVerify(tokens.id_token, jwks, { issuer: metadata.issuer, typ: 'at+jwt' });
  confused = true;
} catch { /* refused, as it must be */ }
result.jose.idTokenRefusedAsAccessToken = !confused;

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
result.refresh = { rotated: refreshed.refresh_token !== tokens.refresh_token, hasAccess: !!refreshed.access_token };
let reuseRefused = false;
try {
  await client.refreshTokenGrant(config, tokens.refresh_token);
} catch (error) {
  reuseRefused = error.error === 'invalid_grant';
}
result.refresh.reuseRefused = reuseRefused;

const fresh = await client.clientCredentialsGrant(config, { scope: 'orders:read' }).catch((e) => ({ error: e.error }));
result.clientCredentials = fresh.error ?? 'ok';

await client.tokenRevocation(config, refreshed.access_token);
const introspected = await client.tokenIntrospection(config, refreshed.access_token);
result.revocation = { activeAfterRevoke: introspected.active };

process.stdout.write(JSON.stringify(result));
