"""An Authelia test double, faithful to ../shared/spec/authelia-api-contract.md.

An HTTPS server (our own test CA) speaking the JSON API the module uses, with
Authelia's real quirks: "KO" bodies that come with HTTP 200, text/plain 403s
from Require1FA, a new session cookie (exact Set-Cookie form, values with
%#!^*$) after every factor, the session picked by Host (cookie domain), GET
/api/user/info reporting nothing for users without a preferences row while
POST creates it, Duo's 200 "OK" answers with data.result that are not an
authentication, a blocking Duo push, 1FA regulation bans answered with 401,
and 429 + Retry-After from the rate limiters.

Tests script it (users, TOTP secrets, preferences, Duo outcome and delay,
injected failures, the idle timeout) and read what it recorded: every request
with the TLS connection it came on.  Like Authelia (fasthttp, 4 KiB write
buffer, Go's TCP_NODELAY), it writes each small response with one write: one
TLS record, sent at once.

The authorization endpoints (/api/authz/auth-request, forward-auth, ext-authz
and /api/verify) follow ../shared/spec/authelia-authz-contract.md: the
preconditions in order, the cookie strategy (cookie named by the target's
`session.cookies[]` entry, session destroyed on a cookie-domain mismatch,
inactivity, a vanished user or a differing Session-Username, groups refreshed
per `refresh_interval`), Basic in the Authorization header, the access-control
engine of authelia_acl.py and the decision table.  Tests configure them with
configure(), whose argument is shaped like Authelia's YAML.
"""
import base64
import email.utils
import hashlib
import hmac
import http.server
import json
import random
import socket
import socketserver
import ssl
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import authelia_acl as acl

COOKIE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%^*"
KO_AUTH = "Authentication failed. Check your credentials."
KO_MFA = "Authentication failed, please retry later."


def totp_code(secret: bytes, digits=6, at=None, step=0):
    counter = int((time.time() if at is None else at) // 30) + step
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % (10 ** digits)).zfill(digits)


@dataclass
class User:
    name: str
    password: str
    totp_secret: bytes = None
    totp_digits: int = 6
    webauthn: bool = False
    duo_device: bool = False        # a preferred Duo device is saved (has_duo)
    preferences_row: bool = True    # False: never opened the portal
    method: str = ""                # stored preference: totp, webauthn, mobile_push or ""
    duo_outcome: str = "allow"      # allow, deny-push, enroll, deny, auth, deny-stored
    duo_delay: float = 0.0
    used_steps: set = field(default_factory=set)
    groups: list = field(default_factory=list)   # case-sensitive names, as the backend has them
    display_name: str = None                     # None: the user name
    emails: list = None                          # None: [<name>@example.com]

    def __post_init__(self):
        self.groups = list(self.groups)
        if self.display_name is None:
            self.display_name = self.name
        if self.emails is None:
            self.emails = [f"{self.name}@example.com"]


@dataclass
class Session:
    username: str = ""
    level: int = 0
    amr: list = field(default_factory=list)
    cookie_domain: str = ""       # the session.cookies[] entry it was created under
    groups: list = field(default_factory=list)   # the profile as of the last refresh
    display_name: str = ""
    emails: list = field(default_factory=list)
    remember_me: bool = False     # keepMeLoggedIn: no inactivity limit
    last_activity: float = 0.0    # double's clock (AutheliaDouble.now)
    refresh_at: float = 0.0       # when the profile is next re-read from the backend


@dataclass
class Injection:
    status: int = None
    body: bytes = None
    content_type: str = "application/json; charset=utf-8"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False      # drop the connection with a RST in the middle of the response
    reset_after: bytes = None  # write these bytes (part of a response), then a RST
    raw: bytes = None        # bytes to write instead of a response (then close)
    drip: bytes = None       # write these bytes one at a time, drip_interval apart
    drip_interval: float = 1.0
    endless: bytes = None    # after raw (if any), write these bytes again and again,
    endless_interval: float = 0.0  # this far apart, until the client goes away
    close: bool = False      # answer normally, then close the connection
    drop: bool = False       # read the request, close the connection, answer nothing (a
                             # keep-alive connection the server closed just as it was used)
    echo_cookie: bool = False  # with status: Set-Cookie gives back the cookie the request sent
    times: int = None        # None: every time


DEFAULT_ENDPOINTS = {
    "auth-request": {"implementation": "AuthRequest"},
    "forward-auth": {"implementation": "ForwardAuth"},
    "ext-authz": {"implementation": "ExtAuthz"},
    "legacy": {"implementation": "Legacy"},
}
AUTHZ_IMPLEMENTATIONS = ("AuthRequest", "ForwardAuth", "ExtAuthz", "Legacy")
AUTHN_STRATEGIES = ("HeaderAuthorization", "HeaderProxyAuthorization",
                    "HeaderAuthRequestProxyAuthorization", "HeaderLegacy", "CookieSession")


def parse_duration(value):
    """Authelia's duration: seconds as a number, or '90s', '5m', '1h', '1d', '1w'."""
    if isinstance(value, (int, float)):
        return float(value)
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, rest = 0.0, str(value).strip()
    while rest:
        num = len(rest) - len(rest.lstrip("0123456789."))
        if not num or rest[num:num + 1] not in units:
            raise ValueError(f"invalid duration {value!r}")
        total += float(rest[:num]) * units[rest[num]]
        rest = rest[num + 1:].strip()
    return total


