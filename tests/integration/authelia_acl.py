"""Authelia's access control, for the test double (authelia_double.py).

Faithful to ../shared/spec/authelia-authz-contract.md sections 3 to 5 and to the
matchers in Authelia's internal/authorization: rules are tried first-match, a
rule matches when all its criteria match, no match gives default_policy (deny
when unset).  The configuration is plain Python data shaped like Authelia's
YAML (`access_control:` and `definitions:`), so an operator's example can be
pasted into a test.  Go's url.ParseRequestURI, path.Clean, net.ParseIP and
IPNet.Contains are emulated here, as far as a target URL built by a PAM module
can reach them.
"""
import ipaddress
import re
import urllib.parse

POLICIES = ("bypass", "one_factor", "two_factor", "deny")
# RFC 7231 and RFC 4918 verbs: the only ones Authelia's validator accepts.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT", "OPTIONS",
           "COPY", "LOCK", "MKCOL", "MOVE", "PROPFIND", "PROPPATCH", "UNLOCK")
QUERY_OPERATORS = ("equal", "not equal", "present", "absent", "pattern", "not pattern")

AUTHORIZED, UNAUTHORIZED, FORBIDDEN = "authorized", "unauthorized", "forbidden"

# Go's url.shouldEscape(c, encodeHost) lets these through in a host.
_HOST_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
               "-._~!$&'()*+,;=:[]<>\"")


# --- the object: a target URL, parsed as Go does -----------------------------

class TargetURL:
    """url.ParseRequestURI's result, as far as the authz handlers use it."""

    def __init__(self, scheme, userinfo, host, path, raw_path, raw_query, opaque=""):
        self.scheme, self.userinfo, self.host = scheme, userinfo, host
        self.path, self.raw_path, self.raw_query, self.opaque = path, raw_path, raw_query, opaque

    @property
    def hostname(self):
        """url.URL.Hostname(): the host without port and without IPv6 brackets."""
        host = self.host
        if host.startswith("["):
            return host[1:host.find("]")] if "]" in host else host[1:]
        return host.rsplit(":", 1)[0] if ":" in host else host

    def __str__(self):
        if self.opaque:
            s = f"{self.scheme}:{self.opaque}"
        else:
            user = self.userinfo + "@" if self.userinfo else ""
            s = f"{self.scheme}://{user}{self.host}{self.raw_path}"
        return s + ("?" + self.raw_query if self.raw_query else "")


def _unescape(s, host=False):
    """url.unescape: every % must start a two-hex-digit escape."""
    if host and any(c not in _HOST_OK and ord(c) < 0x80 for c in s if c != "%"):
        raise ValueError(f"invalid character in host name {s!r}")
    if re.search(r"%(?![0-9A-Fa-f]{2})", s):
        raise ValueError(f"invalid URL escape in {s!r}")
    return urllib.parse.unquote(s, errors="surrogateescape")


def parse_request_uri(raw):
    """Go's url.ParseRequestURI (no fragment splitting: '#' stays in the path or query).
    Raises ValueError where Go returns an error."""
    if raw == "":
        raise ValueError("empty url")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise ValueError("invalid control character in URL")
    scheme, rest = "", raw
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", raw)
    if m:
        scheme, rest = m.group(1).lower(), raw[m.end():]
    elif re.match(r"^[0-9+.\-]*:", raw) and not raw.startswith("/"):
        raise ValueError("missing protocol scheme")
    raw_query = ""
    if "?" in rest:
        rest, raw_query = rest.split("?", 1)
    if not rest.startswith("/"):
        if scheme:
            return TargetURL(scheme, "", "", "", "", raw_query, opaque=rest)
        raise ValueError("invalid URI for request")
    userinfo, host = "", ""
    if scheme and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        if "@" in authority:
            userinfo, authority = authority.rsplit("@", 1)
        if authority.startswith("["):
            end = authority.find("]")
            if end < 0:
                raise ValueError("missing ']' in host")
            port = authority[end + 1:]
            if port and not re.fullmatch(r":[0-9]*", port):
                raise ValueError(f"invalid port {port!r} after host")
        elif ":" in authority:
            port = authority[authority.rfind(":"):]
            if not re.fullmatch(r":[0-9]*", port):
                raise ValueError(f"invalid port {port!r} after host")
        host = _unescape(authority, host=True)
    return TargetURL(scheme, userinfo, host.lower(), _unescape(rest), rest, raw_query)


