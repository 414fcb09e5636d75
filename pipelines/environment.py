"""The process environment the product runs in: no library telemetry, no progress bars.

Called once by the entry points (the CLI's callback, the service's start-up, the test session);
nothing sets environment variables when it is imported. The Makefile exports the same values.
"""

from __future__ import annotations

import os

#: Variables that keep third-party libraries from phoning home or drawing progress bars.
QUIET = {
    "GX_ANALYTICS_ENABLED": "False",  # Great Expectations
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "DO_NOT_TRACK": "1",
}


def no_telemetry() -> None:
    """Set :data:`QUIET` in the environment (values already set by the caller are kept)."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