class AutheliaDouble:
    def __init__(self, certfile, keyfile, cookie_domain="localhost", cookie_name="authelia_session",
                 address=("127.0.0.1", 0)):
        self.cookie_domain = cookie_domain
        self.cookie_name = cookie_name
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        double = self

        class Handler(_Handler):
            pass
        Handler.double = double

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        self.server = Server(address, Handler)
        self.port = self.server.server_address[1]
        self.reset()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # --- scripting -------------------------------------------------------
    def reset(self):
        if getattr(self, "oidc", None) is None:
            self.oidc = OIDC()
        self.oidc.reset()
        with self.lock:
            self.users = {}
            self.sessions = {}
            self.requests = []
            self.connections = 0
            self.handshakes = 0
            self.failed_handshakes = 0
            self.injections = {}
            self.failures = {}          # username -> [time of failed 1FA]
            self.bans = {}              # username -> banned until
            self.max_retries = 3
            self.rate_limited = set()   # paths answering 429
            self.pad_first_factor = 0.0
            self.idle_timeout = 30.0    # Authelia closes keep-alive connections idle this long
            self.case_insensitive = False
            self.totp_enabled = True
            self.duo_enabled = True
            self.totp_disable_reuse_policy = False  # totp.disable_reuse_security_policy
            # authorization: see configure()
            self.clock_offset = 0.0     # advance_clock(): inactivity and refresh_interval
            self.basic_failure_delay = 2.0  # Authelia pads failed Basic auth to >= 2 s
            # What a redirect-style authz 401 carries after the cookie strategy
            # destroyed the session (contract s.3, AMBIGUOUS there): "new" (the
            # source-derived reading: the fresh anonymous session's cookie),
            # "none" (no Set-Cookie, as if Response.Reset cleared it) or "delete"
            # (the deleting form of the API contract s.11: empty value, expiry
            # past).  The last two play what a live Authelia, or a proxy in
            # front of it, might do instead.
            self.authz_destroyed_cookie = "new"
            self.cookies = [self._cookie_entry_config(
                {"domain": self.cookie_domain, "name": self.cookie_name,
                 "authelia_url": f"https://{self.cookie_domain}:{self.port}"})]
            self.refresh_interval = 300.0   # seconds, "always" or "disable"
            self._acl_sections = {"access_control": None, "definitions": None}
            self.access_control = acl.AccessControl()
            self.endpoints = self._endpoints_config(DEFAULT_ENDPOINTS)
            self.date_offset = 0.0      # seconds added to the Date header alone (--check)
            self.send_date = True       # False: no Date header at all

    def configure(self, config):
        """Authorization settings, from a dict shaped like Authelia's configuration
        (a README example loaded with yaml.safe_load works as it is):
            access_control: default_policy, networks (4.38 form), rules
            definitions: network (4.39 form)
            session: cookies [{domain, authelia_url, name, inactivity, expiration}],
                     name, inactivity, expiration (defaults for the entries)
            authentication_backend: refresh_interval ('always', 'disable', a duration)
            server: endpoints: authz: {name: {implementation, authn_strategies}}
        A section left out keeps its current value; unknown keys raise ValueError."""
        unknown = set(config) - {"access_control", "definitions", "session",
                                 "authentication_backend", "server"}
        if unknown:
            raise ValueError(f"configure: unsupported keys {sorted(unknown)}")
        with self.lock:
            if "access_control" in config or "definitions" in config:
                sections = dict(self._acl_sections)
                sections.update({k: config[k] for k in sections if k in config})
                self.access_control = acl.AccessControl(**sections)
                self._acl_sections = sections
            if "session" in config:
                session = dict(config["session"])
                defaults = {k: session.pop(k) for k in ("name", "inactivity", "expiration")
                            if k in session}
                cookies = session.pop("cookies", None)
                if session:
                    raise ValueError(f"session: unsupported keys {sorted(session)}")
                if cookies is not None:
                    if not cookies:
                        raise ValueError("session.cookies: at least one entry")
                    self.cookies = [self._cookie_entry_config({**defaults, **c}) for c in cookies]
                else:
                    self.cookies = [self._cookie_entry_config({**c, **defaults})
                                    for c in self.cookies]
            if "authentication_backend" in config:
                backend = dict(config["authentication_backend"])
                if set(backend) - {"refresh_interval"}:
                    raise ValueError("authentication_backend: only refresh_interval is supported")
                value = backend.get("refresh_interval", "5m")
                self.refresh_interval = value if value in ("always", "disable") \
                    else parse_duration(value)
            if "server" in config:
                server = config["server"] or {}
                if set(server) - {"endpoints"} or set(server.get("endpoints") or {}) - {"authz"}:
                    raise ValueError("server: only endpoints.authz is supported")
                authz = (server.get("endpoints") or {}).get("authz")
                # Any entry replaces the whole default list: unlisted endpoints give 404.
                self.endpoints = self._endpoints_config(authz or DEFAULT_ENDPOINTS)

    @staticmethod
    def _cookie_entry_config(entry):
        unknown = set(entry) - {"domain", "authelia_url", "name", "inactivity", "expiration",
                                "default_redirection_url", "same_site", "remember_me"}
        if unknown or not entry.get("domain"):
            raise ValueError(f"session.cookies entry {entry!r}: needs domain; "
                             f"unsupported keys {sorted(unknown)}")
        return {"domain": entry["domain"], "authelia_url": entry.get("authelia_url"),
                "name": entry.get("name") or "authelia_session",
                "inactivity": parse_duration(entry.get("inactivity", 300)),
                "expiration": parse_duration(entry.get("expiration", 3600))}

    @staticmethod
    def _endpoints_config(authz):
        endpoints = {}
        for name, ep in authz.items():
            ep = dict(ep or {})
            impl = ep.get("implementation")
            if impl not in AUTHZ_IMPLEMENTATIONS:
                raise ValueError(f"endpoint {name!r}: implementation must be one of "
                                 f"{AUTHZ_IMPLEMENTATIONS}")
            strategies = ep.get("authn_strategies") or (
                [{"name": "HeaderLegacy"}, {"name": "CookieSession"}] if impl == "Legacy" else
                [{"name": "HeaderAuthorization", "schemes": ["basic"]}, {"name": "CookieSession"}])
            for st in strategies:
                if st.get("name") not in AUTHN_STRATEGIES:
                    raise ValueError(f"endpoint {name!r}: unknown strategy {st!r}")
                if [s.lower() for s in st.get("schemes", ["basic"])] != ["basic"]:
                    raise ValueError(f"endpoint {name!r}: the double has the basic scheme only")
            endpoints[name] = {"implementation": impl, "authn_strategies": strategies}
        return endpoints

    def add_user(self, name, password, totp=False, **kw):
        user = User(name, password, **kw)
        if totp:
            user.totp_secret = random.randbytes(20)
        with self.lock:
            self.users[name] = user
        return user

    def set_groups(self, name, groups):
        """Change a user's groups in the backend; sessions see it at their next refresh."""
        with self.lock:
            self.users[name].groups = list(groups)

    def remove_user(self, name):
        """Delete a user from the backend; sessions notice at their next refresh."""
        with self.lock:
            del self.users[name]

    def now(self):
        """The clock of sessions (inactivity, refresh_interval); see advance_clock."""
        return time.time() + self.clock_offset

    def advance_clock(self, seconds):
        with self.lock:
            self.clock_offset += seconds

    def totp(self, name, step=0):
        user = self.users[name]
        return totp_code(user.totp_secret, user.totp_digits, step=step)

    def inject(self, path, **kw):
        with self.lock:
            self.injections[path] = Injection(**kw)

    def approve_device(self, verification_url, username, password, totp):
        """What Authelia's portal does for a person who opens the verification
        URL in a browser, logs in there with both factors (the client's
        authorization_policy is two_factor) and accepts the consent: the device
        request of that user code is approved by that user.  False, and nothing
        approved, when the URL names no pending request or a factor is wrong."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(verification_url).query)
        user_code = (query.get("user_code") or [""])[0]
        with self.lock:
            user = self._lookup(username)
            dev = next((v for v in self.oidc.devices.values()
                        if v.user_code == user_code and v.status == "pending"), None)
            if dev is None or user is None or not user.totp_secret:
                return False
            if not hmac.compare_digest(user.password, password):
                return False
            steps = [s for s in (-1, 0, 1)
                     if hmac.compare_digest(totp_code(user.totp_secret, user.totp_digits, step=s),
                                            totp)]
            if not steps:
                return False
            dev.status, dev.user = "approved", user.name
        return True

    def paths(self):
        with self.lock:
            return [r["path"] for r in self.requests]

    def authz_requests(self):
        """The recorded requests to the authorization endpoints, with their "authz" decision."""
        with self.lock:
            return [r for r in self.requests if "authz" in r]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # --- state helpers (called with the lock held) ------------------------
    def _lookup(self, username):
        if username in self.users:
            return self.users[username]
        if self.case_insensitive:
            for u in self.users.values():
                if u.name.lower() == username.lower():
                    return u
        return None

    def _new_cookie(self):
        return "".join(random.choice(COOKIE_CHARS) for _ in range(32))

    def _set_cookie(self, value, entry=None):
        entry = entry or self.cookies[0]
        expires = email.utils.formatdate(time.time() + entry["expiration"], usegmt=True)
        return (f"{entry['name']}={value}; expires={expires}; domain={entry['domain']}; "
                "path=/; HttpOnly; secure; SameSite=Lax")

    def _delete_cookie(self, entry=None):
        """The deleting Set-Cookie (API contract s.11)."""
        entry = entry or self.cookies[0]
        expires = email.utils.formatdate(time.time() - 60, usegmt=True)
        return f"{entry['name']}=; expires={expires}; path=/; HttpOnly"

    def _cookie_entry(self, hostname):
        """The first session.cookies[] entry whose domain is hostname or a parent of it
        (utils.HasDomainSuffix)."""
        for entry in self.cookies:
            domain = entry["domain"]
            if hostname == domain or hostname.endswith("." + domain.lstrip(".")):
                return entry
        return None

    def _refresh_due(self, session, now):
        if self.refresh_interval == "always":
            return True
        if self.refresh_interval == "disable":
            return False
        return now >= session.refresh_at

    def _load_profile(self, session, user, now):
        session.groups = list(user.groups)
        session.display_name = user.display_name
        session.emails = list(user.emails)
        if isinstance(self.refresh_interval, float):
            session.refresh_at = now + self.refresh_interval


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "authelia-double"
    sys_version = ""
    timeout = 30  # Authelia's idle timeout (double.idle_timeout)
    wbufsize = 65536  # one write per response, flushed by handle_one_request

    def setup(self):
        d = self.double
        with d.lock:
            d.connections += 1
            self.conn_id = d.connections
        # Authelia is Go: its TCP connections have TCP_NODELAY (net.TCPConn's
        # default).  Without it the first answer on a connection would wait
        # for the client's delayed ACK of the TLS session tickets (~40 ms).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request = d.ctx.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            with d.lock:
                d.failed_handshakes += 1
            raise
        with d.lock:
            d.handshakes += 1
            self.timeout = d.idle_timeout
        super().setup()

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        return super().date_time_string(time.time() + self.double.date_offset
                                        if timestamp is None else timestamp)

    def send_header(self, keyword, value):
        if keyword == "Date" and not self.double.send_date:
            return
        super().send_header(keyword, value)

    # --- plumbing ---------------------------------------------------------
    def _send(self, status, body, content_type, headers=(), close=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in headers:
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, status, obj, headers=()):
        self._send(status, json.dumps(obj, separators=(",", ":")).encode(),
                   "application/json; charset=utf-8", headers)

    def ok(self, data=None, headers=()):
        self.json(200, {"status": "OK", "data": data} if data is not None else {"status": "OK"},
                  headers)

    def ko(self, status, message):
        self.json(status, {"status": "KO", "message": message})

    def text(self, status, message):
        self._send(status, message.encode(), "text/plain; charset=utf-8")

    def _request_hostname(self):
        """The host of the request's target (AutheliaCtx.GetSessionProvider): from
        X-Original-URL, else X-Forwarded-Host, else Host."""
        original = self.headers.get("X-Original-URL")
        if original:
            try:
                return acl.parse_request_uri(original).hostname
            except ValueError:
                return ""
        host = self.headers.get("X-Forwarded-Host") or self.headers.get("Host") or ""
        if host.startswith("["):
            return host[1:host.find("]")] if "]" in host else host[1:]
        return host.rsplit(":", 1)[0]

    def _cookie_value(self, name):
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def _session(self):
        """The session named by the Cookie header, under the session.cookies[] entry
        the request's target selects (None and False when it selects none)."""
        d = self.double
        self._entry = d._cookie_entry(self._request_hostname())
        if self._entry is None:
            return None, False
        value = self._cookie_value(self._entry["name"])
        return d.sessions.get(value) if value is not None else None, True

    def _rotate(self, old_session, session):
        """Destroy the old session, store this one under a new ID: its Set-Cookie.
        The new one belongs to the cookie entry of this request and keeps the old
        one's profile when it is the same user."""
        d = self.double
        for k, v in list(d.sessions.items()):
            if v is old_session:
                del d.sessions[k]
        session.cookie_domain = self._entry["domain"]
        session.last_activity = d.now()
        if old_session is not None and old_session.username == session.username:
            session.groups, session.emails = old_session.groups, old_session.emails
            session.display_name = old_session.display_name
            session.remember_me = old_session.remember_me
            session.refresh_at = old_session.refresh_at
        value = d._new_cookie()
        d.sessions[value] = session
        return ("Set-Cookie", d._set_cookie(value, self._entry))

    def _body_json(self, raw):
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    # --- dispatch ---------------------------------------------------------
    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_OPTIONS(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def _dispatch(self):
        d = self.double
        length = int(self.headers.get("Content-Length") or 0)
        headers_read = time.monotonic()
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        with d.lock:
            self._record = {
                "conn": self.conn_id, "method": self.command, "path": path, "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "header_list": list(self.headers.items()),
                "peer": self.client_address[0],
                "body": raw, "json": self._body_json(raw) if raw else None,
                "time": time.monotonic(),
                "body_wait": time.monotonic() - headers_read,  # headers to the whole body
            }
            d.requests.append(self._record)
            endpoint = self._authz_route(path)
            if endpoint is not None:  # every authz request is in authz_requests()
                self._record["authz"] = {"endpoint": endpoint[0],
                                         "implementation": endpoint[1]["implementation"]}
            inj = d.injections.get(path)
            if inj is not None and inj.times is not None:
                inj.times -= 1
                if inj.times <= 0:
                    del d.injections[path]
        if inj is not None:
            if endpoint is not None:
                self._record["authz"].update(injected=True, status=inj.status)
            if self._inject(inj):
                return
        routes = {
            "/api/health": ("GET", "HEAD"),
            "/api/firstfactor": ("POST",),
            "/api/user/info": ("GET", "POST"),
            "/api/state": ("GET",),
            "/api/secondfactor/totp": ("POST",) if d.totp_enabled else None,
            "/api/secondfactor/duo": ("POST",) if d.duo_enabled else None,
            "/.well-known/openid-configuration": ("GET",),
            "/jwks.json": ("GET",),
            "/api/oidc/device-authorization": ("POST",),
            "/api/oidc/token": ("POST",),
            "/api/oidc/userinfo": ("GET", "POST"),
        }
        methods = routes.get(path)
        if methods is None:
            if endpoint is not None:
                return self._authz(path, query, *endpoint)
            return self.text(404, "404 Not Found")
        if self.command not in methods:
            return self.text(405, "405 Method Not Allowed")
        if path in d.rate_limited:
            retry = email.utils.formatdate(time.time() + 60, usegmt=True)
            return self.json(429, {"status": "KO", "message": "Too Many Requests"},
                             [("Retry-After", retry)])
        name = path.strip("/").replace("/", "_").replace(".", "_").replace("-", "_").strip("_")
        getattr(self, "api_" + (name[4:] if name.startswith("api_") else name))(raw)

    def _inject(self, inj):
        if inj.delay:
            time.sleep(inj.delay)
        if inj.drop:
            self.close_connection = True
            return True
        if inj.reset_after is not None:
            self.wfile.write(inj.reset_after)
            self.wfile.flush()
            self._reset()
            return True
        if inj.drip is not None or inj.endless is not None:
            self.close_connection = True
            try:
                for i in range(len(inj.drip or b"")):
                    self.wfile.write(inj.drip[i:i + 1])
                    self.wfile.flush()
                    time.sleep(inj.drip_interval)
                if inj.endless is not None:
                    self.wfile.write(inj.raw or b"")
                    while True:
                        self.wfile.write(inj.endless)
                        self.wfile.flush()
                        time.sleep(inj.endless_interval)
            except OSError:
                pass  # the client gave up
            return True
        if inj.raw is not None:
            self.wfile.write(inj.raw)
            self.wfile.flush()
            self.close_connection = True
            return True
        if inj.reset:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100\r\n\r\n{\"status\":")
            self.wfile.flush()
            self._reset()
            return True
        if inj.status is None:
            self._close_after = inj.close
            return False  # only a delay or a close: answer normally
        headers = list(inj.headers.items())
        if inj.echo_cookie:
            _, _, value = (self.headers.get("Cookie") or "").partition("=")
            headers.append(("Set-Cookie", self.double._set_cookie(value)))
        self._send(inj.status, inj.body or b"", inj.content_type, headers, close=inj.close)
        return True

    def _reset(self):
        """Closes the connection with a TCP RST (SO_LINGER 0), no TLS close_notify."""
        sock = self.request
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        self.close_connection = True

    def end_headers(self):
        if getattr(self, "_close_after", False):  # Injection(close=True) alone
            super().send_header("Connection", "close")
            self.close_connection = True
        super().end_headers()

    # --- endpoints --------------------------------------------------------
    def api_health(self, raw):
        self.ok()

    def api_firstfactor(self, raw):
        d = self.double
        if d.pad_first_factor:
            time.sleep(d.pad_first_factor)
        body = self._body_json(raw)
        with d.lock:
            session, in_domain = self._session()
            if body is None or not in_domain:
                return self.ko(401, KO_AUTH)
            username, password = body.get("username"), body.get("password")
            if not isinstance(username, str) or not isinstance(password, str) \
                    or not username or not password:
                return self.ko(401, KO_AUTH)
            user = d._lookup(username)
            now = time.time()
            if user is not None and d.bans.get(user.name, 0) > now:
                return self.ko(401, KO_AUTH)
            if user is None or not hmac.compare_digest(user.password, password):
                if user is not None:
                    self._count_1fa_failure(user, now)
                return self.ko(401, KO_AUTH)
            d.failures[user.name] = []
            new = Session(user.name, 1, ["pwd"])
            cookie = self._rotate(session, new)
            new.remember_me = body.get("keepMeLoggedIn") is True
            d._load_profile(new, user, d.now())
            hint = self._first_factor_hint(body, user)
        if hint is None:
            return self.json(200, {"status": "KO", "message": KO_AUTH}, [cookie])
        self.ok(hint or None, headers=[cookie])

    def _count_1fa_failure(self, user, now):
        """Regulation: a ban after max_retries failed 1FA attempts within 2 min."""
        d = self.double
        fails = [t for t in d.failures.get(user.name, []) if now - t < 120] + [now]
        d.failures[user.name] = fails
        if d.max_retries and len(fails) >= d.max_retries:
            d.bans[user.name] = now + 300

    def _first_factor_hint(self, body, user):
        """Handle1FAResponse (contract s.6): with targetURL, the ACL is evaluated for the
        new user; two_factor gives no data, any other policy (deny too) with a safe
        target gives {"redirect": targetURL}.  None: targetURL does not parse (200 KO)."""
        target = body.get("targetURL")
        if not isinstance(target, str) or not target:
            return {}
        method = body.get("requestMethod")
        try:
            obj = acl.Object(acl.parse_request_uri(target),
                             method if isinstance(method, str) else "")
        except ValueError:
            return None
        d = self.double
        subject = acl.Subject(user.name, user.groups, self._remote_ip())
        _, policy, _ = d.access_control.required_level(subject, obj)
        if policy == "two_factor":
            return {}
        if obj.url.scheme in ("https", "wss") and d._cookie_entry(obj.domain) is not None:
            return {"redirect": target}
        return {}

    def _remote_ip(self):
        return acl.remote_ip(self.headers.get("X-Forwarded-For"), self.client_address[0])

    def _require_1fa(self):
        session, in_domain = self._session()
        if session is None or session.level < 1:
            self.text(403, "403 Forbidden")
            return None
        return session

    def api_user_info(self, raw):
        d = self.double
        with d.lock:
            session = self._require_1fa()
            if session is None:
                return
            user = d.users[session.username]
            if self.command == "POST":
                user.preferences_row = True
                if not user.method:
                    if user.totp_secret and d.totp_enabled:
                        user.method = "totp"
                    elif user.webauthn:
                        user.method = "webauthn"
                    elif user.duo_device and d.duo_enabled:
                        user.method = "mobile_push"
            if not user.preferences_row:  # the query returns no row: "success"
                info = {"display_name": user.display_name, "emails": None, "method": "",
                        "has_totp": False, "has_webauthn": False, "has_duo": False}
            else:
                info = {"display_name": user.display_name,
                        "emails": None if self.command == "POST" else list(user.emails),
                        "method": user.method,
                        "has_totp": bool(user.totp_secret) and (d.totp_enabled or self.command == "GET"),
                        "has_webauthn": user.webauthn,
                        "has_duo": user.duo_device and (d.duo_enabled or self.command == "GET")}
        self.ok(info)

    def api_state(self, raw):
        d = self.double
        with d.lock:
            session, _ = self._session()
            data = {"username": session.username if session else "",
                    "authentication_level": session.level if session else 0,
                    "factor_knowledge": bool(session and "pwd" in session.amr)}
        self.ok(data)

    def api_secondfactor_totp(self, raw):
        d = self.double
        with d.lock:
            session = self._require_1fa()
            if session is None:
                return
            body = self._body_json(raw)
            token = body.get("token") if body else None
            if not isinstance(token, str) or not token:
                return self.ko(403, KO_MFA)
            if len(token) not in (6, 8):
                return self.ko(400, KO_MFA)
            user = d.users[session.username]
            if not user.totp_secret:
                return self.ko(403, KO_MFA)
            now = time.time()
            for step in (-1, 0, 1):
                counter = int(now // 30) + step
                if hmac.compare_digest(totp_code(user.totp_secret, user.totp_digits, step=step), token):
                    if counter in user.used_steps and not d.totp_disable_reuse_policy:  # replay
                        return self.ko(403, KO_MFA)
                    user.used_steps.add(counter)
                    cookie = self._rotate(session, Session(session.username, 2, session.amr + ["otp"]))
                    break
            else:
                return self.ko(403, KO_MFA)
        self.ok(headers=[cookie])

    def api_secondfactor_duo(self, raw):
        d = self.double
        with d.lock:
            session = self._require_1fa()
            if session is None:
                return
            if self._body_json(raw) is None:  # a missing or empty body is a parse error
                return self.ko(401, KO_MFA)
            user = d.users[session.username]
            outcome, delay = user.duo_outcome, user.duo_delay
        if delay:
            time.sleep(delay)  # the push blocks until the user answers
        if outcome == "allow":
            with d.lock:
                cookie = self._rotate(session, Session(session.username, 2, session.amr + ["sms", "mca"]))
            return self.ok(headers=[cookie])
        if outcome == "deny-push":
            return self.ko(401, KO_MFA)
        if outcome == "deny-stored":
            return self.text(401, "401 Unauthorized")
        if outcome == "enroll":
            return self.ok({"result": "enroll", "enroll_url": "https://duo.example/enroll"})
        if outcome == "deny":
            return self.ok({"result": "deny"})
        if outcome == "auth":
            return self.ok({"result": "auth", "devices": [
                {"device": "DPFZRS9FB0D46QFTM891", "display_name": "iOS (+XX)",
                 "capabilities": ["push"]}]})
        return self.ko(401, KO_MFA)

    # --- authorization endpoints (authelia-authz-contract.md) ---------------
    def _authz_route(self, path):
        """server.endpoints.authz: 'legacy' is /api/verify, any other name
        /api/authz/<name>; ExtAuthz and Legacy also serve the paths below."""
        for name, ep in self.double.endpoints.items():
            base = "/api/verify" if name == "legacy" else "/api/authz/" + name
            if path == base or (ep["implementation"] in ("ExtAuthz", "Legacy")
                                and path.startswith(base + "/")):
                return name, ep, base
        return None

    def _authz(self, path, query, name, ep, base):
        d = self.double
        impl = ep["implementation"]
        decision = self._record["authz"]
        if impl in ("ForwardAuth", "AuthRequest") and self.command not in ("GET", "HEAD"):
            decision["status"] = 405
            return self.text(405, "405 Method Not Allowed")
        bad = 401 if impl == "Legacy" else 400  # StatusCodeBadRequest of the builder

        def fail(reason):
            decision.update(status=bad, reason=reason)
            self.text(bad, f"{bad} {self.responses[bad][0]}")

        args = urllib.parse.parse_qs(query, keep_blank_values=True)
        # The preconditions, in order (handler_authz.go).
        try:
            obj = self._authz_object(impl, path, query, base)
        except ValueError as e:
            return fail(f"error getting target URL and request method: {e}")
        decision.update(target=str(obj), method=obj.method, domain=obj.domain, path=obj.path)
        if obj.url.scheme not in ("https", "wss"):
            return fail(f"target URL has an insecure scheme {obj.url.scheme!r}")
        entry = d._cookie_entry(obj.domain)
        if entry is None:
            return fail("target URL does not appear to have a relevant session cookies "
                        "configuration")
        try:
            portal = self._authz_authelia_url(impl, args, entry)
        except ValueError as e:
            return fail(f"error determining the external Authelia URL: {e}")

        with d.lock:
            authn = self._authz_authn(ep, args, entry)
            details = authn["details"]
            ip = self._remote_ip()
            subject = acl.Subject(details["username"] if details else "",
                                  details["groups"] if details else (), ip)
            has_subject, policy, rule = d.access_control.required_level(subject, obj)
            result = acl.authz_result(authn["level"], policy, has_subject)
            decision.update(ip=str(ip), user=subject.username, groups=list(subject.groups),
                            level=authn["level"], strategy=authn["strategy"],
                            session=authn["session"], error=authn["error"], policy=policy,
                            rule=rule, rule_has_subject=has_subject, result=result)
        if authn["pad"]:
            time.sleep(d.basic_failure_delay)  # failed Basic is padded, success is not
        strategy = authn["strategy"]
        if authn["error"] and not has_subject and policy != "bypass":
            return self._authz_header_unauthorized(strategy, decision)
        if result == acl.FORBIDDEN:
            decision["status"] = 403
            return self.text(403, "403 Forbidden")
        if result == acl.UNAUTHORIZED:
            if strategy is not None:
                return self._authz_header_unauthorized(strategy, decision)
            return self._authz_redirect(impl, obj, portal, authn["set_cookie"], decision)
        headers = []
        if details:  # handler_authz_common.go: only with an authenticated user
            headers = [("Remote-User", details["username"]),
                       ("Remote-Groups", ",".join(details["groups"])),
                       ("Remote-Name", details["display_name"]),
                       ("Remote-Email", details["emails"][0] if details["emails"] else "")]
        decision["status"] = 200
        self._send(200, b"200 OK", "text/plain; charset=utf-8", headers)

    def _authz_object(self, impl, path, query, base):
        """The target URL and method each implementation reads; ValueError -> 400."""
        h = self.headers
        proto = h.get("X-Forwarded-Proto")
        proto = "https" if proto is None else proto  # our listener is TLS
        if impl == "AuthRequest":
            raw_url, method = h.get("X-Original-URL"), h.get("X-Original-Method")
            if not raw_url:
                raise ValueError("missing X-Original-URL")
        elif impl == "ForwardAuth":
            method, host = h.get("X-Forwarded-Method"), h.get("X-Forwarded-Host")
            if not host:
                raise ValueError("missing host value")  # no fallback to Host
            raw_url = proto + "://" + host + (h.get("X-Forwarded-URI") or "")
        elif impl == "ExtAuthz":  # inference: Host and the path below the endpoint
            method, host = self.command, h.get("Host")
            if not host:
                raise ValueError("missing host value")
            raw_url = proto + "://" + host + (path[len(base):] or "/") + \
                ("?" + query if query else "")
        else:  # Legacy
            method = h.get("X-Forwarded-Method") or self.command
            raw_url = h.get("X-Original-URL")
            if not raw_url:
                host = h.get("X-Forwarded-Host") or h.get("Host")
                if not host:
                    raise ValueError("missing host value")
                raw_url = proto + "://" + host + (h.get("X-Forwarded-URI") or self.path)
        if not method:
            raise ValueError("missing method")
        if any(not "A" <= c <= "Z" for c in method):
            raise ValueError(f"method {method!r} has invalid characters")
        return acl.Object(acl.parse_request_uri(raw_url), method)

    def _authz_authelia_url(self, impl, args, entry):
        """getAutheliaURL: ?authelia_url= (X-Authelia-URL for ext-authz), else the
        cookie entry's authelia_url; a given one must lie in the cookie domain.
        Legacy reads ?rd= then X-Authelia-URL and may have neither (None)."""
        if impl == "Legacy":
            raw = (args.get("rd") or [""])[0] or self.headers.get("X-Authelia-URL") or ""
        elif impl == "ExtAuthz":
            raw = self.headers.get("X-Authelia-URL") or ""
        else:
            raw = (args.get("authelia_url") or [""])[0]
        if raw:
            host = acl.parse_request_uri(raw).hostname.lower()
            domain = entry["domain"].lower()
            if not (host == domain or host.endswith("." + domain)):
                raise ValueError(f"authelia url {raw!r} is not in the cookie domain "
                                 f"{entry['domain']!r}")
            return raw
        if impl == "Legacy":
            return None
        if entry["authelia_url"]:
            return entry["authelia_url"]
        raise ValueError("authelia url lookup failed")

    def _authz_authn(self, ep, args, entry):
        """Authz.authn: strategies in order; the first reaching a level wins; a header
        strategy's error stops the loop.  The last strategy tried answers U if it is
        a header strategy (CanHandleUnauthorized)."""
        res = {"level": 0, "details": None, "strategy": None, "error": None,
               "set_cookie": None, "pad": False, "session": None}
        kind = None
        for st in ep["authn_strategies"]:
            kind = st["name"]
            if kind == "CookieSession":
                level, details, res["set_cookie"], res["session"] = self._authn_cookie(entry)
                error = pad = None
            else:
                level, details, error, pad = self._authn_header(kind, args)
            if error:
                res.update(level=0, details=None, error=error, pad=pad, strategy=kind)
                return res
            if level:
                res.update(level=level, details=details)
                break
        res["strategy"] = kind if kind != "CookieSession" else None
        return res

    def _authn_cookie(self, entry):
        """CookieSessionAuthnStrategy.Get: (level, details, Set-Cookie for a
        redirect-style answer, what happened to the session)."""
        d = self.double
        value = self._cookie_value(entry["name"])
        session = d.sessions.get(value) if value is not None else None
        if session is None:
            return 0, None, None, "none"
        now = d.now()
        reason = None
        sent = self.headers.get("Session-Username")
        if session.cookie_domain != entry["domain"]:
            reason = "cookie domain differs"
        elif session.username and not session.remember_me and entry["inactivity"] > 0 \
                and now - session.last_activity > entry["inactivity"]:
            reason = "inactive"
        elif sent is not None and sent.lower() != session.username.lower():
            reason = "Session-Username differs"
        elif session.username and d._refresh_due(session, now):
            user = d._lookup(session.username)
            if user is None:
                reason = "user vanished"
            else:
                d._load_profile(session, user, now)
        if reason is not None:
            del d.sessions[value]
            fresh = d._new_cookie()
            d.sessions[fresh] = Session(cookie_domain=entry["domain"], last_activity=now)
            set_cookie = {"new": ("Set-Cookie", d._set_cookie(fresh, entry)), "none": None,
                          "delete": ("Set-Cookie", d._delete_cookie(entry))}
            return 0, None, set_cookie[d.authz_destroyed_cookie], "destroyed: " + reason
        if not session.username:
            return 0, None, None, "anonymous"
        if not session.remember_me:
            session.last_activity = now
        details = {"username": session.username, "groups": list(session.groups),
                   "display_name": session.display_name, "emails": list(session.emails)}
        return session.level, details, ("Set-Cookie", d._set_cookie(value, entry)), "valid"

    def _authn_header(self, kind, args):
        """The header strategies, Basic scheme only: (level, details, error, pad)."""
        d = self.double
        if kind == "HeaderLegacy":
            if (args.get("auth") or [""])[0] == "basic":
                value = self.headers.get("Authorization")
                if value is None:
                    return 0, None, "header Authorization expected", False
            else:
                value = self.headers.get("Proxy-Authorization")
                if value is None:
                    return 0, None, None, False
            creds = _parse_basic(value)
            if creds is None or not creds[0] or not creds[1]:
                return 0, None, "failed to parse the Basic credentials", False
            user = d._lookup(creds[0])
            if user is None or not hmac.compare_digest(user.password, creds[1]):
                return 0, None, "invalid credentials", False
            return 1, _details(user), None, False
        header = "Authorization" if kind == "HeaderAuthorization" else "Proxy-Authorization"
        value = self.headers.get(header)
        if not value:
            return 0, None, None, False
        scheme = value.split(" ", 1)[0].lower()
        if scheme == "bearer":  # not in the endpoint's schemes: skipped
            return 0, None, None, False
        creds = _parse_basic(value)
        if creds is None or not creds[0]:
            return 0, None, f"failed to parse content of {header} header", True
        now = time.time()
        user = d._lookup(creds[0])
        if user is not None and d.bans.get(user.name, 0) > now:
            return 0, None, "user is banned", True
        if user is None or not hmac.compare_digest(user.password, creds[1]):
            if user is not None:
                self._count_1fa_failure(user, now)  # Basic failures count as 1FA
            return 0, None, "the username and password do not match", True
        d.failures[user.name] = []
        return 1, _details(user), None, False

    def _authz_header_unauthorized(self, kind, decision):
        """HeaderAuthnStrategy.HandleUnauthorized: text/plain 401 with WWW-Authenticate
        (407 with Proxy-Authenticate for HeaderProxyAuthorization and for legacy
        Proxy-Authorization), no Location."""
        auth = urllib.parse.parse_qs(self.path.partition("?")[2]).get("auth")
        proxy = kind == "HeaderProxyAuthorization" or (kind == "HeaderLegacy" and auth != ["basic"])
        status = 407 if proxy else 401
        decision["status"] = status
        header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        self._send(status, f"{status} {self.responses[status][0]}".encode(),
                   "text/plain; charset=utf-8",
                   [(header, 'Basic realm="Authorization Required"')])

    def _authz_redirect(self, impl, obj, portal, set_cookie, decision):
        """The "unauthorized" handler for the cookie strategy (contract s.3)."""
        if portal is None:  # legacy without rd or X-Authelia-URL
            decision["status"] = 401
            return self.text(401, "401 Unauthorized")
        xhr = (self.headers.get("X-Requested-With") or "").lower() == "xmlhttprequest"
        if impl == "AuthRequest" or xhr or not _accepts_html(self.headers.get("Accept")):
            status = 401
        elif obj.method in ("GET", "HEAD", "OPTIONS"):
            status = 302
        else:
            status = 303
        location = _redirection_url(portal, obj)
        text = f"{status} {self.responses[status][0]}"
        body = b"" if obj.method == "HEAD" else \
            f'<a href="{_go_html_escape(location)}">{text}</a>'.encode()
        decision.update(status=status, location=location)
        headers = [("Location", location)] + ([set_cookie] if set_cookie else [])
        self._send(status, body, "text/html; charset=utf-8", headers)


def _details(user):
    return {"username": user.name, "groups": list(user.groups),
            "display_name": user.display_name, "emails": list(user.emails)}


def _parse_basic(value):
    """'Basic base64(user:password)' (scheme case-insensitive) -> (user, password) or None."""
    scheme, _, cred = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _accepts_html(accept):
    """AutheliaCtx.AcceptsMIME("text/html"): exact entries; */* only as the first."""
    for i, entry in enumerate((accept or "").split(",")):
        mime = entry.split(";", 1)[0].strip(" ")
        if mime == "text/html" or (i == 0 and mime == "*/*"):
            return True
    return False


def _redirection_url(portal, obj):
    """getRedirectionURL: the Authelia URL with rd=<target>&rm=<method> (Go's
    Values.Encode: keys sorted, QueryEscape)."""
    u = urllib.parse.urlsplit(portal)
    query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
    query["rd"] = [str(obj)]
    if obj.method:
        query["rm"] = [obj.method]
    encoded = "&".join(f"{urllib.parse.quote_plus(k)}={urllib.parse.quote_plus(v)}"
                       for k in sorted(query) for v in query[k])
    return urllib.parse.urlunsplit((u.scheme, u.netloc, u.path or "/", encoded, ""))


def _go_html_escape(s):
    for a, b in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;")):
        s = s.replace(a, b)
    return s


# --- OpenID Connect: discovery, JWKS, device authorization, token, userinfo ---

import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass
class OIDCClient:
    client_id: str
    secret: str = None
    auth_method: str = "client_secret_post"  # client_secret_basic, none
    scopes: tuple = ("openid", "authelia.pam")
    grant_types: tuple = ("urn:ietf:params:oauth:grant-type:device_code",)


@dataclass
class DeviceRequest:
    client_id: str
    scopes: list
    user_code: str
    issuer: str
    expires_at: float
    status: str = "pending"   # approved, denied
    user: str = None
    last_checked: float = 0.0
    used: bool = False
    # How the approver authenticated to Authelia (their session): the ID
    # token's amr and auth_time.
    amr: list = None
    auth_time: int = None


class OIDC:
    """The OIDC half of the double.  Knobs for tests:
    device_script: what happens to the next device request:
        {"action": "approve"|"deny"|"never", "user": "john", "after": seconds,
         "amr": how the approver logged in to Authelia (RFC 8176 values, as
                Authelia reports them; default password + TOTP:
                ["pwd", "kba", "otp", "mfa"]),
         "auth_age": seconds between their login and the approval (default 0)}
    interval, expires_in: what the device authorization answers
    id_token_attack: alg_none, hs256_pubkey, wrong_aud, wrong_iss, expired,
        iat_future, unknown_kid, bad_signature, wrong_azp, weak_key, duplicate_kid,
        nbf_future, amr_missing, auth_time_missing, auth_time_future
    userinfo_attack: sub_differs, claim_missing, claim_empty, claim_not_string,
        claim_case, claim_nul (the user name, then \\u0000 and more)
    verification_attack: other_host, http, userinfo, too_long
    token_429_once, slow_down_once, expired_token_once: the next poll's answer
    discovery_issuer: overrides the issuer in discovery
    """

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        pub = self.key.public_key().public_numbers()
        self.jwk = {"use": "sig", "kty": "RSA", "alg": "RS256",
                    "n": _int_b64(pub.n), "e": _int_b64(pub.e)}
        thumb = hashlib.sha256(json.dumps({"e": self.jwk["e"], "kty": "RSA", "n": self.jwk["n"]},
                                          separators=(",", ":"), sort_keys=True).encode())
        self.jwk["kid"] = thumb.hexdigest()[:6] + "-rs256"
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.reset()

    def reset(self):
        self.clients = {"pam-authelia": OIDCClient("pam-authelia", "s3cret-client")}
        self.devices = {}
        self.access_tokens = {}
        self.subjects = {}
        self.device_script = {"action": "approve", "user": "john", "after": 0.0}
        self.interval = 10
        self.expires_in = 599
        self.id_token_attack = None
        self.userinfo_attack = None
        self.verification_attack = None
        self.token_429_once = False
        self.slow_down_once = False
        self.expired_token_once = False
        self.discovery_issuer = None

    def subject(self, user):
        return self.subjects.setdefault(user, str(uuid.uuid4()))

    def sign(self, header, claims, key=None, hmac_key=None):
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode())).encode()
        if header["alg"] == "none":
            return signing_input.decode() + "."
        if hmac_key is not None:
            sig = hmac.new(hmac_key, signing_input, hashlib.sha256).digest()
        else:
            sig = (key or self.key).sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode() + "." + b64url(sig)

    def id_token(self, dev, access_token):
        now = int(time.time())
        digest = hashlib.sha256(access_token.encode()).digest()
        claims = {"iss": dev.issuer, "sub": self.subject(dev.user), "aud": [dev.client_id],
                  "azp": dev.client_id, "exp": now + 3600, "iat": now,
                  "auth_time": dev.auth_time if dev.auth_time is not None else now,
                  "jti": str(uuid.uuid4()),
                  "amr": dev.amr if dev.amr is not None else ["pwd", "kba", "otp", "mfa"],
                  "at_hash": b64url(digest[:16])}
        header = {"alg": "RS256", "kid": self.jwk["kid"], "typ": "JWT"}
        attack = self.id_token_attack
        if attack == "alg_none":
            header["alg"] = "none"
        elif attack == "wrong_aud":
            claims["aud"] = ["another-client"]
        elif attack == "wrong_iss":
            claims["iss"] = "https://evil.example"
        elif attack == "expired":
            claims["exp"], claims["iat"] = now - 10, now - 3610
        elif attack == "iat_future":
            claims["iat"], claims["exp"] = now + 3600, now + 7200
        elif attack == "unknown_kid":
            header["kid"] = "zzzzzz-rs256"
        elif attack == "nbf_future":
            claims["nbf"] = now + 3600
        elif attack == "amr_missing":
            del claims["amr"]
        elif attack == "auth_time_missing":
            del claims["auth_time"]
        elif attack == "auth_time_future":
            claims["auth_time"] = now + 3600
        if attack == "hs256_pubkey":  # key confusion: the public key PEM as HMAC secret
            header["alg"] = "HS256"
            return self.sign(header, claims, hmac_key=self.public_pem)
        if attack == "bad_signature":
            return self.sign(header, claims, key=self.other_key)
        if attack == "wrong_azp":
            claims["azp"] = "another-client"
        if attack == "weak_key":  # a 1024-bit key the JWKS publishes under the token's kid
            return self.sign(header, claims, key=self.weak_key)
        return self.sign(header, claims)


