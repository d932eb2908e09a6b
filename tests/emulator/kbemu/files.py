"""File endpoints: prepare, detail, refresh (section 4)."""
import re

from . import clock
from .bodies import to_bool, to_int, to_list, to_str
from .errors import ApiError, access_denied
from .http_types import json_response
from .store import StoredFile

MAX_AGE_DAYS = 15


def normalise_file_name(name):
    """Lower-case, characters outside [a-z0-9._-] become "_"; ".gz" survives.

    The blueprint's example lower-cases; the exact rules are unconfirmed, so the
    emulator normalises to make any client that relies on the name visible.
    """
    return re.sub(r"[^a-z0-9._-]+", "_", name.lower())


def file_json(app, stored):
    body = {
        "id": stored.id, "created": stored.created, "name": stored.name,
        "sizeBytes": stored.size_bytes, "isPublic": False, "isSliced": stored.is_sliced,
        "isEncrypted": stored.is_encrypted, "isExpired": False,
        "provider": app.backend.provider, "region": app.backend.region,
        "url": f"{app.base_url}/_emulator/files/{stored.id}", "tags": list(stored.tags),
        "maxAgeDays": None if stored.is_permanent else MAX_AGE_DAYS,
        "runId": None, "runIds": [], "creatorToken": stored.creator, "federationToken": True,
    }
    return body


def prepare_file(app, req):
    params = req.params
    name = to_str(params.get("name"), "")
    if not name:
        raise ApiError(400, "storage.validation", "Invalid data - name: This value should not be blank.")
    size = params.get("sizeBytes")
    stored = StoredFile(
        id=app.store.next_file_id(), name=normalise_file_name(name),
        size_bytes=to_int(size, "sizeBytes") if size not in (None, "") else None,
        is_encrypted=to_bool(params.get("isEncrypted"), True),
        is_permanent=to_bool(params.get("isPermanent"), False),
        is_sliced=to_bool(params.get("isSliced"), False),
        tags=list(dict.fromkeys(to_list(params.get("tags")))),
        created=clock.iso(), creator=req.token.creator(), location={})
    stored.owner_token_id = req.token.id
    upload = app.backend.prepare(stored, app.project_id)
    with app.store.lock:
        app.store.files[stored.id] = stored
    body = file_json(app, stored)
    body.update(upload)
    return json_response(201, body)  # the blueprint says 201; clients accept any 2xx


def find_file(app, req):
    file_id = to_int(req.args[0], "fileId")
    stored = app.store.files.get(file_id)
    if stored is None:
        raise ApiError(404, "storage.files.notFound", f"File {file_id} not found")
    if not req.token.can_read_all_files and stored.owner_token_id != req.token.id:
        raise access_denied()
    return stored


def file_detail(app, req):
    stored = find_file(app, req)
    body = file_json(app, stored)
    if to_bool(req.query.get("federationToken")):
        body.update(app.backend.read_credentials(stored))
    return json_response(200, body)


def refresh_file(app, req):
    stored = find_file(app, req)
    if not hasattr(app.backend, "refresh"):
        raise ApiError(400, "storage.files.refreshNotSupported",
                       "Refreshing upload credentials is supported only for GCS file storage.")
    body = file_json(app, stored)
    body.update(app.backend.refresh(stored))
    return json_response(200, body)
