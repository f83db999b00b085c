"""Shared test configuration, for the tests and the notebooks run by nbval."""

import os

# Tests must never reach a real service, whatever the developer's shell holds.
for _var in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"):
    os.environ.pop(_var, None)
