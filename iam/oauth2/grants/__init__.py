"""authlib grants filled with Rampart's storage: authorization code (+ PKCE S256, OpenID),
refresh token (rotating families), client credentials."""
