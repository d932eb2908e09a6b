"""CSV dialect options as the import endpoints take them, validated at request time.

Request-time validation (400 invalidCsv) is the simplest faithful choice the
notes allow (section 3.3 says the real placement is unconfirmed); a client must
handle both a 400 and a failed job anyway.
"""
from .errors import ApiError


def _one_char(value, field, allow_empty):
    if value == "\\t":  # the two characters backslash-t mean TAB
        value = "\t"
    if len(value) > 1 or (not allow_empty and len(value) == 0):
        raise ApiError(400, "invalidCsv",
                       f"Invalid {field} \"{value}\": it must be a single character"
                       + (" or empty." if allow_empty else "."))
    return value


def dialect_from_params(params):
    """Return {delimiter, enclosure, escapedBy} from request params (None = default)."""
    delimiter = params.get("delimiter")
    delimiter = "," if delimiter is None else _one_char(str(delimiter), "delimiter", False)
    escaped_by = params.get("escapedBy")
    escaped_by = "" if escaped_by is None else _one_char(str(escaped_by), "escapedBy", True)
    enclosure = params.get("enclosure")
    if enclosure is None:
        # An escape character replaces the enclosure: "either enclosure or escapedBy".
        enclosure = "" if escaped_by else '"'
    else:
        enclosure = _one_char(str(enclosure), "enclosure", True)
    if enclosure and escaped_by:
        raise ApiError(400, "invalidCsv",
                       "Either enclosure or escapedBy may be set, not both.")
    if delimiter in (enclosure, escaped_by) or delimiter in "\r\n":
        raise ApiError(400, "invalidCsv", f"Invalid delimiter \"{delimiter}\".")
    return {"delimiter": delimiter, "enclosure": enclosure, "escapedBy": escaped_by}
