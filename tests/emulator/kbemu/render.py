"""JSON shapes of buckets and tables (sections 2.1 and 3.1/3.2)."""


def bucket_json(app, bucket, with_tables_count=False):
    store = app.store
    tables = store.tables_of(bucket.id)
    return {
        "uri": f"{app.base_url}/v2/storage/buckets/{bucket.id}", "id": bucket.id,
        "name": bucket.name, "displayName": bucket.display_name, "stage": bucket.stage,
        "description": bucket.description, "tables": f"{app.base_url}/v2/storage/buckets/{bucket.id}/tables",
        "created": bucket.created, "lastChangeDate": bucket.last_change, "updated": None,
        "isReadOnly": False, "dataSizeBytes": sum(t.data_size for t in tables),
        "rowsCount": sum(len(t.rows) for t in tables), "isMaintenance": False,
        "backend": bucket.backend, "sharing": None, "isLinkedBucket": False,
        "owner": None, "color": bucket.color, "backendPath": [f"KBC_EMULATOR_{bucket.id}"],
        "attributes": [], "metadata": [], "linkedBy": [],
    }


def bucket_brief(bucket):
    return {"id": bucket.id, "name": bucket.name, "displayName": bucket.display_name,
            "stage": bucket.stage, "description": bucket.description, "backend": bucket.backend,
            "created": bucket.created}


def table_json(app, table, with_columns=True, with_bucket=True, with_metadata=True):
    body = {
        "uri": f"{app.base_url}/v2/storage/tables/{table.id}", "id": table.id,
        "name": table.name, "displayName": table.shown_name, "transactional": False,
        "primaryKey": list(table.primary_key), "created": table.created,
        "lastImportDate": table.last_import, "lastChangeDate": table.last_change,
        "rowsCount": len(table.rows), "dataSizeBytes": table.data_size,
        "isAlias": False, "isAliasable": True, "isTyped": False, "tableType": "table",
        "path": f"/{table.id}", "metadata": [dict(m) for m in table.metadata], "columnMetadata": {},
    }
    if not with_metadata:  # lists show metadata when include names it (or is absent)
        del body["metadata"]
    if with_columns:
        body["columns"] = list(table.columns)
    if with_bucket:
        bucket = app.store.buckets.get(table.bucket_id)
        if bucket is not None:
            body["bucket"] = bucket_brief(bucket)
    return body
