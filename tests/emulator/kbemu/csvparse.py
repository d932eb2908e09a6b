"""An RFC 4180 reader with a configurable delimiter, enclosure and escape character.

Records end at LF or CRLF outside enclosures; enclosed values may hold
delimiters and newlines; a doubled enclosure is a literal one; with escapedBy
(and no enclosure) the escape character makes the next character literal.
Stricter than most readers on purpose: text after a closing enclosure and an
unterminated enclosure are errors, as they are for Snowflake's loader.
"""


import csv
import io
import re

_LONE_CR = re.compile(r"\r(?!\n)")


class CsvSyntaxError(Exception):
    def __init__(self, message, line):
        super().__init__(f"{message} (line {line})")
        self.line = line


def parse_records(text, delimiter=",", enclosure='"', escaped_by=""):
    """Return a list of records (lists of str). A trailing newline adds no record.

    The csv module (strict mode) does the work when it agrees with the rules
    above, which is always unless a CR stands alone somewhere: csv would take
    it for a line end, so such text goes through the reference reader below,
    which accepts it inside enclosures and refuses it elsewhere.
    """
    if _LONE_CR.search(text):
        return parse_records_reference(text, delimiter, enclosure, escaped_by)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        quotechar=enclosure or None, escapechar=escaped_by or None,
                        quoting=csv.QUOTE_MINIMAL if enclosure else csv.QUOTE_NONE,
                        doublequote=True, strict=True)
    try:
        # csv gives [] for a blank line; the reference reader gives one empty field.
        return [record or [""] for record in reader]
    except csv.Error as exc:
        raise CsvSyntaxError(str(exc), reader.line_num)


def parse_records_reference(text, delimiter=",", enclosure='"', escaped_by=""):
    """The character-by-character reader: slow, but the definition of the rules."""
    records, record, field = [], [], []
    i, n, line = 0, len(text), 1
    at_field_start = True
    while i < n:
        char = text[i]
        if at_field_start and enclosure and char == enclosure:
            i, line = _read_enclosed(text, i + 1, enclosure, field, line)
            if i < n and text[i] not in (delimiter, "\n") and text[i:i + 2] != "\r\n":
                raise CsvSyntaxError("Unexpected character after a closing enclosure", line)
            at_field_start = False
            continue
        at_field_start = False
        if escaped_by and char == escaped_by and i + 1 < n:
            field.append(text[i + 1])
            line += text[i + 1] == "\n"
            i += 2
        elif char == delimiter:
            record.append("".join(field))
            field, at_field_start = [], True
            i += 1
        elif char == "\r" and not text.startswith("\r\n", i):
            raise CsvSyntaxError("CR-only (Mac OS 9) line breaks are not supported", line)
        elif char == "\n" or text.startswith("\r\n", i):
            record.append("".join(field))
            records.append(record)
            record, field, at_field_start = [], [], True
            i += 1 if char == "\n" else 2
            line += 1
        else:
            field.append(char)
            i += 1
    if field or record or not at_field_start:
        record.append("".join(field))
        records.append(record)
    return records


def _read_enclosed(text, i, enclosure, field, line):
    start_line = line
    n = len(text)
    while i < n:
        char = text[i]
        if char == enclosure:
            if i + 1 < n and text[i + 1] == enclosure:
                field.append(enclosure)
                i += 2
                continue
            return i + 1, line
        line += char == "\n"
        field.append(char)
        i += 1
    raise CsvSyntaxError("Unterminated enclosure", start_line)


def to_rfc4180(columns, rows):
    """Comma, double quote, every value enclosed (like Keboola exports), LF line ends."""
    def quote(value):
        return '"' + (value or "").replace('"', '""') + '"'
    lines = [",".join(quote(c) for c in columns)]
    lines.extend(",".join(quote(v) for v in row) for row in rows)
    return "\n".join(lines) + "\n"
