"""Schemathesis hooks for `make fuzz` (tests/fuzz_api.py), loaded through SCHEMATHESIS_HOOKS."""

import os
from urllib.parse import quote, urlencode

import schemathesis

#: The user the fuzzer signs in as: deactivating it, or changing its password, would end the
#: run's session, and every later request would be a 401 that tests nothing.
OWN_USER_ID = os.environ.get("FUZZ_OWN_USER_ID", "")


@schemathesis.hook
def filter_path_parameters(context, path_parameters) -> bool:
    if not OWN_USER_ID or not isinstance(path_parameters, dict):
        return True
    return str(path_parameters.get("user_id")) != OWN_USER_ID


#: gunicorn answers a request line longer than its limit_request_line (4094 bytes) itself,
#: with its own "414 URI Too Long" page, before the app sees the request: that is the server's
#: transport limit (see README), not the API's contract, which this run checks. Queries are
#: kept well under it (the path and the HTTP version share the line).
MAX_QUERY_BYTES = 3000


@schemathesis.hook
def filter_query(context, query) -> bool:
    if not query:
        return True
    # Values may be lists or objects: measure both ways and keep the larger.
    encoded = max(len(urlencode(query, doseq=True)), len(quote(str(query))))
    return encoded <= MAX_QUERY_BYTES