def go_path_clean(p):
    """Go's path.Clean."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = ("/" if rooted else "") + "/".join(parts)
    return out or "."


def full_clean_path(url):
    """utils.URLPathFullClean: path.Clean(path), a trailing '/' kept, '?query' appended."""
    p, q = url.path, url.raw_query
    trailing = len(p) > 1 and p.endswith("/")
    if len(p) == 1 and not q:
        return p
    if len(p) == 1:
        return go_path_clean(p) + "?" + q
    if q and trailing:
        return go_path_clean(p) + "/?" + q
    if q:
        return go_path_clean(p) + "?" + q
    if trailing:
        return go_path_clean(p) + "/"
    return go_path_clean(p)


class Object:
    """authorization.NewObject: scheme and host lowercased, cleaned path, method."""

    def __init__(self, url, method):
        self.url = url
        self.domain = url.hostname.lower()
        self.path = full_clean_path(url)
        self.method = method.upper()
        self.query = {}
        for pair in url.raw_query.split("&") if url.raw_query else []:
            if ";" in pair:
                continue  # Go's ParseQuery refuses the pair
            if re.search(r"%(?![0-9A-Fa-f]{2})", pair):
                continue  # Go's QueryUnescape fails: the pair is dropped
            key, _, value = pair.partition("=")
            key = urllib.parse.unquote_plus(key, errors="surrogateescape")
            value = urllib.parse.unquote_plus(value, errors="surrogateescape")
            self.query.setdefault(key, []).append(value)

    def __str__(self):
        return str(self.url)


# --- the subject's IP ----------------------------------------------------------

def parse_ip(text):
    """Go's net.ParseIP: a bare IPv4 or IPv6 literal; no brackets, zone, port or name."""
    if not text or "%" in text or text.startswith("["):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def remote_ip(xff, peer):
    """middlewares.RequestCtxRemoteIP: the first comma-separated X-Forwarded-For
    entry, trimmed of spaces, if it parses as an IP; else the TCP peer."""
    if xff:
        ip = parse_ip(xff.split(",", 1)[0].strip(" "))
        if ip is not None:
            return ip
    return ipaddress.ip_address(peer)


def _as_v4(ip):
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def parse_network(rule):
    """authorization.parseNetwork: an address is a /32 or /128; a CIDR's host bits are dropped."""
    if "/" not in rule:
        ip = parse_ip(rule)
        if ip is None:
            raise ValueError(f"invalid network {rule!r}")
        return ipaddress.ip_network(f"{_as_v4(ip)}/{32 if _as_v4(ip).version == 4 else 128}")
    net = ipaddress.ip_network(rule, strict=False)
    mapped = getattr(net.network_address, "ipv4_mapped", None)
    if mapped is not None and net.prefixlen >= 96:  # Go treats it as an IPv4 network
        net = ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}")
    return net


def network_contains(net, ip):
    """net.IPNet.Contains: an IPv4-mapped address counts as IPv4; families must agree."""
    ip = _as_v4(ip)
    return ip.version == net.version and ip in net


# --- the subject -------------------------------------------------------------

class Subject:
    def __init__(self, username="", groups=(), ip=None, client_id=""):
        self.username, self.groups, self.ip, self.client_id = username, list(groups), ip, client_id

    def is_anonymous(self):
        return self.username == "" and not self.groups and self.client_id == ""


# --- rules ---------------------------------------------------------------------

