"""The functions the database's gate triggers call on SQLite, which has neither a hash function nor
Unicode character classes in SQL (PostgreSQL has both; migration 0010 defines the same functions
there in SQL).

They are registered on every connection Django opens. A connection that Django did not open (the
`sqlite3` shell) lacks them, so every trigger that calls them fails: from a raw shell, versions,
decisions and flags of the gate cannot be written at all. On SQLite anyone who can write the file can
also drop the triggers; the keyed audit chain is what exposes that (see the README's security section).

`reviewapp_flushing()` is 1 only while Django's test runner empties the tables (tests/conftest.py):
SQLite has no TRUNCATE, so the runner's flush is a DELETE that the history triggers would refuse.
"""

import contextlib
import hashlib
from contextvars import ContextVar

from reviewapp.models import letters_and_digits

_flushing = ContextVar("reviewapp_flushing", default=False)


def register(dbapi_connection) -> None:
    dbapi_connection.create_function("reviewapp_sha256", 1, _sha256, deterministic=True)
    dbapi_connection.create_function("reviewapp_alnum", 1, _alnum, deterministic=True)
    dbapi_connection.create_function("reviewapp_flushing", 0, lambda: int(_flushing.get()))


@contextlib.contextmanager
def flushing():
    token = _flushing.set(True)
    try:
        yield
    finally:
        _flushing.reset(token)


def _sha256(value):
    return None if value is None else hashlib.sha256(value.encode("utf-8")).hexdigest()


def _alnum(value):
    return letters_and_digits(value or "")