def _oidc_json(handler, status, obj, headers=()):
    handler.json(status, obj, list(headers))


def _oidc_error(handler, status, error, description=""):
    _oidc_json(handler, status, {"error": error, "error_description": description})


def _issuer(handler):
    return "https://" + (handler.headers.get("Host") or "").lower()


def _client_auth(handler, form):
    """Authenticates the client as Authelia does: the method used must be the
    client's registered one; Basic and post together are refused."""
    oidc = handler.double.oidc
    basic = handler.headers.get("Authorization", "")
    if basic.startswith("Basic "):
        if "client_secret" in form:
            return None
        try:
            raw = base64.b64decode(basic[6:]).decode()
        except ValueError:
            return None
        cid, _, secret = raw.partition(":")
        cid, secret = urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(secret)
        client = oidc.clients.get(cid)
        if client is None or client.auth_method != "client_secret_basic" or client.secret != secret:
            return None
        if form.get("client_id") not in (None, cid):
            return None
        return client
    client = oidc.clients.get(form.get("client_id"))
    if client is None:
        return None
    if client.auth_method == "none":
        return client if "client_secret" not in form else None
    if client.auth_method != "client_secret_post" or form.get("client_secret") != client.secret:
        return None
    return client


def _form(handler, raw):
    if not (handler.headers.get("Content-Type") or "").startswith(
            "application/x-www-form-urlencoded"):
        return {}  # Go's ParseMultipartForm: any other type is an empty form
    return {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}


