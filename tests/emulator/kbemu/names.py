"""Naming rules and the column-name sanitiser (keboola-storage-api.md, 2.5 and 3.6)."""
import re
import unicodedata

from .errors import ApiError

MAX_TABLE_NAME = 96
MAX_BUCKET_PART = 96  # the bucket part of an id, including "c-"
MAX_COLUMN_NAME = 64
SYSTEM_COLUMNS = {"oid", "tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"}

_NAME_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
_NOT_WORD = re.compile(r"[^A-Za-z0-9_]+")

# Letters NFKD cannot decompose to ASCII; values follow iconv's //TRANSLIT.
_TRANSLIT = {
    "ß": "ss", "€": "EUR", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "æ": "ae",
    "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "TH",
    "ð": "d", "Ð": "D", "ı": "i", "ħ": "h", "Ħ": "H", "ŀ": "l", "Ŀ": "L",
}


def transliterate(text):
    """ASCII transliteration; characters without one disappear (as with iconv)."""
    out = []
    for char in text:
        if char in _TRANSLIT:
            out.append(_TRANSLIT[char])
            continue
        for piece in unicodedata.normalize("NFKD", char):
            if ord(piece) < 128:
                out.append(piece)
    return "".join(out)


def sanitise_column(raw):
    """What the server stores for a CSV header name; "" when nothing usable is left.

    Runs of characters outside [A-Za-z0-9_] (dashes included) become one "_",
    existing underscore runs are kept, leading/trailing "_" are stripped.
    The length is not cut here: callers decide whether to cut or reject.
    """
    return _NOT_WORD.sub("_", transliterate(raw)).strip("_")


def stored_column(raw):
    """The name a header column is stored under: sanitised, and a system column
    name of the backend (oid, xmin, ... in any case) gets "_" appended, as
    Keboola's sanitiser does on create and import."""
    name = sanitise_column(raw)
    return name + "_" if name.lower() in SYSTEM_COLUMNS else name


def check_header_columns(raw_names, code_prefix):
    """Sanitise a header; reject empty, too long and duplicate names.

    code_prefix is "storage.tables.validation" on create and "csvImport" on import.
    """
    from .errors import JobError

    names, seen = [], {}
    for raw in raw_names:
        name = stored_column(raw)
        if not name or len(name) > MAX_COLUMN_NAME:
            raise JobError(
                "storage.tables.validation.invalidColumnName",
                f"Invalid column name '{raw}'. Only alphanumeric characters, dash and "
                f"underscores are allowed and the name must be 1-{MAX_COLUMN_NAME} characters long.")
        key = name.lower()
        if key in seen:
            raise JobError(
                f"{code_prefix}.duplicateColumnNames",
                f"There are duplicate columns in CSV file: \"{seen[key]}\" and \"{raw}\" "
                f"(column names are unique case-insensitively, after sanitising).")
        seen[key] = raw
        names.append(name)
    return names


def validate_table_name(name):
    if not name:
        raise ApiError(400, "storage.tables.validation", "Invalid table name: name must not be empty.")
    if len(name) > MAX_TABLE_NAME:
        raise ApiError(400, "storage.tables.validation",
                       f"'{name}' is more than {MAX_TABLE_NAME} characters long")
    if not _NAME_CHARS.match(name) or name.startswith("_"):
        raise ApiError(
            400, "storage.tables.validation",
            f"Invalid table name: '{name}' contains not allowed characters. Only alphanumeric "
            "characters dash and underscores are allowed.")


def validate_table_display_name(display_name):
    """Messages as the PHP client's CreateTableTest shows them."""
    if display_name.startswith("_"):
        raise ApiError(400, "storage.tables.validation",
                       "Invalid data - displayName: Cannot start with underscore.")
    if not display_name or not _NAME_CHARS.match(display_name):
        raise ApiError(
            400, "storage.tables.validation",
            "Invalid data - displayName: Only alphanumeric characters dash and underscores are allowed.")


def validate_bucket_name(name, prefix):
    if not name or not _NAME_CHARS.match(name):
        raise ApiError(
            400, "storage.buckets.validation",
            "Invalid data - name: Only alphanumeric characters dash and underscores are allowed.")
    if len(prefix + name) > MAX_BUCKET_PART:
        raise ApiError(400, "storage.buckets.validation",
                       f"Invalid data - name: must be at most {MAX_BUCKET_PART} characters long.")


def validate_display_name(display_name):
    if not display_name or not _NAME_CHARS.match(display_name):
        raise ApiError(
            400, "storage.buckets.validation",
            "Invalid data - displayName: Only alphanumeric characters dash and underscores are allowed.")


def webalize(raw):
    """The webalize helper: sanitise and cut to 64, nothing more. It no longer
    validates: a name with nothing left is "" and a system name (oid) comes
    back unchanged (the "_" is added only when a table stores it)."""
    return sanitise_column(raw)[:MAX_COLUMN_NAME]
