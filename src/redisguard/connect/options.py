"""Where and how to connect: a URL plus overrides, validated once, never printing a password."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.connection import URL_QUERY_ARGUMENT_PARSERS, parse_url

from redisguard.errors import UsageError

__all__ = ["ConnectionOptions", "redact_url"]

PASSWORD_ENV = "REDISCLI_AUTH"  # noqa: S105 - the name of the variable, not a password
_SECRET_PARAMS = ("password", "pass", "pwd", "auth", "token", "secret")


# What parse_url may return: the URL's own parts and ?name=value options redis-py or Redis() know.
_URL_KEYS = frozenset({"host", "port", "db", "path", "connection_class", "username", "password",
                       *URL_QUERY_ARGUMENT_PARSERS, *inspect.signature(redis.Redis.__init__).parameters}) - {"self"}


def _secret_param(name: str) -> bool:
    lowered = unquote(name).lower()
    return any(word in lowered for word in _SECRET_PARAMS)


def redact_url(url: str) -> str:
    """``url`` with its password (userinfo or a ``?password=`` style parameter) replaced by ``***``.

    Plain string surgery, so it works on a URL that does not parse (a bad port, a stray bracket).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    loose = _loose_userinfo(rest)  # a password holding '/', '?' or '#' unencoded: the userinfo runs to that '@'
    authority_end = _authority_end(rest, 0 if loose is None else loose + 1)
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}:***@{hostport}" if colon else f"{userinfo}@{hostport}"
    path, qmark, query = tail.partition("?")
    if qmark:
        query, hash_, fragment = query.partition("#")
        parts = []
        for item in query.split("&"):
            name, eq, _ = item.partition("=")
            parts.append(f"{name}=***" if eq and _secret_param(name) else item)
        path = f"{path}?{'&'.join(parts)}{hash_}{fragment}"
    return f"{scheme}{sep}{authority}{path}"


def _authority_end(rest: str, start: int = 0) -> int:
    """Where the authority of ``rest`` (a URL after ``scheme://``) ends: its first ``/``, ``?`` or ``#`` at or
    after ``start``, else its length."""
    return min((at for at in (rest.find(ch, start) for ch in "/?#") if at >= 0), default=len(rest))


def _loose_userinfo(rest: str) -> int | None:
    """Where the userinfo of a URL (after ``scheme://``) ends, when its password holds an unencoded ``/``,
    ``?`` or ``#``: the last ``@`` after the authority a strict parser sees, unless that ``@`` sits in a
    ``?name=value`` (then it is the query's). ``None`` for every URL a strict parser reads as meant."""
    authority_end = _authority_end(rest)
    at = rest.rfind("@")
    if at < authority_end:
        return None
    query = rest.find("?", authority_end)
    if 0 <= query < at and "=" in rest[query:at]:
        return None
    return at


def _query_password(url: str) -> str | None:
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    for name, value in parse_qsl(query):
        if name.lower() == "password":
            return value
    return None


