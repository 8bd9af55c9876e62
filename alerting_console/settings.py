"""Settings: one flat module, everything read from the environment (and an optional .env).

Every variable is documented in the README. A malformed value stops start-up with a message
naming it (see ``env.py``); misconfigurations that parse but are unsafe are reported by the
system checks in ``checks.py``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from kombu import Exchange, Queue

from alerting_console.env import (
    ConfigError,
    read_bool,
    read_choice,
    read_database,
    read_float,
    read_int,
    read_list,
    read_networks,
    read_str,
    read_url,
    read_url_list,
)

# Lets admin and queryset classes be subscripted (ModelAdmin[Team]) at run time, for mypy.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CONSOLE_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

# A .env file fills in what the real environment does not set; it never overrides it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
ENV = os.environ

DEBUG = read_bool(ENV, "DEBUG", default=False)

# True when no DATABASE_URL / REDIS_URL is configured: a newcomer's try-out on SQLite and a
# file-based Celery queue under var/. Production and the tests use Postgres and Redis.
EMBEDDED_DATABASE = not read_str(ENV, "DATABASE_URL")
EMBEDDED_BROKER = not read_str(ENV, "REDIS_URL")


def _secret_key() -> tuple[str, bool]:
    """SECRET_KEY from the environment, else one generated once and kept under var/.

    The generated key keeps sessions valid across restarts of a try-out; the system check
    console.E001 refuses it in production.
    """
    configured = read_str(ENV, "SECRET_KEY")
    if configured:
        return configured, False
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip(), True


SECRET_KEY, SECRET_KEY_GENERATED = _secret_key()

ALLOWED_HOSTS = read_list(ENV, "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = read_url_list(ENV, "CSRF_TRUSTED_ORIGINS", ("http", "https"))

INSTALLED_APPS = [
    "alerting_console.apps.ConsoleAdminConfig",  # the admin, with the console's home page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "alerting_console.apps.ConsoleConfig",
    "policies.apps.PoliciesConfig",
    "ingest.apps.IngestConfig",
    "simple_history",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # who made each recorded change
    "axes.middleware.AxesMiddleware",  # answers a locked-out login with 429
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a login while its username + address is locked
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins: after LOGIN_FAILURE_LIMIT failures for one username from one address, that
# pair is locked out for LOGIN_LOCKOUT_MINUTES; a success resets the count.
AXES_FAILURE_LIMIT = read_int(ENV, "LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=read_int(ENV, "LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Behind a proxy every peer is the proxy: lockouts key on the client address it forwarded, read
# only as far as these say to trust it (alerting_console/client_address.py). Neither set: the
# peer's address (REMOTE_ADDR), and X-Forwarded-For is ignored.
TRUSTED_PROXY_COUNT = read_int(ENV, "TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
TRUSTED_PROXIES = read_networks(ENV, "TRUSTED_PROXIES")
if TRUSTED_PROXY_COUNT and TRUSTED_PROXIES:
    raise ConfigError("TRUSTED_PROXIES", "set it or TRUSTED_PROXY_COUNT, not both")
AXES_CLIENT_IP_CALLABLE = "alerting_console.client_address.client_address"
# The change history is for reading: no "Revert" button (see policies/admin/common.py).
SIMPLE_HISTORY_REVERT_DISABLED = True

ROOT_URLCONF = "alerting_console.urls"
WSGI_APPLICATION = "alerting_console.wsgi.application"

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
                "policies.context.banners",
            ],
        },
    },
]

DATABASES = {"default": read_database(ENV, "DATABASE_URL", str(VAR_DIR / "console.sqlite3"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, worker and beat read while one of them writes; IMMEDIATE takes
    # the write lock at BEGIN so concurrent writers wait instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # Opening a Postgres connection per request costs about five times the ingest throughput.
    DATABASES["default"]["CONN_MAX_AGE"] = read_int(ENV, "DATABASE_CONN_MAX_AGE", 600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One time format on every page (alerting_console/formats/en/formats.py).
FORMAT_MODULE_PATH = ["alerting_console.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve the admin's assets straight from the installed apps: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "admin:login"

# --- the console's own settings ---------------------------------------------------------------

PAGERDUTY_EVENTS_URL = read_url(
    ENV, "PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue", ("http", "https")
)
# Slack's Web API base, for Slack channels with a bot token (chat.postMessage, chat.update): a
# setting, not a user's URL, so it is trusted. Tests and corporate proxies point it elsewhere.
# (Incoming-webhook URLs belong to each channel and are checked like any URL a person enters.)
SLACK_API_URL = read_url(ENV, "SLACK_API_URL", "https://slack.com/api", ("http", "https"))
# Where the console is reached by people; pages link back to incidents under this URL.
CONSOLE_BASE_URL = read_url(ENV, "CONSOLE_BASE_URL", "", ("http", "https")).rstrip("/")
# Largest ingest body accepted. LiteLLM's generic_api posts up to 512 events of about 16 KB.
INGEST_MAX_BODY_BYTES = read_int(ENV, "INGEST_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024)
# Seconds a request body may take to arrive after its headers (408 after): slow clients must
# not hold the web server (alerting_console/asgi.py).
REQUEST_BODY_TIMEOUT_SECONDS = read_float(ENV, "REQUEST_BODY_TIMEOUT_SECONDS", 30.0, minimum=0.1)
# Seconds a process trusts what it read of an ingest token; disabling one takes this long.
INGEST_TOKEN_CACHE_SECONDS = read_float(ENV, "INGEST_TOKEN_CACHE_SECONDS", 10.0)
# (The ingest view reads the body as a stream, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which
# guards forms, does not apply to it.)
# Outbound HTTP (every channel's service) timeout in seconds: the whole call, answer included.
HTTP_TIMEOUT_SECONDS = read_float(ENV, "HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.1)
# URLs that people enter (webhooks) may lead only to public addresses over https
# (policies/egress.py). NOTIFY_ALLOW_HTTP also allows plain http (readable on the way);
# NOTIFY_ALLOWED_PRIVATE_NETWORKS (comma-separated CIDRs, e.g. 10.1.2.0/24) lets them reach
# these private addresses too, for a receiver inside your own network. Both off by default.
NOTIFY_ALLOW_HTTP = read_bool(ENV, "NOTIFY_ALLOW_HTTP", False)
NOTIFY_ALLOWED_PRIVATE_NETWORKS = read_networks(ENV, "NOTIFY_ALLOWED_PRIVATE_NETWORKS")

# E-mail channels send through Django's mail framework, configured by one URL
# (django-environ's schemes: smtp://user:password@host:25, smtp+tls:// for STARTTLS,
# smtp+ssl:// for TLS from the start, consolemail://, filemail:////abs/dir, ...; percent-encode
# special characters in the password). The default, consolemail://, writes each mail to the
# worker's output: a try-out has no mail server, and sends nothing to anyone by mistake.
_email_url = read_str(ENV, "EMAIL_URL", "consolemail://")
# Errors name the scheme, never the URL: it may hold the mail server's password.
if _email_url.partition("://")[0] not in environ.Env.EMAIL_SCHEMES:
    raise ConfigError(
        "EMAIL_URL", f"the scheme must be one of {', '.join(environ.Env.EMAIL_SCHEMES)}"
    )
try:
    _email = environ.Env.email_url_config(_email_url)
except (ValueError, KeyError):
    raise ConfigError("EMAIL_URL", "not a valid e-mail URL") from None
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
if _email.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
# A mail server that hangs must not hold a delivery worker longer than a web call would.
EMAIL_TIMEOUT = HTTP_TIMEOUT_SECONDS
# The sender of e-mail channels' messages.
DEFAULT_FROM_EMAIL = read_str(ENV, "DEFAULT_FROM_EMAIL", "Alerting Console <alerts@localhost>")
# /metrics: open unless a bearer token is set (it shows counts only, no names or secrets).
METRICS_TOKEN = read_str(ENV, "METRICS_TOKEN")

# Request rows older than this are deleted (hourly, in batches); incidents are kept.
REQUEST_RETENTION_DAYS = read_int(ENV, "REQUEST_RETENTION_DAYS", 30, minimum=1)
# How often Celery beat evaluates every policy, in seconds.
EVALUATION_INTERVAL_SECONDS = read_float(ENV, "EVALUATION_INTERVAL_SECONDS", 5.0, minimum=0.5)
# After a gap in evaluation (beat or Redis down), how far back missed evaluations are replayed.
EVALUATION_CATCH_UP_SECONDS = read_int(ENV, "EVALUATION_CATCH_UP_SECONDS", 3600)
# How long a page is retried (429, 5xx, timeouts) before it is given up.
DELIVERY_RETRY_SECONDS = read_int(ENV, "DELIVERY_RETRY_SECONDS", 6 * 3600, minimum=60)
# A channel refused this many messages in a row for good (a deleted webhook, a revoked key): it
# is disabled, loudly, until a person enables it again.
CHANNEL_DISABLE_AFTER = read_int(ENV, "CHANNEL_DISABLE_AFTER", 5, minimum=1)
# At most this many slow calls (unanswered after 2 s) to one channel at once: a channel that
# hangs holds no more workers than this; one that answers quickly is never held back.
CHANNEL_MAX_IN_FLIGHT = read_int(ENV, "CHANNEL_MAX_IN_FLIGHT", 2, minimum=1)

# --- HTTPS ------------------------------------------------------------------------------------

# The console is served as HTTPS in production when its public URL says so: then cookies travel
# only over HTTPS, browsers are told to use nothing else (HSTS), and plain HTTP is redirected.
# Each can be set on its own; `manage.py check --deploy` reports what is left unsafe.
SERVED_OVER_HTTPS = CONSOLE_BASE_URL.startswith("https://") and not DEBUG and not EMBEDDED_DATABASE
# The header the TLS proxy sets to say the request came in as HTTPS (X-Forwarded-Proto): Django
# cannot tell otherwise, since the proxy talks plain HTTP to the web server.
_proxy_ssl_header = read_str(ENV, "SECURE_PROXY_SSL_HEADER")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _proxy_ssl_header.upper().replace("-", "_"),
        "https",
    )
SESSION_COOKIE_SECURE = read_bool(ENV, "SESSION_COOKIE_SECURE", SERVED_OVER_HTTPS)
CSRF_COOKIE_SECURE = read_bool(ENV, "CSRF_COOKIE_SECURE", SERVED_OVER_HTTPS)
SECURE_HSTS_SECONDS = read_int(
    ENV, "SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SERVED_OVER_HTTPS else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = read_bool(ENV, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = read_bool(ENV, "SECURE_HSTS_PRELOAD", False)
# Redirecting needs to know which requests are HTTPS already, or it would loop: on by default
# only when the proxy's header is configured.
SECURE_SSL_REDIRECT = read_bool(
    ENV, "SECURE_SSL_REDIRECT", SERVED_OVER_HTTPS and bool(_proxy_ssl_header)
)
# Load balancers and Prometheus probe these over plain HTTP from inside; a redirect fails them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^engine-health$", r"^metrics$"]

# --- Celery ----------------------------------------------------------------------------------

REDIS_URL = read_url(ENV, "REDIS_URL", "", ("redis", "rediss", "unix"))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
else:
    # kombu's filesystem transport: worker and beat still run as real processes, with no Redis.
    _queue_dir = VAR_DIR / "celery-queue"
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# A task is acknowledged after it ran, so a worker that dies mid-task leaves it for another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django support closes the database connection before and after every task unless
# told to reuse it: a new Postgres connection per delivery cost about three quarters of its
# time (make bench-notify, docs/performance.md). Reused, it is still closed after this many
# tasks, and Django's CONN_HEALTH_CHECKS replaces one that broke.
CELERY_DB_REUSE_MAX = read_int(ENV, "CELERY_DB_REUSE_MAX", 1000, minimum=0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Evaluation must never wait behind a page: a delivery holds a worker process for up to
# HTTP_TIMEOUT_SECONDS, and an evaluation tick that waits longer than an interval expires.
# So each kind of work has a queue, and each queue a worker of its own (README, "Running in
# production"): `engine` (evaluation and the outbox sweep, short and frequent), `deliveries`
# (the calls to PagerDuty), `housekeeping` (hourly pruning, which may run for minutes, and
# folding request counts: they may delay a page a little, never an evaluation). A worker
# started without -Q serves them all.
# Each queue on a direct exchange of its own, named like it (a Queue given only a name is
# bound to the default queue's exchange and key, which the worker banners then show).
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in ("engine", "deliveries", "housekeeping")
]
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_TASK_ROUTES = {
    "policies.evaluate": {"queue": "engine"},
    "policies.deliver_due": {"queue": "engine"},
    "policies.deliver": {"queue": "deliveries"},
    "ingest.prune": {"queue": "housekeeping"},
    "ingest.fold": {"queue": "housekeeping"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "evaluate": {
        "task": "policies.evaluate",
        "schedule": EVALUATION_INTERVAL_SECONDS,
        # A tick that waited longer than an interval is stale: the next one covers it.
        "options": {"expires": EVALUATION_INTERVAL_SECONDS},
    },
    "deliver-due": {"task": "policies.deliver_due", "schedule": 15.0},
    "prune": {"task": "ingest.prune", "schedule": 3600.0},
    # Request counts' changes into rollups (ingest/rollups.py); a run that outlives the next
    # tick is not doubled: the two take different changes.
    "fold": {"task": "ingest.fold", "schedule": 5.0, "options": {"expires": 5.0}},
}

# --- logging ---------------------------------------------------------------------------------

LOG_LEVEL = read_choice(ENV, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Gateway-supplied names in a message cannot forge log lines (alerting_console/logfilters.py).
    "filters": {
        "escape": {"()": "alerting_console.logfilters.EscapeControlCharacters"},
        "routine": {"()": "alerting_console.logfilters.RoutineAsDebug"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["routine", "escape"],  # in this order: see logfilters.install
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # axes logs every login at INFO; failures and lockouts are WARNING.
    "loggers": {
        "django": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # httpx logs every request's URL at INFO, and a webhook's URL is its secret.
        "httpx": {"level": "WARNING"},
    },
}
