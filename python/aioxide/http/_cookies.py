"""Cookie jars with aiohttp's API: ``CookieJar`` keeps cookies by domain and path, with
RFC 6265's matching rules; ``DummyCookieJar`` keeps nothing."""

from __future__ import annotations

import abc
import calendar
import contextlib
import email.utils
import pickle
import re
import time
from collections.abc import Iterator, Mapping
from http.cookies import BaseCookie, CookieError, Morsel, SimpleCookie

from yarl import URL

from ._helpers import is_ip

_NO_URL = URL()  # cookies not tied to a response: shared by every host

# Browsers take any visible ASCII name but these separators; http.cookies takes only RFC
# 2616 tokens and drops real-world names such as `ISAWPLB{...}` or a first pair `path=x`.
_NAME = re.compile(r"[!#-+\--:<>-\[\]-~]+")
_FLAGS = frozenset(("secure", "httponly", "partitioned"))
_RUN_ON = re.compile(r"\s+(?=(?:expires|path|comment|domain|max-age|secure|httponly|version|"
                     r"samesite|partitioned)\b)", re.IGNORECASE)
_MAX_PAIR = 4096  # RFC 6265 section 6.1: at least 4096 bytes per cookie
_MAX_ATTRIBUTE = 1024  # RFC 6265bis: a longer attribute value is ignored
# Per domain and per jar (RFC 6265 asks for at least 50 and 3000), and what one request
# sends: a server's header line limit is commonly 8 KiB.
MAX_PER_DOMAIN = 180
MAX_COOKIES = 3300
MAX_PER_REQUEST = 150
MAX_HEADER = 8190 - len("Cookie: ")
_DECODE = SimpleCookie().value_decode


def make_morsel(key: str, value: str, coded_value: str) -> Morsel:
    """A Morsel of any name: ``Morsel.set`` refuses reserved words and non-token names."""
    morsel = Morsel()
    morsel.__setstate__({"key": key, "value": value, "coded_value": coded_value})
    return morsel


def parse_set_cookie(header: str) -> Morsel | None:
    """One Set-Cookie value as a Morsel (RFC 6265 section 5.2), None if it is invalid.
    The first ``name=value`` is the cookie whatever its name; unknown attributes go."""
    pair, *segments = header.split(";")
    # As http.cookies (and aiohttp) read it, an attribute may also follow the previous
    # one after a space alone: "Path=/ Max-Age=1".
    attributes = [a for s in segments for a in _RUN_ON.split(s)]
    name, eq, raw = pair.partition("=")
    name, raw = name.strip(), raw.strip()
    if not eq or not _NAME.fullmatch(name) or len(name) + len(raw) > _MAX_PAIR:
        return None
    value, coded = _DECODE(raw) if len(raw) > 1 and raw[0] == raw[-1] == '"' else (raw, raw)
    morsel = make_morsel(name, value, coded)
    for attribute in attributes:
        key, eq, value = attribute.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if len(value) > _MAX_ATTRIBUTE:
            continue
        try:  # Morsel knows the attributes of the running Python (3.14 adds Partitioned)
            morsel[key] = True if key in _FLAGS else value
        except CookieError:
            continue
    return morsel


def _domain_match(domain: str, host: str) -> bool:
    if host == domain:
        return True
    return host.endswith("." + domain) and not is_ip(host)


def _path_match(request_path: str, cookie_path: str) -> bool:
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


def _default_path(url: URL) -> str:
    path = url.raw_path
    if not path.startswith("/") or path.count("/") <= 1:
        return "/"
    return path[: path.rfind("/")]


def _expiry(morsel: Morsel) -> float | None:
    """Absolute expiry time from Max-Age (which wins) or Expires; None for a session cookie."""
    max_age = morsel["max-age"]
    if max_age:
        with contextlib.suppress(ValueError):
            return time.time() + int(max_age)
    expires = morsel["expires"]
    if expires:
        parsed = email.utils.parsedate_tz(expires)
        if parsed is not None:
            return calendar.timegm(parsed[:9]) - (parsed[9] or 0)
    return None


def header(morsels) -> str:
    """A Cookie header of ``morsels``, in order, cut to what a server is sure to take."""
    pairs, size = [], -2
    for m in morsels:
        pair = f"{m.key}={m.coded_value}"
        size += len(pair.encode()) + 2
        if size > MAX_HEADER or len(pairs) == MAX_PER_REQUEST:
            break
        pairs.append(pair)
    return "; ".join(pairs)


