"""What a tableCreate / tableImport job does with an uploaded file (sections 3.3-3.5, 7).

Content problems surface inside the job (status "error", HTTP 200 on the job
URL): file not uploaded, bad gzip, invalid UTF-8, CSV syntax, header names,
missing columns, ragged rows. Errors about the data itself use the code
csvImport.loadError with a message starting "Load error:" (the real code is
unconfirmed; the prefix is what the notes document).
"""
import gzip
import zlib

from . import clock
from .csvparse import CsvSyntaxError, parse_records
from .errors import JobError
from .names import check_header_columns

BOM = "\ufeff"


def _load_error(message):
    return JobError("csvImport.loadError", f"Load error: {message}")


def read_upload(app, stored, job):
    """The file's bytes as text: fetched from the provider, gunzipped iff the name ends in .gz."""
    data = app.backend.read(stored)
    if data is None:
        raise JobError("storage.fileNotUploaded",
                       f"File \"{stored.name}\" (id {stored.id}) was prepared but never uploaded.")
    compressed = stored.name.endswith(".gz")
    job.metrics.update(inCompressed=compressed, inBytes=len(data))
    if compressed:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise _load_error(f"file \"{stored.name}\" is named .gz but is not valid gzip data.")
    job.metrics["inBytesUncompressed"] = len(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _load_error(f"invalid UTF-8 byte at offset {exc.start}; only UTF-8 is accepted.")
    return text[1:] if text.startswith(BOM) else text


def parse_upload(text, dialect):
    try:
        records = parse_records(text, dialect["delimiter"], dialect["enclosure"],
                                dialect["escapedBy"])
    except CsvSyntaxError as exc:
        raise _load_error(str(exc))
    if len(records) == 1 and records[0] == [""]:
        return []  # only a line break: as empty as an empty file
    return records


def check_row_lengths(records, width, first_line):
    for index, record in enumerate(records):
        if len(record) != width:
            raise _load_error(
                f"Number of columns in file ({len(record)}) does not match that of the "
                f"corresponding table ({width}), record {index + first_line}.")


def create_table_work(app, stored, dialect, bucket_id, name, primary_key):
    """The work of a tableCreate job: returns the new table object."""
    def work(job):
        records = parse_upload(read_upload(app, stored, job), dialect)
        if not records:
            raise JobError("storage.tables.validation.noColumns",
                           "No columns found in the CSV file: the file is empty.")
        columns = check_header_columns(records[0], "storage.tables.validation")
        missing_pk = [c for c in primary_key if c not in columns]
        if missing_pk:
            raise JobError("storage.tables.validation.invalidPrimaryKeyColumns",
                           f"Primary key columns {', '.join(missing_pk)} are not in the table.")
        rows = records[1:]
        check_row_lengths(rows, len(columns), 2)
        from .store import Table
        with app.store.lock:
            if bucket_id not in app.store.buckets:
                raise JobError("storage.buckets.notFound", f"Bucket {bucket_id} not found")
            existing = app.store.table_named(bucket_id, name)
            if existing is not None:
                raise JobError("storage.buckets.tableAlreadyExists",
                               f"The table \"{existing.name}\" in the bucket already has the same "
                               f"display name \"{name}\".")
            now = clock.iso()
            table = Table(bucket_id=bucket_id, name=name, columns=columns, rows=rows,
                          primary_key=primary_key, created=now, last_import=now, last_change=now,
                          data_size=job.metrics["inBytesUncompressed"])
            app.store.tables[table.id] = table
            from .render import table_json
            return table_json(app, table)
    return work


def _missing_columns_error(missing, expected, delimiter):
    return JobError(
        "csvImport.columnsNotMatch",
        f"Some columns are missing in the csv file. Missing columns: {','.join(missing)}. "
        f"Expected columns: {','.join(expected)}. Please check if the expected delimiter "
        f"\"{delimiter}\" is used in the csv file.",
        results={"missingColumns": missing, "expectedColumns": expected})


def import_table_work(app, stored, dialect, table_id, options):
    """The work of a tableImport job (a full load truncates first); returns the summary."""
    def work(job):
        table = app.store.tables.get(table_id)
        if table is None:
            raise JobError("storage.tables.notFound", f"Table {table_id} not found")
        records = parse_upload(read_upload(app, stored, job), dialect)
        skip = options["ignoredLinesCount"]
        if options["columns"] or options["withoutHeaders"]:
            header = options["columns"] or list(table.columns)
            body = records[skip:]
        else:
            header = records[skip] if len(records) > skip else []
            body = records[skip + 1:]
        if not header:
            raise _missing_columns_error(list(table.columns), list(table.columns),
                                         dialect["delimiter"])
        names = check_header_columns(header, "csvImport")
        missing = [c for c in table.columns if c not in names]  # case-sensitive, like Snowflake
        if missing:
            raise _missing_columns_error(missing, list(table.columns), dialect["delimiter"])
        check_row_lengths(body, len(names), skip + 2)
        with app.store.lock:
            extra = [c for c in names if c not in table.columns]
            lowered = {c.lower() for c in table.columns}
            clash = [c for c in extra if c.lower() in lowered]
            if clash:
                raise JobError("storage.tables.columnAlreadyExists",
                               f"Column \"{clash[0]}\" already exists in the table "
                               "(names are unique case-insensitively).")
            columns = list(table.columns) + extra
            position = {c: i for i, c in enumerate(names)}
            loaded = [[row[position[c]] if c in position else "" for c in columns] for row in body]
            if options["incremental"]:
                old = [r + [""] * (len(columns) - len(r)) for r in table.rows]
                loaded = old + loaded
            now = clock.iso()
            table.columns, table.rows = columns, loaded
            table.last_import = table.last_change = now
            table.data_size = job.metrics["inBytesUncompressed"]
        return {"importedColumns": names, "warnings": [], "transaction": None,
                "totalRowsCount": len(loaded), "totalDataSizeBytes": table.data_size,
                "newColumns": extra}
    return work
