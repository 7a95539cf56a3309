"""Development server: `python run.py` (HOST, default 127.0.0.1; PORT, default 5000).
Production runs gunicorn (see the Dockerfile)."""
import os

from app import create_app
from app.extensions import socketio

app = create_app()

if __name__ == "__main__":
    socketio.run(
        app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5000")),
        debug=False, allow_unsafe_werkzeug=True,
    )
