"""GDPR data-subject requests (Articles 12-22) and consent records (Article 7): customers ask,
Rampart fulfils the request across every system holding their data, on time, with signed proof."""
