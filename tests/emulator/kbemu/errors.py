"""API errors and the JSON error body every failing Storage call answers with."""
import json
import secrets


def new_exception_id():
    return "exception-" + secrets.token_hex(8)


class ApiError(Exception):
    """Raised by handlers; the server turns it into the error body of section 6.1."""

    def __init__(self, status, code, message, headers=None, extra=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self):
        payload = {
            "error": self.message,
            "code": self.code,
            "exceptionId": new_exception_id(),
            "status": "error",
        }
        payload.update(self.extra)
        return json.dumps(payload).encode()


class JobError(Exception):
    """Raised inside a job: the job ends with status "error", HTTP stays 200."""

    def __init__(self, code, message, results=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.results = results


def not_found(code, message):
    return ApiError(404, code, message)


def validation(code, message):
    return ApiError(400, code, message)


def access_denied():
    return ApiError(403, "accessDenied", "You don't have access to the resource.")