def parse_set_cookies(headers) -> list[tuple[str, Morsel]]:
    """(name, Morsel) of each Set-Cookie value that parses, in order, names repeated."""
    return [(m.key, m) for m in map(parse_set_cookie, headers) if m is not None]


class AbstractCookieJar(abc.ABC):
    """The interface a session needs from a cookie jar."""

    @abc.abstractmethod
    def update_cookies(self, cookies, response_url: URL = _NO_URL) -> None:
        """Stores cookies received from ``response_url``."""

    def update_cookies_from_headers(self, headers, response_url: URL) -> None:
        """Stores the cookies of Set-Cookie header values, each one on its own."""
        self.update_cookies(parse_set_cookies(headers), response_url)

    @abc.abstractmethod
    def filter_cookies(self, request_url: URL) -> BaseCookie:
        """The cookies to send to ``request_url``."""


class CookieJar(AbstractCookieJar):
    """Cookies by (domain, path, name). ``unsafe`` accepts cookies from IP-address hosts;
    ``quote_cookie=False`` sends values as received, unquoted."""

    def __init__(self, *, unsafe: bool = False, quote_cookie: bool = True,
                 treat_as_secure_origin=None, loop=None) -> None:
        self._unsafe = unsafe
        self._quote_cookie = quote_cookie
        origins = treat_as_secure_origin or []
        if isinstance(origins, (str, URL)):
            origins = [origins]
        self._secure_origins = [URL(o).origin() for o in origins]
        # (domain, path) -> {name: morsel}; domain "" is shared by every host.
        self._cookies: dict[tuple[str, str], SimpleCookie] = {}
        self._host_only: set[tuple[str, str, str]] = set()  # (domain, path, name)
        self._expires: dict[tuple[str, str, str], float] = {}
        self._order: dict[tuple[str, str, str], None] = {}  # least recently set first
        self._bounded = True  # False for a request's own cookies: they are all sent

    @property
    def quote_cookie(self) -> bool:
        return self._quote_cookie

    def __len__(self) -> int:
        return sum(len(c) for c in self._cookies.values())

    def __iter__(self) -> Iterator[Morsel]:
        self._expire()
        for cookie in self._cookies.values():
            yield from cookie.values()

    def save(self, file_path) -> None:
        with open(file_path, mode="wb") as f:
            pickle.dump((self._cookies, self._host_only, self._expires), f,
                        pickle.HIGHEST_PROTOCOL)

    def load(self, file_path) -> None:
        with open(file_path, mode="rb") as f:
            self._cookies, self._host_only, self._expires = pickle.load(f)
        self._order = {(*key, name): None for key, cookie in self._cookies.items()
                       for name in cookie}

    def clear(self, predicate=None) -> None:
        for key, cookie in list(self._cookies.items()):
            for name, morsel in list(cookie.items()):
                if predicate is None or predicate(morsel):
                    self._drop(key, name)

    def clear_domain(self, domain: str) -> None:
        self.clear(lambda m: _domain_match(domain, m["domain"]))

    def _drop(self, key: tuple[str, str], name: str) -> None:
        cookie = self._cookies.get(key)
        if cookie is not None:
            cookie.pop(name, None)
            if not cookie:
                del self._cookies[key]
        self._host_only.discard((*key, name))
        self._expires.pop((*key, name), None)
        self._order.pop((*key, name), None)

    def _expire(self) -> None:
        now = time.time()
        for (domain, path, name), when in list(self._expires.items()):
            if when <= now:
                self._drop((domain, path), name)

    def update_cookies(self, cookies, response_url: URL = _NO_URL) -> None:
        hostname = response_url.raw_host
        if not self._unsafe and is_ip(hostname):
            return  # cookies are not accepted from IP-address hosts
        if isinstance(cookies, Mapping):
            cookies = cookies.items()
        for name, value in cookies:
            if isinstance(value, Morsel):
                morsel, name = value, value.key
            else:
                jar = SimpleCookie()
                jar[name] = value
                morsel = jar[name]
            self._store(name, morsel, hostname, response_url)

    def _store(self, name: str, morsel: Morsel, hostname: str | None, url: URL) -> None:
        domain = morsel["domain"]
        if domain.startswith("."):
            domain = domain[1:]
        if domain.endswith("."):
            domain = ""
        if domain and hostname is not None and not _domain_match(domain, hostname):
            return  # a domain the response's host does not belong to
        host_only = not domain and hostname is not None
        if host_only:
            domain = hostname
        path = morsel["path"]
        if not path or not path.startswith("/"):
            path = _default_path(url)
        path = path.rstrip("/") or "/"
        key = (domain.lower(), path)
        stored = make_morsel(morsel.key, morsel.value, morsel.coded_value)
        stored.update({k: v for k, v in morsel.items() if v})
        stored["domain"] = domain
        stored["path"] = path
        expiry = _expiry(morsel)
        if expiry is not None and expiry <= time.time():
            self._drop(key, name)
            return
        if self._bounded and (*key, name) not in self._order:
            self._make_room(key[0])
        self._cookies.setdefault(key, SimpleCookie())[name] = stored
        self._order.pop((*key, name), None)
        self._order[(*key, name)] = None
        if host_only:
            self._host_only.add((*key, name))
        else:
            self._host_only.discard((*key, name))
        if expiry is not None:
            self._expires[(*key, name)] = expiry
        else:
            self._expires.pop((*key, name), None)

    def _make_room(self, domain: str) -> None:
        """Drops the least recently set cookie of ``domain`` (or of the jar) at a limit."""
        if len(self._order) >= min(MAX_PER_DOMAIN, MAX_COOKIES):
            self._expire()
        if sum(len(c) for (d, _), c in self._cookies.items() if d == domain) >= MAX_PER_DOMAIN:
            oldest = next(k for k in self._order if k[0] == domain)
        elif len(self._order) >= MAX_COOKIES:
            oldest = next(iter(self._order))
        else:
            return
        self._drop(oldest[:2], oldest[2])

    def filter_cookies(self, request_url: URL) -> BaseCookie:
        """The cookies to send to ``request_url``."""
        out: BaseCookie = SimpleCookie() if self._quote_cookie else BaseCookie()
        if not self._cookies:
            return out
        self._expire()
        hostname = (request_url.raw_host or "").lower()
        secure = request_url.scheme in ("https", "wss") or (
            request_url.origin() in self._secure_origins)
        if not self._unsafe and is_ip(hostname):
            shared = self._cookies.get(("", "/"))
            return self._merge(out, [shared] if shared else [])
        matches = []
        for (domain, path), cookie in self._cookies.items():
            if domain and not _domain_match(domain, hostname):
                continue
            if not _path_match(request_url.path or "/", path):
                continue
            matches.append((len(path), domain, path, cookie))
        matches.sort(key=lambda m: m[0])
        for _, domain, path, cookie in matches:
            for name, morsel in cookie.items():
                if (domain, path, name) in self._host_only and domain != hostname:
                    continue
                if morsel["secure"] and not secure:
                    continue
                self._add(out, name, morsel)
        return out

    def _merge(self, out: BaseCookie, cookies) -> BaseCookie:
        for cookie in cookies:
            for name, morsel in cookie.items():
                self._add(out, name, morsel)
        return out

    def _add(self, out: BaseCookie, name: str, morsel: Morsel) -> None:
        if not self._quote_cookie:
            coded = morsel.value
        elif morsel.coded_value[:1] == '"':
            coded = morsel.coded_value  # quoted by the server: sent back as it came
        else:
            coded = out.value_encode(morsel.value)[1]
        dict.__setitem__(out, name, make_morsel(morsel.key, morsel.value, coded))


class DummyCookieJar(AbstractCookieJar):
    """A jar that keeps no cookies."""

    def __init__(self, *, loop=None) -> None:
        pass

    def __iter__(self) -> Iterator[Morsel]:
        return iter(())

    def __len__(self) -> int:
        return 0

    @property
    def quote_cookie(self) -> bool:
        return True

    def clear(self, predicate=None) -> None:
        pass

    def clear_domain(self, domain: str) -> None:
        pass

    def update_cookies(self, cookies, response_url: URL = _NO_URL) -> None:
        pass

    def filter_cookies(self, request_url: URL) -> BaseCookie:
        return SimpleCookie()
