from tests.iam.accounts.support import db, iam_settings  # noqa: F401 - shared fixtures
