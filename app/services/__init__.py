"""Every business rule lives here; views, API, jobs and CLI call these functions."""
