"""Settings, read from the environment (and from a ``.env`` file in the checkout, loaded here
once for every entry point: ``run.py``, ``flask``, gunicorn, workers). Every setting has an
embedded default except secrets, which are generated once into ``instance/`` when not given."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask_appbuilder.const import AUTH_DB
from werkzeug.security import generate_password_hash

BASE_DIR = Path(__file__).resolve().parent


def load_env_file(path: Path = BASE_DIR / ".env") -> None:
    """Variables of ``.env`` that the environment does not set already. ``FLASK_SKIP_DOTENV=1``
    turns it off, for ``flask`` and here alike (the test suite does: a DATABASE_URL there must never
    be the database the tests wipe)."""
    if os.environ.get("FLASK_SKIP_DOTENV", "").strip().lower() in {"1", "true", "yes", "on"}:
        return
    from dotenv import load_dotenv

    load_dotenv(path, override=False)


load_env_file()
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance")).resolve()


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def persistent_secret(name: str, instance_dir: Path = INSTANCE_DIR) -> str:
    """Return ``$name`` from the environment, or a random value generated once into instance/."""
    if os.environ.get(name):
        return os.environ[name]
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / f"{name.lower()}.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def database_url(raw: str | None) -> str:
    """Normalise ``DATABASE_URL``: psycopg 3 for PostgreSQL, a SQLite file in instance/ by default."""
    if not raw:
        return f"sqlite:///{INSTANCE_DIR / 'clinic.db'}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


class Config:
    APP_NAME = os.environ.get("CLINIC_NAME", "Clinic")
    CLINIC_ADDRESS = os.environ.get("CLINIC_ADDRESS", "")  # printed on prescriptions
    CLINIC_PHONE = os.environ.get("CLINIC_PHONE", "")
    SECRET_KEY = persistent_secret("SECRET_KEY")
    JWT_SECRET_KEY = SECRET_KEY
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Embedded defaults; each is replaced by configuration alone.
    REDIS_URL = os.environ.get("REDIS_URL", "")  # empty: jobs run in-process
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "default")
    # Background jobs (README "Background jobs"): queues high, default and low.
    RQ_QUEUE_PREFIX = os.environ.get("RQ_QUEUE_PREFIX", "")  # several clinics (or test runs) on one Redis
    RQ_RETRY_INTERVALS = os.environ.get("RQ_RETRY_INTERVALS", "10,60,300")  # seconds; empty: no retry
    RQ_WORKER_CLASS = os.environ.get("RQ_WORKER_CLASS", "simple")  # simple (jobs in the worker) | fork
    # Domain events (README "Domain events: relay and consumers"): RabbitMQ for ``flask events relay``
    # and ``flask events consume``. Unset: the relay is off and events wait in the outbox table.
    AMQP_URL = os.environ.get("AMQP_URL") or None  # e.g. amqp://guest:guest@127.0.0.1:5672/%2F
    AMQP_EXCHANGE = os.environ.get("AMQP_EXCHANGE", "clinic.events")  # a durable topic exchange
    AMQP_QUEUE_PREFIX = os.environ.get("AMQP_QUEUE_PREFIX", "clinic.")  # consumer queue: prefix + name
    RELAY_BATCH_SIZE = int(os.environ.get("RELAY_BATCH_SIZE", "200"))
    RELAY_IDLE_SECONDS = float(os.environ.get("RELAY_IDLE_SECONDS", "0.5"))
    RELAY_MAX_BACKOFF_SECONDS = float(os.environ.get("RELAY_MAX_BACKOFF_SECONDS", "300"))
    ACCOUNTING_EXPORT_DIR = os.environ.get("ACCOUNTING_EXPORT_DIR", str(INSTANCE_DIR / "exports"))
    OUTBOX_STALE_SECONDS = int(os.environ.get("OUTBOX_STALE_SECONDS", "300"))  # /health: degraded beyond
    # Live updates (app/realtime): Socket.IO shares REDIS_URL as its message queue when set.
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "flask-socketio")  # several clinics on one Redis
    SOCKETIO_CORS_ORIGINS = [o for o in os.environ.get("SOCKETIO_CORS_ORIGINS", "").split(",") if o.strip()]
    SOCKETIO_PING_INTERVAL = int(os.environ.get("SOCKETIO_PING_INTERVAL", "25"))  # seconds
    SOCKETIO_MAX_MESSAGE_BYTES = int(os.environ.get("SOCKETIO_MAX_MESSAGE_BYTES", "73728"))
    # auto: gevent under an event-loop server (gunicorn -k gevent), else threading (app/realtime)
    SOCKETIO_ASYNC_MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "auto")
    # The two-level cache of hot reads (app/services/cache.py): in-process LRU, then Redis (REDIS_URL).
    CACHE_ENABLED = _bool("CACHE_ENABLED", True)
    CACHE_TTL_SECONDS = float(os.environ.get("CACHE_TTL_SECONDS", "30"))  # in-process level
    CACHE_REDIS_TTL_SECONDS = int(os.environ.get("CACHE_REDIS_TTL_SECONDS", "300"))  # Redis level
    CACHE_MAX_ENTRIES = int(os.environ.get("CACHE_MAX_ENTRIES", "2048"))  # in-process level, per process
    CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "clinic-cache")  # several clinics on one Redis
    CACHE_REDIS_TIMEOUT_SECONDS = float(os.environ.get("CACHE_REDIS_TIMEOUT_SECONDS", "0.5"))
    CACHE_REDIS_RETRY_SECONDS = float(os.environ.get("CACHE_REDIS_RETRY_SECONDS", "5"))  # after a failure
    SCHEDULER_POLL_SECONDS = int(os.environ.get("SCHEDULER_POLL_SECONDS", "5"))  # flask scheduler's loop
    MONGO_URI = os.environ.get("MONGO_URI", "")  # empty: documents live in the SQL database
    # Logs (app/logging_setup.py): json (one JSON event a line) or console (readable); empty: console
    # when debugging or testing, json otherwise.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Events of level INFO and above kept in the document store (MongoDB with MONGO_URI, else the SQL
    # database) for the admin log viewer, by a background writer (app/log_store.py); purged daily
    # after LOG_RETENTION_DAYS.
    LOG_DOCUMENTS = _bool("LOG_DOCUMENTS", True)
    LOG_RETENTION_DAYS = int(os.environ.get("LOG_RETENTION_DAYS", "30"))
    SEARCH_INDEX_DIR = os.environ.get("SEARCH_INDEX_DIR", str(INSTANCE_DIR / "search-index"))
    # Search (app/services/search): whoosh (files in SEARCH_INDEX_DIR) | postgres (the database's
    # full-text search); empty: postgres on a PostgreSQL database, whoosh otherwise.
    SEARCH_ENGINE = os.environ.get("SEARCH_ENGINE", "")
    SEARCH_INDEX_ON_WRITE = _bool("SEARCH_INDEX_ON_WRITE", True)  # false: only `flask search reindex` (bulk loads)
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    # Uploaded files (app/services/storage): local (UPLOAD_DIR), azure or cloudinary.
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    AZURE_STORAGE_CONNECTION_STRING = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "")
    AZURE_STORAGE_CONTAINER = os.environ.get("AZURE_STORAGE_CONTAINER", "clinic-files")
    CLOUDINARY_URL = os.environ.get("CLOUDINARY_URL", "")  # cloudinary://API_KEY:API_SECRET@CLOUD_NAME
    UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(10 * 1024 * 1024)))
    STORAGE_URL_SECONDS = int(os.environ.get("STORAGE_URL_SECONDS", "300"))  # life of a signed cloud URL
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")  # empty: mail goes to MAIL_OUTBOX_DIR
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "clinic@localhost")
    MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR", str(INSTANCE_DIR / "outbox"))

    # The clinic.
    CLINIC_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "Asia/Ho_Chi_Minh")
    CLINIC_CURRENCY = os.environ.get("CLINIC_CURRENCY", "VND")
    CLINIC_PHONE_REGION = os.environ.get("CLINIC_PHONE_REGION", "VN")

    # Card payments through Stripe Checkout (app/services/stripe_gateway.py): empty key, no card
    # payments. The webhook's signing secret verifies POST /webhooks/stripe; the API base is only
    # set to reach another server than api.stripe.com (the tests' local one).
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")

    # Signed webhooks (app/services/webhooks.py): endpoints need https://, except to this machine
    # (localhost) in debug, in tests or with this set; each try waits this long for an answer.
    WEBHOOKS_ALLOW_HTTP = _bool("WEBHOOKS_ALLOW_HTTP", False)
    WEBHOOKS_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOKS_TIMEOUT_SECONDS", "5"))

    # Booking policy.
    BOOKING_SLOT_MINUTES = int(os.environ.get("BOOKING_SLOT_MINUTES", "15"))  # start times fall on this grid
    BOOKING_BUFFER_MINUTES = int(os.environ.get("BOOKING_BUFFER_MINUTES", "0"))  # kept free after each visit
    BOOKING_MIN_NOTICE_MINUTES = int(os.environ.get("BOOKING_MIN_NOTICE_MINUTES", "60"))
    BOOKING_HORIZON_DAYS = int(os.environ.get("BOOKING_HORIZON_DAYS", "90"))
    BOOKING_ONLINE_ENABLED = _bool("BOOKING_ONLINE_ENABLED", True)
    BOOKING_ONLINE_NEEDS_CONFIRMATION = _bool("BOOKING_ONLINE_NEEDS_CONFIRMATION", True)
    BOOKING_PATIENT_CUTOFF_HOURS = int(os.environ.get("BOOKING_PATIENT_CUTOFF_HOURS", "2"))

    # Reviews (app.services.reviews).
    REVIEW_EDIT_DAYS = int(os.environ.get("REVIEW_EDIT_DAYS", "14"))  # a review can be changed this long
    REVIEW_MIN_COUNT = int(os.environ.get("REVIEW_MIN_COUNT", "3"))  # fewer published reviews: no average shown
    REVIEW_COMMENT_MAX = int(os.environ.get("REVIEW_COMMENT_MAX", "1000"))  # characters

    # Pharmacy (app.services.pharmacy_settings).
    PHARMACY_COURSE_END_RULE = _bool("PHARMACY_COURSE_END_RULE", True)  # no batch expiring before the course ends
    PHARMACY_RETURN_WINDOW_HOURS = int(os.environ.get("PHARMACY_RETURN_WINDOW_HOURS", "24"))
    PHARMACY_MIN_SHELF_LIFE_DAYS = int(os.environ.get("PHARMACY_MIN_SHELF_LIFE_DAYS", "90"))
    PHARMACY_USAGE_DAYS = int(os.environ.get("PHARMACY_USAGE_DAYS", "30"))
    PHARMACY_EXPIRY_WINDOW_DAYS = int(os.environ.get("PHARMACY_EXPIRY_WINDOW_DAYS", "60"))
    PHARMACY_DEFAULT_LEAD_TIME_DAYS = int(os.environ.get("PHARMACY_DEFAULT_LEAD_TIME_DAYS", "7"))

    # Billing (app.services.billing_settings): what a visit bills, VAT per line kind (percent; medical
    # services are exempt in Vietnam), invoice numbers, the tax code printed on invoices, e-mails.
    CLINIC_TAX_CODE = os.environ.get("CLINIC_TAX_CODE", "")
    BILLING_CHARGE_CONSULTATION_FEE = _bool("BILLING_CHARGE_CONSULTATION_FEE", True)
    BILLING_VAT_SERVICE = os.environ.get("BILLING_VAT_SERVICE", "0")
    BILLING_VAT_LAB = os.environ.get("BILLING_VAT_LAB", "0")
    BILLING_VAT_MEDICINE = os.environ.get("BILLING_VAT_MEDICINE", "5")
    BILLING_VAT_OTHER = os.environ.get("BILLING_VAT_OTHER", "10")
    BILLING_INVOICE_PREFIX = os.environ.get("BILLING_INVOICE_PREFIX", "HD")
    BILLING_EMAIL_ON_ISSUE = _bool("BILLING_EMAIL_ON_ISSUE", True)
    BILLING_EMAIL_ON_PAYMENT = _bool("BILLING_EMAIL_ON_PAYMENT", True)

    # Bank transfer by VietQR (app.services.vietqr): the clinic's bank (its NAPAS BIN) and account.
    VIETQR_BANK_BIN = os.environ.get("VIETQR_BANK_BIN", "")  # 6 digits, e.g. 970436 (Vietcombank)
    VIETQR_ACCOUNT_NO = os.environ.get("VIETQR_ACCOUNT_NO", "")
    VIETQR_ACCOUNT_NAME = os.environ.get("VIETQR_ACCOUNT_NAME", "")  # the holder, shown in banking apps
    VIETQR_BANK_NAME = os.environ.get("VIETQR_BANK_NAME", "")
    # VNPay (app.services.vnpay): the terminal code and HMAC-SHA512 secret VNPay issued, the payment
    # page and the merchant API (refunds); the defaults are VNPay's sandbox.
    VNPAY_TMN_CODE = os.environ.get("VNPAY_TMN_CODE", "")
    VNPAY_HASH_SECRET = os.environ.get("VNPAY_HASH_SECRET", "")
    VNPAY_PAY_URL = os.environ.get("VNPAY_PAY_URL", "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html")
    VNPAY_API_URL = os.environ.get("VNPAY_API_URL", "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction")

    # Care-team access: how long a break-the-glass grant to one patient's record lasts.
    BREAK_GLASS_MINUTES = int(os.environ.get("BREAK_GLASS_MINUTES", "60"))

    # Flask-AppBuilder.
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    FAB_SECURITY_MANAGER_CLASS = "app.security.ClinicSecurityManager"
    FAB_API_SWAGGER_UI = True
    FAB_ADD_SECURITY_API = False
    # Tables and permissions are made by `flask db upgrade` and `flask sync-roles` (deploy step),
    # never by web processes racing each other at start.
    FAB_CREATE_DB = _bool("FAB_CREATE_DB", False)
    FAB_UPDATE_PERMS = _bool("FAB_UPDATE_PERMS", False)
    FAB_API_MAX_PAGE_SIZE = 100
    FAB_BASE_TEMPLATE = "clinic/base.html"
    FAB_INDEX_VIEW = "app.views.home.HomeView"
    APP_THEME = ""
    # Interface languages (FAB's language menu and /lang/<locale>; app/i18n.py picks the language).
    LANGUAGES = {"en": {"flag": "gb", "name": "English"}, "vi": {"flag": "vn", "name": "Tiếng Việt"}}
    BABEL_DEFAULT_LOCALE = os.environ.get("BABEL_DEFAULT_LOCALE", "en")  # when the browser asks for neither
    # A logged-in user's language switch is also saved on their profile (notices and messages follow it).
    LANGUAGE_SWITCH_SAVES_PROFILE = _bool("LANGUAGE_SWITCH_SAVES_PROFILE", True)
    # FAB puts its own catalogues first; then Vietnamese for FAB's strings, then the clinic's (last wins).
    BABEL_TRANSLATION_DIRECTORIES = f"{BASE_DIR / 'app' / 'translations' / 'fab'};{BASE_DIR / 'app' / 'translations'}"
    WTF_CSRF_ENABLED = True  # app/csrf.py: every POST/PUT/PATCH/DELETE carries the token (tests too)
    WTF_CSRF_TIME_LIMIT = None  # a token lives as long as the login: a form left open over lunch still saves
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)  # true behind HTTPS
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "0"))  # above 0: browsers keep to HTTPS (HTTPS requests only)
    # Number of reverse proxies (load balancers) in front: their X-Forwarded-* headers are trusted,
    # so the audit trail and the login limit see the client's address.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    # Rate limits of the account routes (app/limits.py): per client address and per account, for
    # logins (form and API counted together), sign-ups, password resets and confirmation resends.
    # Counted in Redis when REDIS_URL is set, else in each process's memory.
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "clinic")
    # FAB's own limit (one per blueprint, per address only) is replaced by app.limits.
    AUTH_RATE_LIMITED = False
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT") or os.environ.get("AUTH_RATE_LIMIT", "30 per minute")
    LOGIN_ACCOUNT_RATE_LIMIT = os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "10 per minute; 60 per hour")
    SIGNUP_RATE_LIMIT = os.environ.get("SIGNUP_RATE_LIMIT", "10 per hour")
    SIGNUP_ACCOUNT_RATE_LIMIT = os.environ.get("SIGNUP_ACCOUNT_RATE_LIMIT", "3 per hour")
    RESET_RATE_LIMIT = os.environ.get("RESET_RATE_LIMIT", "10 per hour")
    RESET_ACCOUNT_RATE_LIMIT = os.environ.get("RESET_ACCOUNT_RATE_LIMIT", "3 per hour")
    RESEND_RATE_LIMIT = os.environ.get("RESEND_RATE_LIMIT", "10 per hour")
    RESEND_ACCOUNT_RATE_LIMIT = os.environ.get("RESEND_ACCOUNT_RATE_LIMIT", "3 per hour")
    # The waiting-room display and ticket pages (and their JSON polls, every few seconds), per client
    # address: a clinic's TVs and patients' phones on its Wi-Fi share one address.
    QUEUE_RATE_LIMIT = os.environ.get("QUEUE_RATE_LIMIT", "600 per minute")
    # More than LOCKOUT_THRESHOLD failed logins in a row lock the account for LOCKOUT_MINUTES.
    LOCKOUT_THRESHOLD = int(os.environ.get("LOCKOUT_THRESHOLD", "5"))
    LOCKOUT_MINUTES = int(os.environ.get("LOCKOUT_MINUTES", "15"))
    # Two-step login (TOTP): the roles that must use it (comma-separated role names); optional for the rest.
    MFA_REQUIRED_ROLES = os.environ.get("MFA_REQUIRED_ROLES", "Admin,Manager,Doctor")
    MFA_ISSUER = APP_NAME  # the name authenticator apps show next to the code
    MFA_PENDING_SECONDS = 300  # time to type the code once the password was right
    MFA_MAX_FAILED_CODES = 5  # wrong codes in a row (password right) before codes are refused ...
    MFA_CODE_LOCK_MINUTES = 15  # ... for this long
    # Sessions (app/web_sessions.py): rows in the database, ended by logout, "sign out everywhere",
    # a password change, or this much time without a request (staff: any role but Patient).
    STAFF_IDLE_MINUTES = int(os.environ.get("STAFF_IDLE_MINUTES", "30"))
    PATIENT_IDLE_MINUTES = int(os.environ.get("PATIENT_IDLE_MINUTES", "240"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))  # a web session ends then in any case
    # API tokens: the access token (response body) and the refresh token (httpOnly cookie, rotated).
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "15")))
    JWT_REFRESH_DAYS = int(os.environ.get("JWT_REFRESH_DAYS", "14"))  # an API session ends then in any case

    # Passwords (sign-up, change, reset, admin-set): a minimum length per kind of account (staff:
    # any role other than Patient) and zxcvbn's estimate (0-4) at least PASSWORD_MIN_SCORE.
    PATIENT_MIN_PASSWORD_LENGTH = int(os.environ.get("PATIENT_MIN_PASSWORD_LENGTH", "8"))
    STAFF_MIN_PASSWORD_LENGTH = int(os.environ.get("STAFF_MIN_PASSWORD_LENGTH", "12"))
    PASSWORD_MIN_SCORE = int(os.environ.get("PASSWORD_MIN_SCORE", "3"))
    # How long the links sent by e-mail stay valid (app/services/accounts/links.py).
    CONFIRM_LINK_HOURS = int(os.environ.get("CONFIRM_LINK_HOURS", "48"))  # sign-up confirmation
    RESET_LINK_MINUTES = int(os.environ.get("RESET_LINK_MINUTES", "60"))  # password reset
    EMAIL_CHANGE_LINK_HOURS = int(os.environ.get("EMAIL_CHANGE_LINK_HOURS", "24"))  # a new e-mail address

    # Messages (app.services.messaging): e-mail, SMS and Zalo, each sent once, retried with backoff.
    MESSAGE_CHANNELS = os.environ.get("MESSAGE_CHANNELS", "email,sms,zalo")  # the channels the clinic uses
    MESSAGE_MAX_ATTEMPTS = int(os.environ.get("MESSAGE_MAX_ATTEMPTS", "5"))
    MESSAGE_BACKOFF_SECONDS = os.environ.get("MESSAGE_BACKOFF_SECONDS", "60,300,900,3600")
    MESSAGE_CLAIM_TIMEOUT_SECONDS = int(os.environ.get("MESSAGE_CLAIM_TIMEOUT_SECONDS", "600"))
    MESSAGE_BATCH_SIZE = int(os.environ.get("MESSAGE_BATCH_SIZE", "100"))  # messages per delivery job
    # PostgreSQL: a sent message's record is committed without waiting for the disk (a database
    # crash, not a worker's, can then send the last fraction of a second's messages again).
    MESSAGE_ASYNC_COMMIT = _bool("MESSAGE_ASYNC_COMMIT", True)
    # Threads a delivery job sends on (PostgreSQL; SQLite: 1): a worker that dies can leave one
    # message per thread sent and not recorded, sent again later with the same Message-ID.
    MESSAGE_SEND_THREADS = int(os.environ.get("MESSAGE_SEND_THREADS", "2"))
    SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "outbox")  # outbox (a file per SMS) or twilio
    SMS_DEFAULT_ON = _bool("SMS_DEFAULT_ON", False)  # who never chose gets SMS too (off: only without an e-mail)
    SMS_ASCII_ONLY = _bool("SMS_ASCII_ONLY", False)  # Vietnamese without diacritics (GSM-7 providers)
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
    TWILIO_FROM = os.environ.get("TWILIO_FROM", "")  # the sending number (E.164) or a Messaging Service SID
    TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "")  # only to reach another server (the tests')
    ZALO_ENABLED = _bool("ZALO_ENABLED", False)  # Zalo ZNS template messages; off: Zalo goes to the outbox
    ZALO_ACCESS_TOKEN = os.environ.get("ZALO_ACCESS_TOKEN", "")
    ZALO_API_URL = os.environ.get("ZALO_API_URL", "https://business.openapi.zalo.me/message/template")
    ZALO_TEMPLATES = os.environ.get("ZALO_TEMPLATES", "")  # kind=template_id,... e.g. appointment_reminder=123456
    # Reminders the day before at REMINDER_HOUR (clinic time), and optionally REMINDER_HOURS_BEFORE.
    REMINDER_HOUR = int(os.environ.get("REMINDER_HOUR", "18"))
    REMINDER_HOURS_BEFORE = int(os.environ.get("REMINDER_HOURS_BEFORE", "0"))  # 0: no second reminder
    REMINDER_INCLUDE_REQUESTED = _bool("REMINDER_INCLUDE_REQUESTED", False)
    REMINDER_LINK_DAYS = int(os.environ.get("REMINDER_LINK_DAYS", "14"))
    STOCK_DIGEST_HOUR = int(os.environ.get("STOCK_DIGEST_HOUR", "7"))
    # The public address of the site. Unset: pages take it from the request (the check-in slip's QR),
    # and links in messages sent by jobs (no request to take it from) use the development server's
    # (app.services.settings.public_base_url): set it in production.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    # Periodic jobs run from the web process on a timer when there is no Redis (one process only).
    SCHEDULER_IN_PROCESS = _bool("SCHEDULER_IN_PROCESS", True)
    # Video visits (app.services.telemedicine): the join link opens this many minutes before the
    # slot and closes this many minutes after its end.
    VIDEO_JOIN_EARLY_MINUTES = int(os.environ.get("VIDEO_JOIN_EARLY_MINUTES", "15"))
    VIDEO_JOIN_LATE_MINUTES = int(os.environ.get("VIDEO_JOIN_LATE_MINUTES", "30"))
    # ICE servers handed to the browsers: STUN addresses (comma-separated, e.g. stun:stun.example.org:3478)
    # and TURN (coturn with use-auth-secret: the app makes time-limited credentials from the shared
    # secret). Empty: direct connections only (enough on one network).
    VIDEO_STUN_URLS = os.environ.get("VIDEO_STUN_URLS", "")
    VIDEO_TURN_URLS = os.environ.get("VIDEO_TURN_URLS", "")
    VIDEO_TURN_SECRET = os.environ.get("VIDEO_TURN_SECRET", "")
    VIDEO_TURN_TTL_SECONDS = int(os.environ.get("VIDEO_TURN_TTL_SECONDS", "3600"))
    # Call recordings (app.services.video_recording): sealed with AES-256-GCM under a key derived from
    # this secret (generated once into instance/ when not given: keep it with the backups, a lost key
    # is a lost recording), deleted by a periodic job this many days after they stop.
    VIDEO_RECORDING_KEY = persistent_secret("VIDEO_RECORDING_KEY")
    VIDEO_RECORDING_RETENTION_DAYS = int(os.environ.get("VIDEO_RECORDING_RETENTION_DAYS", "30"))


class TestConfig(Config):
    TESTING = True
    LOG_DOCUMENTS = False  # the tests of the log store attach it to a store of their own
    # Every commit of every test would otherwise index itself in the search engine; the search
    # tests turn it on (tests/test_search.py's engine fixture).
    SEARCH_INDEX_ON_WRITE = False
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"  # the links' tests strip it; the slip's test also unsets it
    RATELIMIT_ENABLED = False  # the suite logs in hundreds of times; one test turns it back on
    MAIL_SUPPRESS_SEND = False
    SCHEDULER_IN_PROCESS = False  # tests run the periodic jobs themselves
    # The suite's shared logins switch languages in many tests: saved on their profiles, one test's
    # choice would follow them into the next. The tests of the feature turn it on.
    LANGUAGE_SWITCH_SAVES_PROFILE = False
    # FAB hashes passwords with scrypt (a quarter of a second per login or new user, by design);
    # the suite logs in hundreds of times. Tests only: one round of PBKDF2.
    FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"
    # What FAB checks a password against when the login is unknown (so both failures take as long).
    AUTH_DB_FAKE_PASSWORD_HASH_CHECK = generate_password_hash("password", method=FAB_PASSWORD_HASH_METHOD)
