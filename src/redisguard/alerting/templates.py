"""Go-template pieces for alert annotations: where an alert is, its value, and a command safe to paste.

Label values that come from the server (stream, group and node names) are hostile: they are shown with
Go's ``%q`` (quoted, control characters escaped). The instance label becomes a redis:// URL (unless it is
one already) inside POSIX single quotes, every ``'`` in it written as ``'\\''``, so the command is one
shell word whatever the label holds.
"""

from __future__ import annotations

__all__ = ["WHERE", "doctor", "duration", "group_of_stream", "integer", "percent", "size", "streams"]

_URL = '(reReplaceAll "^([^/]*)$" "redis://$1" $labels.instance)'
_QUOTED_URL = "'{{ reReplaceAll \"'\" \"'\\\\''\" " + _URL + " }}'"

WHERE = '{{ $labels.instance }}{{ with $labels.node }} node {{ printf "%q" . }}{{ end }}'


def doctor() -> str:
    return f"redisguard doctor {_QUOTED_URL}"


def streams() -> str:
    return f"redisguard streams {_QUOTED_URL}"


def group_of_stream() -> str:
    return 'group {{ printf "%q" $labels.group }} of stream {{ printf "%q" $labels.stream }}'


def percent() -> str:
    return "{{ $value | humanizePercentage }}"


def duration() -> str:
    return "{{ $value | humanizeDuration }}"


def size() -> str:
    return "{{ $value | humanize1024 }}B"


def integer() -> str:
    return '{{ printf "%.0f" $value }}'
