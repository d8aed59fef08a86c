"""WSGI entry point: `gunicorn wsgi:app` (reads `.env` in the working directory, as the CLI does)."""

from dotenv import load_dotenv

from newsletter import create_app

load_dotenv(".env")
app = create_app()
