"""Server-rendered login, MFA, enrolment, account and logout pages (no inline script or style)."""