def api_well_known_openid_configuration(self, raw):
    oidc = self.double.oidc
    issuer = _issuer(self)
    self.json(200, {
        "issuer": oidc.discovery_issuer or issuer,
        "jwks_uri": issuer + "/jwks.json",
        "authorization_endpoint": issuer + "/api/oidc/authorization",
        "token_endpoint": issuer + "/api/oidc/token",
        "userinfo_endpoint": issuer + "/api/oidc/userinfo",
        "device_authorization_endpoint": issuer + "/api/oidc/device-authorization",
        "grant_types_supported": ["authorization_code", "refresh_token",
                                  "urn:ietf:params:oauth:grant-type:device_code"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                  "client_secret_jwt", "private_key_jwt", "none"],
        "id_token_signing_alg_values_supported": ["RS256", "HS256"],
        "scopes_supported": ["openid", "offline_access", "profile", "email", "groups"],
        "subject_types_supported": ["public", "pairwise"],
    })


def api_jwks_json(self, raw):
    oidc = self.double.oidc
    keys = [oidc.jwk]
    if oidc.id_token_attack == "weak_key":
        pub = oidc.weak_key.public_key().public_numbers()
        keys = [dict(oidc.jwk, n=_int_b64(pub.n), e=_int_b64(pub.e))]
    elif oidc.id_token_attack == "duplicate_kid":  # which of the two would be a guess
        keys = [oidc.jwk, dict(oidc.jwk)]
    self.json(200, {"keys": keys})


