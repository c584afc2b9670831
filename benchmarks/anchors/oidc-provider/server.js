// oidc-provider configured like Rampart for the benchmark: client_credentials with
// client_secret_basic, RFC 9068 JWT access tokens signed ES256, introspection enabled.
// oidc-provider refuses to introspect JWT access tokens, so the introspection run uses
// ACCESS_TOKEN_FORMAT=opaque (its only introspectable format).
// Usage: PORT=... CLIENT_ID=... CLIENT_SECRET=... [WORKERS=n] [ACCESS_TOKEN_FORMAT=jwt|opaque] node server.js
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const workers = Number(process.env.WORKERS || 1);
const audience = 'https://orders.example';
const accessTokenFormat = process.env.ACCESS_TOKEN_FORMAT || 'jwt';

if (cluster.isPrimary && workers > 1) {
  // One signing key for all workers, so tokens of one verify at another (introspection).
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  for (let i = 0; i < workers; i++) cluster.fork({ SIGNING_JWK: JSON.stringify(jwk) });
} else {
  const jwk = process.env.SIGNING_JWK
    ? JSON.parse(process.env.SIGNING_JWK)
    : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'orders:read',
    }],
    jwks: { keys: [{ ...jwk, alg: 'ES256', use: 'sig', kid: 'bench' }] },
    scopes: ['orders:read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'orders:read',
          audience,
          accessTokenTTL: 600,
          accessTokenFormat,
          ...(accessTokenFormat === 'jwt' ? { jwt: { sign: { alg: 'ES256' } } } : {}),
        }),
      },
    },
  });
  provider.listen(port, '127.0.0.1');
}
