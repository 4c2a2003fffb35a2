"""The journal: every pass of ``apply`` and ``watch``, and every action, kept in SQLite.

Role: principle 9 ("everything done is remembered"). ``values`` holds the
write side's values (outcomes, notes, problems, health), ``records`` the frozen
values the read side returns, ``store`` the SQLite file (WAL, schema versions and
migrations, corruption handling, retention), ``writer`` turns a typed
``controller.execution.result.PassResult`` into rows and never lets a journal
problem stop a pass, ``query`` is the read API (``history``, ``why``, the
dashboard). ``sqlite3`` is imported only by ``store``, and ``store`` only when a
journal is written or read, so one-shot commands that do neither stay lean.
"""
