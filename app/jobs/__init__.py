"""Background jobs: RQ on Redis when ``REDIS_URL`` is set, otherwise run in-process at once."""
from app.jobs.queue import InlineJob, enqueue, redis_status

__all__ = ["InlineJob", "enqueue", "redis_status"]
