"""Storage for the service: SQLAlchemy models, migrations, the job queue, audio files, API keys.

SQLite (a file in the data directory) is the default; PostgreSQL is supported. The schema is
created and changed only by the Alembic migrations in ``migrations/`` (``callintel db upgrade``).
"""
