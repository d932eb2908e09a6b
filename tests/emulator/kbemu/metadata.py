"""Table metadata (blueprint, "Group Metadata" / "Table Metadata").

POST /v2/storage/tables/{id}/metadata sets key/value pairs of one provider:
a (provider, key) already there gets the new value and timestamp. The answer
lists all of the table's metadata, in two shapes: a JSON request gets the
current form {"metadata": [...], "columnsMetadata": {...}}, a form request
the deprecated plain array (the PHP client keeps to forms for that reason:
Metadata::postTableMetadata). GET lists them.
"""
import itertools
import re
import threading

from . import clock
from .errors import ApiError
from .http_types import empty_response, json_response
from .tables import find_table

_ids = itertools.count(19501)
_ids_lock = threading.Lock()
_FORM_ENTRY = re.compile(r"^metadata\[(\d+)\]\[(key|value)\]$")
MAX_KEY = 255  # the blueprint names no limit; assumed, and marked in README.md


def _entries(params):
    """The metadata objects of a JSON body (a list) or a form (metadata[i][key])."""
    raw = params.get("metadata")
    if isinstance(raw, list):
        return raw
    by_index = {}
    for name, value in params.items():
        found = _FORM_ENTRY.match(name)
        if found:
            by_index.setdefault(int(found.group(1)), {})[found.group(2)] = value
    return [by_index[i] for i in sorted(by_index)]


def _validate(provider, entries):
    if not provider:
        raise ApiError(400, "storage.metadata.invalidProvider",
                       "Invalid data - provider: This value should not be blank.")
    if not entries:
        raise ApiError(400, "storage.metadata.validation",
                       "At least one of metadata or columnsMetadata is required.")
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("key"):
            raise ApiError(400, "storage.metadata.validation",
                           "Invalid data - metadata[key]: This value should not be blank.")
        if len(str(entry["key"])) > MAX_KEY:
            raise ApiError(400, "storage.metadata.validation",
                           f"Invalid data - metadata[key]: at most {MAX_KEY} characters.")
        if entry.get("value") is None:
            raise ApiError(400, "storage.metadata.validation",
                           "Invalid data - metadata[value]: This value should not be null.")


def list_table_metadata(app, req):
    with app.store.lock:
        table = find_table(app, req)
        return json_response(200, [dict(m) for m in table.metadata])


def delete_table_metadata(app, req):
    """DELETE tables/{id}/metadata/{metadata_id}: 204."""
    with app.store.lock:
        table = find_table(app, req, "write")
        held = next((m for m in table.metadata if m["id"] == req.args[1]), None)
        if held is None:
            raise ApiError(404, "storage.metadata.notFound", f"Metadata with id \"{req.args[1]}\" not found.")
        table.metadata.remove(held)
    return empty_response(204)


def post_table_metadata(app, req):
    params = req.params
    provider = str(params.get("provider") or "")
    entries = _entries(params)
    _validate(provider, entries)
    with app.store.lock:
        table = find_table(app, req, "write")
        now = clock.iso()
        for entry in entries:
            key, value = str(entry["key"]), str(entry["value"])
            held = next((m for m in table.metadata if m["provider"] == provider and m["key"] == key), None)
            if held is None:
                with _ids_lock:
                    held = {"id": str(next(_ids)), "key": key, "provider": provider}
                table.metadata.append(held)
            held["value"], held["timestamp"] = value, now
        listed = [dict(m) for m in table.metadata]
    is_json = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower() == "application/json"
    return json_response(201, {"metadata": listed, "columnsMetadata": {}} if is_json else listed)
