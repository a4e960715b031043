"""Schemathesis hooks for `make fuzz` (tests/fuzz_api.py), loaded through SCHEMATHESIS_HOOKS."""

import os

import schemathesis

#: The user the fuzzer signs in as: deactivating it, or changing its password, would end the
#: run's session, and every later request would be a 401 that tests nothing.
OWN_USER_ID = os.environ.get("FUZZ_OWN_USER_ID", "")


@schemathesis.hook
def filter_path_parameters(context, path_parameters) -> bool:
    if not OWN_USER_ID or not isinstance(path_parameters, dict):
        return True
    return str(path_parameters.get("user_id")) != OWN_USER_ID
