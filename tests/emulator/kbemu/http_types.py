"""The request and response objects handlers work with."""
import json

from .bodies import parse_body, parse_query


class Request:
    def __init__(self, method, raw_path, headers, body, base_url):
        self.method = method
        path, _, query_string = raw_path.partition("?")
        self.path = path
        self.query_string = query_string
        self.query = parse_query(query_string)
        self.headers = headers
        self.body = body
        self.base_url = base_url
        self.args = ()
        self.token = None
        self._params = None

    @property
    def params(self):
        """Body parameters overlaid on query parameters (both are accepted)."""
        if self._params is None:
            merged = dict(self.query)
            merged.update(parse_body(self.headers.get("Content-Type"), self.body))
            self._params = merged
        return self._params


class Response:
    def __init__(self, status, body=b"", content_type="application/json", headers=None):
        self.status = status
        self.body = body
        self.headers = {"Content-Type": content_type} if content_type else {}
        self.headers.update(headers or {})


def json_response(status, payload, headers=None):
    return Response(status, json.dumps(payload).encode(), "application/json", headers)


def empty_response(status=204):
    return Response(status, b"", None)
