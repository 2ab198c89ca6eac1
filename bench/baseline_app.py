"""The baseline: a bare Flask + SQLAlchemy endpoint that updates one row of the same table,
on the same database, served by the same gunicorn settings."""
import os

from flask import Flask, jsonify
from sqlalchemy import create_engine, text

app = Flask(__name__)
# The same pool settings as the app under test (config/settings.py defaults 10 + 30).
engine = create_engine(os.environ["DATABASE_URL"],
                       pool_size=int(os.environ.get("DB_POOL_SIZE", "10")),
                       max_overflow=int(os.environ.get("DB_MAX_OVERFLOW", "30")))


@app.post("/bare/<int:row_id>")
def bare(row_id: int):
    with engine.begin() as conn:
        conn.execute(text("UPDATE interviews SET updated_at = now() WHERE id = :id"),
                      {"id": row_id})
    return jsonify(ok=True)