@dataclass(frozen=True)
class ConnectionOptions:
    """Connection settings for one Redis deployment (a standalone server, or any node of a cluster).

    ``password`` is excluded from ``repr`` so it can never leak into logs or tracebacks.
    """

    url: str = "redis://127.0.0.1:6379/0"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_insecure: bool = False
    connect_timeout: float = 5.0
    command_timeout: float = 10.0
    retries: int = 2
    client_name: str = "redisguard"

    def __repr__(self) -> str:
        return (f"ConnectionOptions(url={self.display!r}, username={self.username!r}, "
                f"password={'***' if self.password else None}, tls={self.is_tls}, "
                f"connect_timeout={self.connect_timeout}, command_timeout={self.command_timeout})")

    @classmethod
    def build(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        environ: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> ConnectionOptions:
        """Options from a URL, explicit ``--user/--password`` and, last, ``$REDISCLI_AUTH``."""
        env = os.environ if environ is None else environ
        for name in ("connect_timeout", "command_timeout"):
            value = kwargs.get(name)
            if value is not None and not value > 0:  # also refuses NaN
                flag = "--timeout" if name == "command_timeout" else "--connect-timeout"
                raise UsageError(f"{flag} must be a number of seconds above zero, not {value}", kind="usage")
        options = cls(url=url, username=username, password=password, **kwargs)
        options.redis_kwargs()  # validate the URL early: a clear error before any network I/O
        if options.password is None and options.url_password() is None and env.get(PASSWORD_ENV):
            options = replace(options, password=env[PASSWORD_ENV])
        return options

    def url_password(self) -> str | None:
        """The password the URL carries, in its userinfo or a ``?password=`` parameter (as redis-py reads it)."""
        try:
            userinfo = urlsplit(self.url).password
        except ValueError:
            return None
        return unquote(userinfo) if userinfo is not None else _query_password(self.url)

    def secrets(self) -> tuple[str, ...]:
        """Every form of the password this configuration holds, for scrubbing messages before printing."""
        found = {self.password, self.url_password()}
        try:
            found.add(urlsplit(self.url).password)
        except ValueError:
            found.update(part.partition(":")[2] for part in self.url.partition("://")[2].split("@")[:-1])
        return tuple(sorted(value for value in found if value and len(value) >= 3))

    @property
    def acl_user(self) -> str | None:
        """The ACL user this connects as: ``--user``, else the URL's (userinfo or ``?username=``, as redis-py reads
        it, unix sockets too); None means ``default``."""
        name = self.redis_kwargs().get("username")
        return str(name) if name else None

    @property
    def display(self) -> str:
        """The URL with any password replaced by ``***``: the only form ever printed."""
        return redact_url(self.url)

    @property
    def is_tls(self) -> bool:
        return self.url.startswith("rediss://")

    @property
    def is_unix(self) -> bool:
        return self.url.startswith("unix://")

    def redis_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis``/``ConnectionPool`` (sync and asyncio share the shape)."""
        self._check_url()
        try:
            kwargs: dict[str, Any] = parse_url(self.url)
        except ValueError as exc:
            raise UsageError(
                f"invalid Redis URL {self.display!r}: {exc} (expected redis://host:port/db, rediss://… or "
                "unix:///path/to/socket)",
                kind="url",
            ) from None
        if not self.is_unix and "host" not in kwargs:
            raise UsageError(f"invalid Redis URL {self.display!r}: no host name", kind="url")
        unknown = sorted(set(kwargs) - _URL_KEYS)
        if unknown:  # redis-py passes any other ?name=value on to Redis() as a keyword: a TypeError there
            raise UsageError(f"invalid Redis URL {self.display!r}: unknown option {unknown[0][:40]!r} after '?' "
                             f"(redis-py's are {', '.join(sorted(URL_QUERY_ARGUMENT_PARSERS))})", kind="url")
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password
        kwargs.pop("connection_class", None)
        kwargs["socket_connect_timeout"] = self.connect_timeout
        kwargs["socket_timeout"] = self.command_timeout
        kwargs["client_name"] = self.client_name
        # No CLIENT SETINFO on connect: one command fewer for a least-privilege ACL user to be allowed,
        # and no denied command in the ACL log of every diagnosis run.
        kwargs["driver_info"] = None
        # RESP2, explicitly: redis-py 8 defaults to RESP3, whose handshake adds HELLO and CLIENT
        # MAINT_NOTIFICATIONS (denied for a least-privilege user) and whose reply shapes differ by version.
        kwargs["protocol"] = 2
        if self.is_tls:
            kwargs["ssl"] = True
            kwargs["ssl_ca_certs"] = self.tls_ca
            kwargs["ssl_certfile"] = self.tls_cert
            kwargs["ssl_keyfile"] = self.tls_key
            kwargs["ssl_cert_reqs"] = "none" if self.tls_insecure else "required"
            kwargs["ssl_check_hostname"] = not self.tls_insecure and self.tls_ca is None
        if self.is_unix:
            kwargs["unix_socket_path"] = kwargs.pop("path", None)
            if not kwargs["unix_socket_path"]:
                raise UsageError(f"invalid Redis URL {self.display!r}: no socket path", kind="url")
            kwargs.pop("socket_connect_timeout", None)
        return kwargs

    def _check_url(self) -> None:
        """A Redis URL whose port or database is not a number is a usage error (exit 2), named in one line."""
        if not self.url.startswith(("redis://", "rediss://")):
            return  # unix:// has no port; another scheme is refused by parse_url below
        if _loose_userinfo(self.url.partition("://")[2]) is not None:
            raise UsageError(f"invalid Redis URL {self.display!r}: its user name or password holds '/', '?' or '#': "
                             "percent-encode them (%2F, %3F, %23), or give the password in REDISCLI_AUTH",
                             kind="url")
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - urllib validates the port only when it is read
        except ValueError as exc:
            raise UsageError(f"invalid Redis URL {self.display!r}: {exc} (expected redis://host:port/db)",
                             kind="url") from None
        if parts.port == 0:  # redis-py reads port 0 as "no port": the default 6379, another server perhaps
            raise UsageError(f"invalid Redis URL {self.display!r}: port 0", kind="url")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise UsageError(f"invalid Redis URL {self.display!r}: the database after the host must be a "
                             f"number (redis://host:port/0), not {db[:40]!r}", kind="url")

    def cluster_kwargs(self) -> dict[str, Any]:
        """:meth:`redis_kwargs` for ``RedisCluster`` (sync or asyncio): no db, socket path or client name."""
        kwargs = self.redis_kwargs()
        for unsupported in ("db", "unix_socket_path", "client_name"):
            kwargs.pop(unsupported, None)
        return kwargs

    def for_node(self, host: str, port: int) -> ConnectionOptions:
        """The same credentials and TLS settings, pointed at another node (cluster fan-out, replicas)."""
        scheme = "rediss" if self.is_tls else "redis"
        bracketed = f"[{host}]" if ":" in host else host
        return replace(self, url=f"{scheme}://{bracketed}:{port}/0", password=self.password or self.url_password(),
                       username=self.acl_user)

