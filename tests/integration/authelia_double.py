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
injected failures) and read what it recorded: every request with the TLS
connection it came on.
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
from dataclasses import dataclass, field

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


@dataclass
class Session:
    username: str = ""
    level: int = 0
    amr: list = field(default_factory=list)


@dataclass
class Injection:
    status: int = None
    body: bytes = None
    content_type: str = "application/json; charset=utf-8"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False      # drop the connection with a RST in the middle of the response
    raw: bytes = None        # bytes to write instead of a response
    close: bool = False      # answer normally, then close the connection
    times: int = None        # None: every time


class AutheliaDouble:
    def __init__(self, certfile, keyfile, cookie_domain="localhost", cookie_name="authelia_session"):
        self.cookie_domain = cookie_domain
        self.cookie_name = cookie_name
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.reset()
        double = self

        class Handler(_Handler):
            pass
        Handler.double = double

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # --- scripting -------------------------------------------------------
    def reset(self):
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
            self.case_insensitive = False
            self.totp_enabled = True
            self.duo_enabled = True

    def add_user(self, name, password, totp=False, **kw):
        user = User(name, password, **kw)
        if totp:
            user.totp_secret = random.randbytes(20)
        with self.lock:
            self.users[name] = user
        return user

    def totp(self, name, step=0):
        user = self.users[name]
        return totp_code(user.totp_secret, user.totp_digits, step=step)

    def inject(self, path, **kw):
        with self.lock:
            self.injections[path] = Injection(**kw)

    def paths(self):
        with self.lock:
            return [r["path"] for r in self.requests]

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

    def _set_cookie(self, value):
        expires = email.utils.formatdate(time.time() + 3600, usegmt=True)
        return (f"{self.cookie_name}={value}; expires={expires}; domain={self.cookie_domain}; "
                "path=/; HttpOnly; secure; SameSite=Lax")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "authelia-double"
    sys_version = ""
    timeout = 30  # Authelia's idle timeout

    def setup(self):
        d = self.double
        with d.lock:
            d.connections += 1
            self.conn_id = d.connections
        try:
            self.request = d.ctx.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            with d.lock:
                d.failed_handshakes += 1
            raise
        with d.lock:
            d.handshakes += 1
        super().setup()

    def log_message(self, *args):
        pass

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

    def _session(self):
        """The session named by the Cookie header, if the Host is in the cookie domain."""
        d = self.double
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if not (host == d.cookie_domain or host.endswith("." + d.cookie_domain)):
            return None, False
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == d.cookie_name and value in d.sessions:
                return d.sessions[value], True
        return None, True

    def _rotate(self, old_session, session):
        """Destroy the old session, store this one under a new ID: its Set-Cookie."""
        d = self.double
        for k, v in list(d.sessions.items()):
            if v is old_session:
                del d.sessions[k]
        value = d._new_cookie()
        d.sessions[value] = session
        return ("Set-Cookie", d._set_cookie(value))

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

    def _dispatch(self):
        d = self.double
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        with d.lock:
            d.requests.append({
                "conn": self.conn_id, "method": self.command, "path": path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": raw, "json": self._body_json(raw) if raw else None,
                "time": time.monotonic(),
            })
            inj = d.injections.get(path)
            if inj is not None and inj.times is not None:
                inj.times -= 1
                if inj.times <= 0:
                    del d.injections[path]
        if inj is not None and self._inject(inj):
            return
        routes = {
            "/api/health": ("GET", "HEAD"),
            "/api/firstfactor": ("POST",),
            "/api/user/info": ("GET", "POST"),
            "/api/state": ("GET",),
            "/api/secondfactor/totp": ("POST",) if d.totp_enabled else None,
            "/api/secondfactor/duo": ("POST",) if d.duo_enabled else None,
        }
        methods = routes.get(path)
        if methods is None:
            return self.text(404, "404 Not Found")
        if self.command not in methods:
            return self.text(405, "405 Method Not Allowed")
        if path in d.rate_limited:
            retry = email.utils.formatdate(time.time() + 60, usegmt=True)
            return self.json(429, {"status": "KO", "message": "Too Many Requests"},
                             [("Retry-After", retry)])
        getattr(self, "api_" + path.strip("/").replace("/", "_").replace("api_", "", 1))(raw)

    def _inject(self, inj):
        if inj.delay:
            time.sleep(inj.delay)
        if inj.raw is not None:
            self.wfile.write(inj.raw)
            self.wfile.flush()
            self.close_connection = True
            return True
        if inj.reset:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100\r\n\r\n{\"status\":")
            self.wfile.flush()
            sock = self.request
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            self.close_connection = True
            return True
        if inj.status is None:
            self._close_after = inj.close
            return False  # only a delay or a close: answer normally
        self._send(inj.status, inj.body or b"", inj.content_type, list(inj.headers.items()),
                   close=inj.close)
        return True

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
                    fails = [t for t in d.failures.get(user.name, []) if now - t < 120] + [now]
                    d.failures[user.name] = fails
                    if d.max_retries and len(fails) >= d.max_retries:
                        d.bans[user.name] = now + 300
                return self.ko(401, KO_AUTH)
            d.failures[user.name] = []
            cookie = self._rotate(session, Session(user.name, 1, ["pwd"]))
        self.ok(headers=[cookie])

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
                info = {"display_name": user.name, "emails": None, "method": "",
                        "has_totp": False, "has_webauthn": False, "has_duo": False}
            else:
                info = {"display_name": user.name,
                        "emails": None if self.command == "POST" else [f"{user.name}@example.com"],
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
                    if counter in user.used_steps:  # replay in this step
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
