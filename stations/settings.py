"""Every setting in one place: name, default and help, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["SETTINGS", "Setting", "from_environ"]


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str

    def read(self, environ):
        raw = environ.get(self.name)
        if raw is None or raw == "":
            return self.default
        if isinstance(self.default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(self.default, int):
            return int(raw)
        return raw


SETTINGS = [
    Setting("YIZHAN_DB", "instance/yizhan.db", "Path of the SQLite database file."),
    Setting("YIZHAN_BUSY_TIMEOUT_MS", 10000,
            "How long a write waits for another writer (e.g. an import) before giving up, in ms "
            "(the web then answers 503 with Retry-After)."),
    Setting("YIZHAN_SECRET_KEY", "",
            "Key that signs session cookies; if empty, one is made and kept in instance/secret_key."),
    Setting("YIZHAN_REGION", "beijing",
            "Region the registry covers: beijing (16 districts) or china (prefecture-level cities)."),
    Setting("YIZHAN_SESSION_HOURS", 8, "Hours a login lasts before the user must log in again."),
    Setting("YIZHAN_MAX_UPLOAD_MB", 100, "Largest request body accepted (imports), in MiB."),
    Setting("YIZHAN_PAGE_SIZE", 20, "Stations per page in the public directory."),
    Setting("YIZHAN_SECURE_COOKIES", False, "Send the session cookie over HTTPS only (set behind TLS)."),
    Setting("YIZHAN_FEEDBACK_PER_CLIENT", 5,
            "Feedback submissions one client may make in 10 minutes."),
    Setting("YIZHAN_FEEDBACK_GLOBAL", 120, "Feedback submissions accepted per minute from everyone."),
    Setting("YIZHAN_CHECKIN_PER_CLIENT", 6,
            "Rider check-ins (我在这里歇脚了) one client may make per hour, across stations."),
    Setting("YIZHAN_CHECKIN_REPEAT_MINUTES", 30,
            "Minutes before one client's check-in at the same station counts again."),
    Setting("YIZHAN_CHECKIN_GLOBAL", 600, "Rider check-ins accepted per minute from everyone."),
    Setting("YIZHAN_PHOTO_UPLOADS_PER_USER", 60,
            "Nomination photos one account may upload per hour (counted before decoding); then 429."),
    Setting("YIZHAN_LEDGER_FLAG_DAYS", 30, "Window of the ledger consistency flags, in days."),
    Setting("YIZHAN_LEDGER_FLAG_VISITS", 300,
            "Ledger visits in the window from which a station with near-zero rider check-ins and "
            "feedback is flagged."),
    Setting("YIZHAN_LEDGER_FLAG_NEAR_ZERO", 2,
            "Rider check-ins plus feedback in the window at or below which they count as near zero."),
    Setting("YIZHAN_LEDGER_STOP_DAYS", 14,
            "Days without a ledger entry after which a station that kept one is flagged as stopped."),
    Setting("YIZHAN_LOGIN_FAILS_PER_ACCOUNT", 10,
            "Failed logins one account name may take per window before logins to it answer 429."),
    Setting("YIZHAN_LOGIN_FAILS_PER_CLIENT", 30,
            "Failed logins one client may make per window (all account names) before 429; accounts "
            "that signed in from that client in the last 30 days still log in with the right password."),
    Setting("YIZHAN_LOGIN_WINDOW_MINUTES", 15, "Window of the failed-login limits, in minutes."),
    Setting("YIZHAN_PROXY_HOPS", 0,
            "Reverse proxies in front of the app whose X-Forwarded-For is trusted (for client addresses)."),
    Setting("YIZHAN_TENCENT_REFERER", "yizhan",
            "The referer Tencent Maps route links carry: your Tencent LBS key or registered app name."),
    Setting("YIZHAN_PUBLIC_URL", "",
            "Public base URL of the site (e.g. https://yizhan.example.cn) for QR codes and links "
            "that leave the site; if empty, the request's host is used when it is in YIZHAN_TRUSTED_HOSTS."),
    Setting("YIZHAN_TRUSTED_HOSTS", "127.0.0.1,localhost",
            "Comma-separated host names (with :port if not 80/443) the site answers to when "
            "YIZHAN_PUBLIC_URL is empty."),
    Setting("YIZHAN_PLAN_BACKGROUND_CELLS", 300_000,
            "Grid cells (estimated) above which /plan runs its work in a background process and "
            "shows its stages; 0 runs every request in the background."),
    Setting("YIZHAN_PLAN_JOBS_AT_ONCE", 2,
            "Background /plan jobs (long computations, demand and candidates uploads; each can take "
            "about 1 GB) running at once; the others wait their turn, one per user."),
    Setting("YIZHAN_TILES", "amap",
            "Map tiles: amap (GCJ-02, reachable in China; points are converted before drawing) "
            "or osm (WGS-84; tile.openstreetmap.org is often slow or blocked in China)."),
]


def from_environ(environ=None) -> dict:
    """{setting name: value} for every setting, from the environment or defaults."""
    environ = os.environ if environ is None else environ
    return {s.name: s.read(environ) for s in SETTINGS}
