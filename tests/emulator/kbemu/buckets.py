"""Bucket endpoints: list, detail, create, delete (section 2)."""
from . import clock
from .bodies import to_bool, to_str
from .errors import ApiError, JobError, access_denied
from .http_types import empty_response, json_response
from .names import validate_bucket_name, validate_display_name
from .render import bucket_json

STAGES = {"in", "out"}
BACKENDS = {"snowflake", "bigquery", "redshift", "synapse", "exasol", "teradata"}
NO_PREFIX_FEATURE = "disable-legacy-bucket-prefix"


def find_bucket(app, req, bucket_id, level="read"):
    bucket = app.store.buckets.get(bucket_id)
    if bucket is None:
        raise ApiError(404, "storage.buckets.notFound", f"Bucket {bucket_id} not found")
    req.token.require(bucket_id, level)
    return bucket


def list_buckets(app, req):
    with app.store.lock:
        visible = [b for b in app.store.buckets.values() if req.token.permission(b.id)]
        return json_response(200, [bucket_json(app, b) for b in visible])


def bucket_detail(app, req):
    with app.store.lock:
        return json_response(200, bucket_json(app, find_bucket(app, req, req.args[0])))


def create_bucket(app, req):
    if not req.token.can_manage_buckets:
        raise access_denied()
    params = req.params
    name = to_str(params.get("name"), "")
    stage = to_str(params.get("stage"), "in") or "in"
    prefix = "" if NO_PREFIX_FEATURE in app.features else "c-"
    if stage not in STAGES:
        raise ApiError(400, "storage.buckets.validation",
                       f"Invalid data - stage: The value \"{stage}\" is not a valid choice.")
    validate_bucket_name(name, prefix)
    display_name = to_str(params.get("displayName"), name) or name
    validate_display_name(display_name)
    backend = to_str(params.get("backend"), "snowflake") or "snowflake"
    if backend not in BACKENDS:
        raise ApiError(400, "storage.buckets.validation",
                       f"Invalid data - backend: Backend \"{backend}\" is not supported.")
    bucket_id = f"{stage}.{prefix}{name}"
    with app.store.lock:
        if bucket_id in app.store.buckets:
            raise ApiError(400, "storage.buckets.alreadyExists",
                           f"The bucket {prefix}{name} already exists.")
        # Per project, not per stage: the real message says "in project" and
        # the rename check (PUT buckets/{id}) names no stage (README.md).
        if any(b.display_name == display_name for b in app.store.buckets.values()):
            raise ApiError(400, "storage.buckets.alreadyExists",
                           f"The display name \"{display_name}\" already exists in project.")
        from .store import Bucket
        now = clock.iso()
        bucket = Bucket(id=bucket_id, name=prefix + name, display_name=display_name, stage=stage,
                        description=to_str(params.get("description"), "") or "",
                        backend=backend, created=now, color=to_str(params.get("color")),
                        last_change=now)
        app.store.buckets[bucket_id] = bucket
        return json_response(201, bucket_json(app, bucket))


def update_bucket(app, req):
    """PUT /v2/storage/buckets/{id}: displayName, unique in the project like on create."""
    display_name = to_str(req.params.get("displayName"), "")
    validate_display_name(display_name)
    with app.store.lock:
        bucket = find_bucket(app, req, req.args[0], "manage")
        if any(b.display_name == display_name and b.id != bucket.id
               for b in app.store.buckets.values()):
            raise ApiError(400, "storage.buckets.alreadyExists",
                           f"The display name \"{display_name}\" already exists in project.")
        bucket.display_name = display_name
        bucket.last_change = clock.iso()
        return json_response(200, bucket_json(app, bucket))


def delete_bucket(app, req):
    if not req.token.can_manage_buckets:
        raise access_denied()
    bucket_id = req.args[0]
    force = to_bool(req.params.get("force"))
    is_async = to_bool(req.params.get("async"))
    with app.store.lock:
        find_bucket(app, req, bucket_id, "manage")

    def work(job=None):
        with app.store.lock:
            tables = app.store.tables_of(bucket_id)
            if tables and not force:
                raise JobError("buckets.deleteNotEmpty",
                               f"Only empty buckets can be deleted. There are {len(tables)} "
                               "tables in the bucket.")
            for table in tables:
                del app.store.tables[table.id]
            app.store.buckets.pop(bucket_id, None)
        return None

    if is_async:
        job = app.jobs.submit("bucketDelete", f"bucket:{bucket_id}", None,
                              {"bucketId": bucket_id, "force": force}, req.token.creator(), work,
                              stuck=req.stuck_job)
        return json_response(202, job.render("waiting"))
    try:
        work()
    except JobError as exc:
        raise ApiError(400, exc.code, exc.message)
    return empty_response(204)