def api_oidc_device_authorization(self, raw):
    d, oidc = self.double, self.double.oidc
    form = _form(self, raw)
    with d.lock:
        client = _client_auth(self, form)
        if client is None:
            return _oidc_error(self, 401, "invalid_client", "Client authentication failed.")
        scopes = form.get("scope", "").split()
        if any(s not in client.scopes for s in scopes):
            return _oidc_error(self, 400, "invalid_scope", "The requested scope is invalid.")
        user_code = "".join(random.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(8))
        device_code = "authelia_dc_" + b64url(random.randbytes(24)) + "." + b64url(random.randbytes(16))
        issuer = _issuer(self)
        dev = DeviceRequest(client.client_id, scopes, user_code, issuer, time.time() + oidc.expires_in)
        oidc.devices[device_code] = dev
        script = dict(oidc.device_script)
    uri = (issuer + "/consent/openid/device-authorization").lower()
    complete = uri + "?user_code=" + user_code
    attack = oidc.verification_attack
    if attack == "other_host":
        complete = "https://evil.example/consent?user_code=" + user_code
    elif attack == "http":
        complete = complete.replace("https://", "http://", 1)
    elif attack == "userinfo":
        complete = complete.replace("https://", "https://john@", 1)
    elif attack == "too_long":
        complete += "&pad=" + "a" * 2100
    if script["action"] in ("approve", "deny"):
        def decide():
            with d.lock:
                dev.status = "approved" if script["action"] == "approve" else "denied"
                dev.user = script.get("user", "john")
                dev.amr = list(script.get("amr", ["pwd", "kba", "otp", "mfa"]))
                dev.auth_time = int(time.time()) - int(script.get("auth_age", 0))
        if script.get("after", 0.0) > 0:
            threading.Timer(script["after"], decide).start()
        else:  # decided before the first poll can arrive
            decide()
    self.json(200, {"device_code": device_code, "user_code": user_code,
                    "verification_uri": uri, "verification_uri_complete": complete,
                    "expires_in": oidc.expires_in, "interval": oidc.interval})


