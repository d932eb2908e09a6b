"""The route table: (method, path pattern, handler, needs a Storage token)."""
import re

from . import branches, buckets, files, metadata, project, tables

_ID = r"([^/]+)"

ROUTES = [
    ("GET", r"/v2/storage/?", project.api_index, False),
    ("GET", r"/v2/storage/tokens/verify", project.token_verify, True),
    ("GET", r"/v2/storage/buckets", buckets.list_buckets, True),
    ("POST", r"/v2/storage/buckets", buckets.create_bucket, True),
    ("GET", rf"/v2/storage/buckets/{_ID}", buckets.bucket_detail, True),
    ("PUT", rf"/v2/storage/buckets/{_ID}", buckets.update_bucket, True),
    ("DELETE", rf"/v2/storage/buckets/{_ID}", buckets.delete_bucket, True),
    ("GET", rf"/v2/storage/buckets/{_ID}/tables", tables.list_bucket_tables, True),
    ("POST", rf"/v2/storage/buckets/{_ID}/tables-async", tables.create_table_async, True),
    ("GET", r"/v2/storage/tables", tables.list_all_tables, True),
    ("GET", rf"/v2/storage/tables/{_ID}", tables.table_detail, True),
    ("PUT", rf"/v2/storage/tables/{_ID}", tables.update_table, True),
    ("DELETE", rf"/v2/storage/tables/{_ID}", tables.delete_table, True),
    ("POST", rf"/v2/storage/tables/{_ID}/import-async", tables.import_async, True),
    ("GET", rf"/v2/storage/tables/{_ID}/metadata", metadata.list_table_metadata, True),
    ("POST", rf"/v2/storage/tables/{_ID}/metadata", metadata.post_table_metadata, True),
    ("DELETE", rf"/v2/storage/tables/{_ID}/metadata/{_ID}", metadata.delete_table_metadata, True),
    ("GET", rf"/v2/storage/tables/{_ID}/data-preview", tables.data_preview, True),
    ("POST", r"/v2/storage/webalize/column-names", project.webalize_column_names, True),
    ("POST", r"/v2/storage/files/prepare", files.prepare_file, True),
    ("GET", rf"/v2/storage/files/{_ID}", files.file_detail, True),
    ("PUT", rf"/v2/storage/files/{_ID}/refresh", files.refresh_file, True),
    ("GET", rf"/v2/storage/jobs/{_ID}", project.job_detail, True),
    ("GET", r"/v2/storage/dev-branches/?", branches.list_branches, True),
    ("POST", r"/v2/storage/dev-branches/?", branches.create_branch, True),
    ("GET", rf"/v2/storage/dev-branches/{_ID}", branches.branch_detail, True),
    ("DELETE", rf"/v2/storage/dev-branches/{_ID}", branches.delete_branch, True),
]

# Paths that never take a branch prefix: jobs are the project's (the PHP
# client's BranchAwareClient leaves them unscoped) and branches themselves.
_UNSCOPED = re.compile(r"^/v2/storage/(jobs|dev-branches)(/|$)")
_BRANCH_PREFIX = re.compile(r"^/v2/storage/branch/([^/]+)(/.*)$")


def split_branch(path):
    """(branch id as written or None, the path without the branch prefix).
    A prefixed path to an unscoped resource is returned unchanged, so it
    finds no route (404) as it would not on the real server."""
    found = _BRANCH_PREFIX.match(path)
    if not found:
        return None, path
    rest = "/v2/storage" + found.group(2)
    if _UNSCOPED.match(rest):
        return None, path
    return found.group(1), rest

_COMPILED = [(m, re.compile(p + r"$"), h, auth) for m, p, h, auth in ROUTES]


def match(method, path):
    """(handler, args, needs_token) or raises LookupError(allowed methods)."""
    allowed = []
    for route_method, pattern, handler, needs_token in _COMPILED:
        found = pattern.match(path)
        if found:
            if route_method == method:
                return handler, found.groups(), needs_token
            allowed.append(route_method)
    raise LookupError(allowed)
