"""WSGI entry point: `gunicorn wsgi:app` (reads `.env` in the working directory, as the CLI does)."""

import logging
import os
import sys

from dotenv import load_dotenv

from newsletter import create_app
from newsletter.core import rate_limits, web_processes

load_dotenv(".env")
app = create_app()

_limits = app.extensions[rate_limits.EXTENSION_KEY]
_warning = web_processes.memory_limits_warning(
    _limits.storage_url, bool(_limits.limits), web_processes.web_worker_count(sys.argv, os.environ)
)
if _warning:
    logging.getLogger("newsletter.wsgi").warning(_warning)
