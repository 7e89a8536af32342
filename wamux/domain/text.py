"""Rules for text that is stored or echoed: storable strings, display names, file names."""

from __future__ import annotations

import re
import unicodedata

from wamux.domain.errors import ValidationFailed

# NUL cannot be stored everywhere (BSON keys, C strings); a lone surrogate cannot be encoded as UTF-8 at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# C0/C1 controls, DEL, and the Unicode line/paragraph separators: they forge lines in logs, headers and UIs.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_UNSAFE_IN_FILE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029/\\:*?"<>|]+')
_SAFE_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}")
MAX_FILE_NAME = 200


def has_unstorable_chars(value: str) -> bool:
    """The string holds a NUL or an unpaired surrogate."""
    return _UNSTORABLE.search(value) is not None


def check_display_name(field: str, value: str) -> str:
    """Refuse control characters (CR/LF, NUL, ...) and lone surrogates in a name people will see."""
    if _CONTROL.search(value) or has_unstorable_chars(value):
        raise ValidationFailed(f"{field} must not contain control characters", details={field: "invalid"})
    return value


def safe_extension(file_name: str | None) -> str | None:
    """The file name's extension, lower-cased, if it is short and plain (`.pdf`); otherwise None."""
    if not file_name or "." not in file_name:
        return None
    ext = "." + file_name.rsplit(".", 1)[1]
    return ext.lower() if _SAFE_EXTENSION.fullmatch(ext) else None


def safe_file_name(file_name: str | None) -> str | None:
    """A file name fit for storing and for a Content-Disposition header: no path, no controls, at most 200 chars.

    Unsafe characters become `_`; an over-long name keeps its (plain) extension. None when nothing is left.
    """
    if not file_name:
        return None
    base = re.split(r"[/\\]", file_name)[-1]  # a client's path says nothing we should keep
    text = "".join(c for c in unicodedata.normalize("NFC", base) if not 0xD800 <= ord(c) <= 0xDFFF)
    name = _UNSAFE_IN_FILE_NAME.sub("_", text).strip(" ._")
    if len(name) > MAX_FILE_NAME:
        ext = safe_extension(name) or ""
        name = name[: MAX_FILE_NAME - len(ext)].rstrip(" ._") + ext
    return name or None
