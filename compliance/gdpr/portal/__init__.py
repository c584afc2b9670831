"""The customers' privacy portal (/privacy): sign in with a Rampart login or an e-mailed code,
file and follow GDPR requests, download the package and the certificate."""