def api_oidc_token(self, raw):
    d, oidc = self.double, self.double.oidc
    form = _form(self, raw)
    with d.lock:
        if oidc.token_429_once:
            oidc.token_429_once = False
            return self.json(429, {"error": "temporarily_unavailable", "error_description":
                                   "Too many requests. The endpoint is temporarily unavailable. "
                                   "Try again later."}, [("Retry-After", "1")])
        client = _client_auth(self, form)
        if client is None:
            return _oidc_error(self, 401, "invalid_client", "Client authentication failed.")
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code":
            return _oidc_error(self, 400, "unsupported_grant_type")
        if form["grant_type"] not in client.grant_types:
            return _oidc_error(self, 400, "unauthorized_client", "The client is not "
                               "authorized to request a token using this method.")
        dev = oidc.devices.get(form.get("device_code", ""))
        if dev is None or dev.used:
            return _oidc_error(self, 500, "server_error")
        if dev.client_id != client.client_id:
            return _oidc_error(self, 400, "invalid_grant")
        now = time.time()
        if dev.status == "pending" or oidc.slow_down_once:
            slow = oidc.slow_down_once or (dev.last_checked and now - dev.last_checked < oidc.interval)
            oidc.slow_down_once = False
            dev.last_checked = now
            if slow:
                return _oidc_error(self, 400, "slow_down", "Too many requests within a short "
                                   f"time period. The device made an attempt within [{oidc.interval}] seconds.")
            return _oidc_error(self, 400, "authorization_pending", "The authorization request "
                               "is still pending as the end user hasn't yet completed the "
                               "user-interaction steps.")
        if dev.status == "denied":
            return _oidc_error(self, 403, "access_denied", "The resource owner or authorization "
                               "server denied the request.")
        if now > dev.expires_at or oidc.expired_token_once:
            oidc.expired_token_once = False
            return _oidc_error(self, 400, "expired_token", "The device_code has expired.")
        dev.used = True
        access = "authelia_at_" + b64url(random.randbytes(32))
        oidc.access_tokens[access] = dev
        id_token = oidc.id_token(dev, access)
    self.json(200, {"access_token": access, "token_type": "bearer", "expires_in": 3599,
                    "scope": " ".join(dev.scopes), "id_token": id_token})


