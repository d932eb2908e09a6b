"""Project-level endpoints: API index, token verify, webalize, job detail."""
from .bodies import to_int, to_list
from .errors import ApiError
from .http_types import json_response
from .names import webalize
from .tokens import verify_payload


def api_index(app, req):
    body = {
        "api": "storage", "version": "v2", "revision": "kbsyncd-emulator",
        "documentation": "https://keboola.docs.apiary.io/",
        "stack": "kbsyncd-emulator",
        "services": [{"id": "storage", "url": app.base_url},
                     {"id": "import", "url": app.base_url}],
        "features": sorted(app.features),
        "urlTemplates": {"job": "/v2/storage/jobs/{jobId}"},
    }
    excluded = set(to_list(req.query.get("exclude")))
    if "components" not in excluded:
        body["components"] = []
    return json_response(200, body)


def token_verify(app, req):
    with app.store.lock:
        bucket_ids = list(app.store.buckets)
    return json_response(200, verify_payload(req.token, app.backend.provider, app.backend.region,
                                             app.features, bucket_ids))


def webalize_column_names(app, req):
    """Accepts {"columnNames": [...]} (current) and a singular "columnName" (older tests)."""
    params = req.params
    if "columnNames" in params:
        raw_names, plural = to_list_keep(params["columnNames"]), True
    elif "columnName" in params:
        raw_names, plural = [str(params["columnName"])], False
    else:
        raise ApiError(400, "storage.validation", "Invalid data - columnNames: This field is missing.")
    result = [webalize(raw) for raw in raw_names]
    return json_response(200, {"columnNames": result} if plural else {"columnName": result[0]})


def to_list_keep(value):
    """Like to_list, but never split on commas: a column name may contain one."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def job_detail(app, req):
    return json_response(200, app.jobs.poll(to_int(req.args[0], "jobId")))
