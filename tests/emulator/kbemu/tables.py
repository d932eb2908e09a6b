"""Table endpoints: lists, detail, delete, tables-async, import-async, data-preview (section 3)."""
from .bodies import to_bool, to_int, to_list, to_str
from .buckets import find_bucket
from .csvdialect import dialect_from_params
from .csvparse import to_rfc4180
from .errors import ApiError
from .http_types import Response, empty_response, json_response
from .importer import create_table_work, import_table_work
from .names import validate_table_display_name, validate_table_name
from .render import table_json

PREVIEW_DEFAULT_LIMIT = 100
PREVIEW_MAX_LIMIT = 1000


def _includes(req):
    return set(to_list(req.query.get("include")))


def _with_metadata(req):
    """The lists' default include is metadata (blueprint); a given include must name it."""
    return req.query.get("include") is None or "metadata" in _includes(req)


def list_bucket_tables(app, req):
    with app.store.lock:
        bucket = find_bucket(app, req, req.args[0])
        with_columns = "columns" in _includes(req)
        tables = app.store.tables_of(bucket.id)
        return json_response(200, [table_json(app, t, with_columns, with_bucket=False,
                                              with_metadata=_with_metadata(req)) for t in tables])


def list_all_tables(app, req):
    includes = _includes(req)
    with app.store.lock:
        tables = [t for t in app.store.tables.values() if req.token.permission(t.bucket_id)]
        return json_response(200, [table_json(app, t, "columns" in includes, "buckets" in includes,
                                              _with_metadata(req)) for t in tables])


def find_table(app, req, level="read"):
    table_id = req.args[0]
    table = app.store.tables.get(table_id)
    if table is None:
        bucket_id = table_id.rpartition(".")[0]
        raise ApiError(404, "storage.tables.notFound",
                       f"The table \"{table_id.rpartition('.')[2]}\" was not found in the bucket "
                       f"\"{bucket_id}\".")
    req.token.require(table.bucket_id, level)
    return table


def table_detail(app, req):
    with app.store.lock:
        return json_response(200, table_json(app, find_table(app, req)))


def delete_table(app, req):
    """DELETE /v2/storage/tables/{id}: the synchronous form (204)."""
    with app.store.lock:
        table = find_table(app, req, "write")
        del app.store.tables[table.id]
    return empty_response(204)


def _uploaded_file(app, req):
    file_id = to_int(req.params.get("dataFileId"), "dataFileId")
    stored = app.store.files.get(file_id)
    if stored is None:
        raise ApiError(404, "storage.files.notFound", f"File {file_id} not found")
    return stored


def table_exists_error(existing, name, status=400):
    """The real message names the table that holds the name (PHP CreateTableTest)."""
    return ApiError(status, "storage.buckets.tableAlreadyExists",
                    f"The table \"{existing.name}\" in the bucket already has the same display "
                    f"name \"{name}\".")


def update_table(app, req):
    """PUT /v2/storage/tables/{id}: displayName (unique in the bucket, as create checks)."""
    display_name = to_str(req.params.get("displayName"), "")
    validate_table_display_name(display_name)
    with app.store.lock:
        table = find_table(app, req, "write")
        other = app.store.table_named(table.bucket_id, display_name, other_than=table.id)
        if other is not None:
            raise table_exists_error(other, display_name)
        table.display_name = display_name
        return json_response(200, table_json(app, table))


def create_table_async(app, req):
    params = req.params
    with app.store.lock:
        bucket = find_bucket(app, req, req.args[0], "write")
    name = to_str(params.get("name"), "")
    validate_table_name(name)
    dialect = dialect_from_params(params)
    primary_key = to_list(params.get("primaryKey"))
    stored = _uploaded_file(app, req)
    with app.store.lock:
        existing = app.store.table_named(bucket.id, name)
        if existing is not None:
            raise table_exists_error(existing, name)
    job_params = {"name": name, "primaryKey": primary_key, "params": dialect,
                  "source": {"type": "file", "fileId": stored.id}, "queue": "main"}
    job = app.jobs.submit("tableCreate", f"table:{bucket.id}.{name}", None, job_params,
                          req.token.creator(),
                          create_table_work(app, stored, dialect, bucket.id, name, primary_key),
                          stuck=req.stuck_job)
    return json_response(202, job.render("waiting"))


def import_async(app, req):
    params = req.params
    with app.store.lock:
        table = find_table(app, req, "write")
    dialect = dialect_from_params(params)
    options = {
        "incremental": to_bool(params.get("incremental")),
        "withoutHeaders": to_bool(params.get("withoutHeaders")),
        "columns": to_list(params.get("columns")),
        "ignoredLinesCount": to_int(params.get("ignoredLinesCount") or 0, "ignoredLinesCount"),
    }
    with app.store.lock:
        if app.expire_files_on_import > 0:  # emulator config: the file expired meanwhile
            app.expire_files_on_import -= 1
            app.store.files.pop(to_int(params.get("dataFileId"), "dataFileId"), None)
    stored = _uploaded_file(app, req)
    job_params = {"params": dict(dialect, **options),
                  "source": {"type": "file", "fileId": stored.id}, "queue": "main"}
    job = app.jobs.submit("tableImport", f"table:{table.id}", table.id, job_params,
                          req.token.creator(), import_table_work(app, stored, dialect, table.id, options),
                          stuck=req.stuck_job)
    return json_response(202, job.render("waiting"))


def data_preview(app, req):
    with app.store.lock:
        table = find_table(app, req)
        columns, rows = list(table.columns), [list(r) for r in table.rows]
    limit = to_int(req.query.get("limit") or PREVIEW_DEFAULT_LIMIT, "limit")
    if limit < 1 or limit > PREVIEW_MAX_LIMIT:
        raise ApiError(400, "storage.validation",
                       f"Invalid limit: must be between 1 and {PREVIEW_MAX_LIMIT}.")
    wanted = to_list(req.query.get("columns"))
    if wanted:
        unknown = [c for c in wanted if c not in columns]
        if unknown:
            raise ApiError(400, "storage.validation", f"Unknown columns: {', '.join(unknown)}")
        index = [columns.index(c) for c in wanted]
        columns, rows = wanted, [[r[i] for i in index] for r in rows]
    rows = rows[:limit]
    if req.query.get("format") == "json":
        return json_response(200, {"columns": columns, "rows": [
            [{"columnName": c, "value": v, "isTruncated": False} for c, v in zip(columns, r)]
            for r in rows]})
    return Response(200, to_rfc4180(columns, rows).encode(), "text/csv; charset=utf-8")


def table_dump(app, table_id, store=None):
    """Emulator-only: the whole table as RFC 4180 CSV, header first (production's
    unless `store`, a branch's, is given)."""
    store = store or app.store
    with store.lock:
        table = store.tables.get(table_id)
        if table is None:
            raise ApiError(404, "storage.tables.notFound", f"Table {table_id} not found")
        return Response(200, to_rfc4180(table.columns, table.rows).encode(), "text/csv; charset=utf-8")