def api_oidc_userinfo(self, raw):
    d, oidc = self.double, self.double.oidc
    auth = self.headers.get("Authorization", "")
    with d.lock:
        dev = oidc.access_tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if dev is None:
            return self.json(401, {}, [("WWW-Authenticate", 'Bearer error="invalid_token"')])
        if "openid" not in dev.scopes:
            return _oidc_error(self, 403, "insufficient_scope")
        info = {"sub": oidc.subject(dev.user), "rat": int(time.time())}
        if "authelia.pam" in dev.scopes:
            info["authelia.pam.username"] = dev.user
        attack = oidc.userinfo_attack
        if attack == "sub_differs":
            info["sub"] = str(uuid.uuid4())
        elif attack == "claim_missing":
            info.pop("authelia.pam.username", None)
        elif attack == "claim_empty":
            info["authelia.pam.username"] = ""
        elif attack == "claim_not_string":
            info["authelia.pam.username"] = ["john"]
        elif attack == "claim_case":
            info["authelia.pam.username"] = dev.user.upper()
        elif attack == "claim_nul":  # "john\u0000@evil.example": C reads "john"
            info["authelia.pam.username"] = dev.user + "\u0000@evil.example"
    self.json(200, info)


_Handler.api_well_known_openid_configuration = api_well_known_openid_configuration
_Handler.api_jwks_json = api_jwks_json
_Handler.api_oidc_device_authorization = api_oidc_device_authorization
_Handler.api_oidc_token = api_oidc_token
_Handler.api_oidc_userinfo = api_oidc_userinfo
