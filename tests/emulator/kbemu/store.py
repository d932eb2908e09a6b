"""The project's in-memory contents: buckets, tables and files, behind one lock."""
import itertools
import threading
from dataclasses import dataclass, field


@dataclass
class Table:
    bucket_id: str
    name: str
    columns: list
    rows: list
    primary_key: list
    created: str
    last_import: str = None
    last_change: str = None
    data_size: int = 0
    display_name: str = None  # None: the name (what a new table gets)
    # Table metadata: dicts {id, key, value, provider, timestamp}, one per
    # (provider, key) (blueprint, "Table Metadata").
    metadata: list = field(default_factory=list)

    @property
    def id(self):
        return f"{self.bucket_id}.{self.name}"

    @property
    def shown_name(self):
        return self.display_name or self.name


@dataclass
class Bucket:
    id: str
    name: str
    display_name: str
    stage: str
    description: str
    backend: str
    created: str
    color: str = None
    last_change: str = None


@dataclass
class StoredFile:
    id: int
    name: str
    size_bytes: int
    is_encrypted: bool
    is_permanent: bool
    is_sliced: bool
    tags: list
    created: str
    creator: dict
    location: dict  # provider-specific: bucket/key, container/blob, ...
    upload_params: dict = field(default_factory=dict)
    owner_token_id: str = None


class Store:
    """The contents of one branch. Every branch's store shares one file-id
    counter: a file id names one file in the whole project."""

    def __init__(self, file_ids=None):
        self.lock = threading.RLock()
        # Ids keep increasing across resets: cloud-side names (roles, containers)
        # derived from them must never be reused within one run.
        self.file_ids = file_ids or itertools.count(1001)
        self.reset()

    def reset(self):
        with self.lock:
            self.buckets = {}
            self.tables = {}
            self.files = {}

    def next_file_id(self):
        with self.lock:
            return next(self.file_ids)

    def tables_of(self, bucket_id):
        return [t for t in self.tables.values() if t.bucket_id == bucket_id]

    def table_named(self, bucket_id, name, other_than=None):
        """The table of the bucket whose id ends in `name` or whose display name
        is `name` (the real create refuses both), ignoring `other_than`."""
        for table in self.tables_of(bucket_id):
            if table.id != other_than and name in (table.name, table.shown_name):
                return table
        return None
