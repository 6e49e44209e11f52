"""A hostile remctl server for tests: it completes a real GSS-API context with
the test realm's service keytab (python-gssapi as acceptor), then misbehaves
on purpose, one way per listening port.

- :mod:`hostile.cases` describes every case: what the server does, what the
  client does, and the error the client must report.
- :mod:`hostile.server` runs all cases in a child process
  (``python3 -m hostile.server``) and is started by ``tests/test_hostile.py``.
"""