def _list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _go_regex(pattern):
    """Go RE2 accepts (?<name>...) as well as (?P<name>...); Python only the latter."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern))


class _RegexSubjectMatcher:
    """RegexpGroupStringSubjectMatcher / RegexpStringSubjectMatcher."""

    def __init__(self, pattern):
        self.pattern = pattern if isinstance(pattern, re.Pattern) else _go_regex(pattern)
        names = self.pattern.groupindex
        self.user, self.group = names.get("User"), names.get("Group")
        self.has_subject = self.user is not None or self.group is not None

    def match(self, text, subject):
        m = self.pattern.search(text)
        if m is None:
            return False
        if not self.has_subject or subject.is_anonymous():
            return True
        if self.user is not None and (m.group(self.user) or "").lower() != subject.username.lower():
            return False
        if self.group is not None and \
                (m.group(self.group) or "").lower() not in [g.lower() for g in subject.groups]:
            return False
        return True


class _DomainMatcher:
    """NewAccessControlDomain: exact (case-insensitive), '*.x' (the suffix '.x', not x
    itself), and '{user}.x' / '{group}.x' (a regex with a User or Group group)."""

    def __init__(self, domain):
        domain = domain.lower()
        self.regex = None
        self.wildcard = domain.startswith("*.")
        self.name = domain[1:] if self.wildcard else domain
        for token, group in (("{user}", "User"), ("{group}", "Group")):
            if domain.startswith(token + "."):
                rest = re.escape(domain[len(token):])
                self.regex = _RegexSubjectMatcher(
                    re.compile(rf"^(?P<{group}>[a-z0-9-]+){rest}$", re.IGNORECASE))
        self.has_subject = self.regex is not None

    def match(self, domain, subject):
        if self.regex is not None:
            return self.regex.match(domain, subject)
        if self.wildcard:
            return domain.endswith(self.name)
        return domain.lower() == self.name


def _subject_matcher(item):
    """schemaSubjectToACLSubject: 'user:' and 'group:' exact and case-sensitive,
    'oauth2:client:' the client ID; anything else is ignored."""
    for prefix, kind in (("user:", "user"), ("group:", "group"), ("oauth2:client:", "client")):
        if item.startswith(prefix):
            name = item[len(prefix):].strip(" ")
            if kind == "user":
                return lambda s: s.username == name
            if kind == "group":
                return lambda s: name in s.groups
            return lambda s: s.client_id == name
    return None


class Rule:
    def __init__(self, position, rule, named_networks):
        unknown = set(rule) - {"domain", "domain_regex", "policy", "subject", "networks",
                               "resources", "methods", "query"}
        if unknown:
            raise ValueError(f"rule #{position}: unknown keys {sorted(unknown)}")
        self.position = position
        self.policy = rule.get("policy")
        if self.policy not in POLICIES:
            raise ValueError(f"rule #{position}: policy must be one of {POLICIES}, "
                             f"got {self.policy!r}")
        self.domains = [_DomainMatcher(d) for d in _list(rule.get("domain"))]
        self.domains += [_RegexSubjectMatcher(p) for p in _list(rule.get("domain_regex"))]
        if not self.domains:
            raise ValueError(f"rule #{position}: domain or domain_regex is required")
        self.resources = [_RegexSubjectMatcher(p) for p in _list(rule.get("resources"))]
        self.methods = [m.upper() for m in _list(rule.get("methods"))]
        for m in self.methods:
            if m not in METHODS:
                raise ValueError(f"rule #{position}: invalid method {m!r}")
        self.networks = []
        for n in _list(rule.get("networks")):
            if n in named_networks:
                self.networks += named_networks[n]
            else:
                try:
                    self.networks.append(parse_network(n))
                except ValueError:
                    raise ValueError(f"rule #{position}: network {n!r} is neither a named "
                                     "network nor an IP or CIDR") from None
        self.subjects = []
        for entry in _list(rule.get("subject")):
            matchers = [_subject_matcher(i) for i in _list(entry)]
            matchers = [m for m in matchers if m is not None]
            if matchers:
                self.subjects.append(matchers)
        self.query = []
        for entry in rule.get("query") or []:
            entry = [entry] if isinstance(entry, dict) else entry
            self.query.append([_query_matcher(position, q) for q in entry])
        self.has_subject = bool(self.subjects) or any(
            m.has_subject for m in self.domains + self.resources)
        if self.policy == "bypass" and self.has_subject:
            raise ValueError(f"rule #{position}: 'bypass' rules cannot have a subject "
                             "(nor User or Group named groups)")

    def matches(self, subject, obj):
        if not any(d.match(obj.domain, subject) for d in self.domains):
            return False
        if self.resources and not any(r.match(obj.path, subject) for r in self.resources):
            return False
        if self.query and not any(all(q(obj) for q in ands) for ands in self.query):
            return False
        if self.methods and obj.method not in self.methods:
            return False
        if self.networks and (subject.ip is None or
                              not any(network_contains(n, subject.ip) for n in self.networks)):
            return False
        if subject.is_anonymous():  # an anonymous subject matches every subject criterion
            return True
        return not self.subjects or any(all(m(subject) for m in ands) for ands in self.subjects)


def _query_matcher(position, q):
    """AccessControlQuery matchers; the operator defaults to 'equal' when a value is
    given and to 'present' otherwise (inference from the docs)."""
    key, value = q.get("key"), q.get("value")
    op = q.get("operator") or ("equal" if value is not None else "present")
    if not key or op not in QUERY_OPERATORS:
        raise ValueError(f"rule #{position}: invalid query criterion {q!r}")
    value = "" if value is None else str(value)

    def get(obj):
        return obj.query.get(key, [""])[0]
    if op in ("present", "absent"):
        return lambda obj: (key in obj.query) == (op == "present")
    if op in ("equal", "not equal"):
        return lambda obj: (get(obj) == value) == (op == "equal")
    pattern = _go_regex(value)
    return lambda obj: bool(pattern.search(get(obj))) == (op == "pattern")


class AccessControl:
    """The `access_control:` section (with `networks:`, the 4.38 form) and the
    `definitions:` section (`network:`, the 4.39 form)."""

    def __init__(self, access_control=None, definitions=None):
        access_control = dict(access_control or {})
        unknown = set(access_control) - {"default_policy", "networks", "rules"}
        if unknown:
            raise ValueError(f"access_control: unknown keys {sorted(unknown)}")
        self.default_policy = access_control.get("default_policy") or "deny"
        if self.default_policy not in POLICIES:
            raise ValueError(f"default_policy must be one of {POLICIES}")
        named = {}
        for name, nets in ((definitions or {}).get("network") or {}).items():
            named[name] = [parse_network(n) for n in _list(nets)]
        for entry in access_control.get("networks") or []:
            named.setdefault(entry["name"], [parse_network(n) for n in _list(entry["networks"])])
        rules = access_control.get("rules") or []
        self.rules = [Rule(i + 1, r, named) for i, r in enumerate(rules)]

    def required_level(self, subject, obj):
        """Authorizer.GetRequiredLevel: (rule has a subject, policy, rule position or None)."""
        for rule in self.rules:
            if rule.matches(subject, obj):
                return rule.has_subject, rule.policy, rule.position
        return False, self.default_policy, None


def authz_result(level, policy, rule_has_subject):
    """isAuthzResult: the decision table of the contract's section 3."""
    if policy == "bypass":
        return AUTHORIZED
    if policy == "deny":
        return UNAUTHORIZED if level == 0 and rule_has_subject else FORBIDDEN
    if policy == "one_factor":
        return AUTHORIZED if level >= 1 else UNAUTHORIZED
    return AUTHORIZED if level >= 2 else UNAUTHORIZED
