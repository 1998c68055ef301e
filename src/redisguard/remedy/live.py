"""Reading what the remedies need from a live server: CONFIG GET by name, INFO, the server's version."""

from __future__ import annotations

import redis
import redis.exceptions as rex

from redisguard.errors import RefusedError
from redisguard.remedy.version import ServerVersion

__all__ = ["SECRET_PARAMETERS", "ConfigNotVisible", "read_config", "server_version"]

SECRET_PARAMETERS = frozenset({"requirepass", "masterauth", "masteruser", "tls-key-file-pass",
                               "tls-client-key-file-pass"})


class ConfigNotVisible(RefusedError):
    """CONFIG GET was refused (ACL, renamed command): a one-line reason."""


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_config(client: redis.Redis, names: list[str]) -> dict[str, str]:
    """``CONFIG GET`` for each name, pipelined; a parameter this version lacks is simply absent."""
    wanted = [name for name in names if name not in SECRET_PARAMETERS]
    pipe = client.pipeline(transaction=False)
    for name in wanted:
        pipe.config_get(name)
    replies = pipe.execute(raise_on_error=False)
    values: dict[str, str] = {}
    errors = [reply for reply in replies if isinstance(reply, rex.RedisError)]
    if errors and len(errors) == len(replies):
        raise ConfigNotVisible(f"CONFIG GET refused: {str(errors[0]).splitlines()[0]}")
    for reply in replies:
        if isinstance(reply, dict):
            for name, value in reply.items():
                if _text(name) not in SECRET_PARAMETERS:
                    values[_text(name)] = _text(value)
    return values


def server_version(client: redis.Redis) -> ServerVersion:
    server = {str(k): str(v) for k, v in client.info("server").items()}
    return ServerVersion.from_info(server)
