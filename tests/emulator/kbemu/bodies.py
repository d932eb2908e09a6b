"""Request parameters: JSON, url-encoded and multipart bodies, plus the query string.

The Storage API accepts all three body encodings on the endpoints kbsyncd uses
(the PHP and Go clients send JSON, the Python client and curl examples send
forms), so every handler reads one flat dict produced here. Form arrays use
the `name[]` notation; values keep their wire type (str from forms, any JSON
type from JSON) and the coercion helpers below normalise them.
"""
import json
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP

from .errors import ApiError


def _merge_pairs(pairs, into):
    for key, value in pairs:
        if key.endswith("[]"):
            into.setdefault(key[:-2], []).append(value)
        else:
            into[key] = value
    return into


def parse_query(query_string):
    return _merge_pairs(urllib.parse.parse_qsl(query_string, keep_blank_values=True), {})


def _parse_multipart(content_type, raw):
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    if not message.is_multipart():
        raise ApiError(400, "validation.failed", "Malformed multipart body")
    pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is None:
            payload = payload.decode("utf-8", "replace")
        pairs.append((name, payload))
    return pairs


def parse_body(content_type, raw):
    """Return the body's parameters as a dict (empty for an empty body)."""
    if not raw:
        return {}
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "application/json" or (not ctype and raw.lstrip()[:1] in (b"{", b"[")):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "validation.failed", f"Invalid JSON body: {exc}")
        if not isinstance(data, dict):
            raise ApiError(400, "validation.failed", "JSON body must be an object")
        return data
    if ctype == "multipart/form-data":
        return _merge_pairs(_parse_multipart(content_type, raw), {})
    text = raw.decode("utf-8", "replace")
    return _merge_pairs(urllib.parse.parse_qsl(text, keep_blank_values=True), {})


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def to_bool(value, default=False):
    """true/false, 1/0, "1"/"0", "true"/"false"; None (JSON null) means the default."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ApiError(400, "validation.failed", f"Invalid boolean value: {value!r}")


def to_int(value, field):
    """Numbers may arrive as JSON numbers or as strings ("dataFileId": "42")."""
    if isinstance(value, bool) or value is None or value == "":
        raise ApiError(400, "validation.failed", f"{field}: This value should not be blank.")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ApiError(400, "validation.failed", f"{field}: This value should be a number.")


def to_list(value):
    """An array param: JSON array, form `x[]`, or a comma-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def to_str(value, default=None):
    if value is None:
        return default
    return str(value)
