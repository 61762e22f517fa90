"""Test settings: production settings with the few changes a local test run needs."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
# A fixed Fernet key for webhook secrets at rest (production requires WEBHOOK_SECRET_KEY; see checks.py).
os.environ.setdefault("WEBHOOK_SECRET_KEY", "dGVzdHMtb25seS13ZWJob29rLWtleS0wMTIzNDU2Nzg=")
# A fixed audit chain key (production requires AUDIT_KEY; see checks.py). Tests point
# AUDIT_CHECKPOINT_DIR at a temporary directory of their own (tests/conftest.py).
os.environ.setdefault("AUDIT_KEY", "tests-only-audit-key-0123456789-abcdefghijklmnop")

from reviewapp.settings import *  # noqa: F403

# Tests talk plain HTTP to the test client and a local live server.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Hashed static names need `collectstatic`; the manifest storage is exercised by `check --deploy`.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; real hashing is Django's job
# Two-factor sign-in is off unless a test turns it on (tests/test_second_factor.py does).
REQUIRE_2FA_FOR = []
# Checkpoints are written by the tests that need them; the age check is tested on its own.
AUDIT_CHECKPOINT_MAX_AGE_MINUTES = 0
