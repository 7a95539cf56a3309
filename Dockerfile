# Production image: gunicorn with threaded workers. Socket.IO runs in threading mode (eventlet is
# deprecated and gunicorn has no eventlet worker any more), hence gthread with one worker per process.
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
# One worker per process with threads; scale out with more containers behind a load balancer
# with sticky sessions, sharing Redis (REDIS_URL) as the Socket.IO message queue.
CMD ["gunicorn", "-k", "gthread", "--threads", "8", "-w", "1", "-b", "0.0.0.0:8000", "app:create_app()"]
