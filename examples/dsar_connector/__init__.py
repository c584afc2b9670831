"""An example shop service (a small CRM) answering Rampart's GDPR requests through the SDK."""
