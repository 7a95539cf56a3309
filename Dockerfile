# Production image: gunicorn with one gevent worker per process: Socket.IO runs in gevent mode on its
# event loop (SOCKETIO_ASYNC_MODE=auto sees gunicorn's monkey-patching), which holds a thousand open
# WebSockets in one process (README "Running on real services"; threading mode wakes a thread per
# connection for every broadcast). On SQL Server (pyodbc does not yield to gevent) use
# `-k gthread --threads 8` instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    INSTANCE_PATH=/var/lib/clinic FLASK_APP=app:create_app
WORKDIR /srv/clinic

RUN apt-get update && apt-get install -y --no-install-recommends unixodbc tdsodbc \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# The compiled translations are not in git (.gitignore): build them from the .po files.
RUN pybabel compile -d app/translations && pybabel compile -d app/translations/fab
RUN useradd --system --home /var/lib/clinic clinic && mkdir -p /var/lib/clinic && chown clinic /var/lib/clinic
USER clinic

EXPOSE 8000
# One worker per process (Socket.IO needs that), up to 2,000 connections; scale out with more
# containers behind a load balancer with sticky sessions, sharing Redis (REDIS_URL) as the Socket.IO
# message queue.
CMD ["gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "2000", "-b", "0.0.0.0:8000", "app:create_app()"]
