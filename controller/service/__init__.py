"""Service: the watch loop, its triggers, queue, backoff, lock, git source, HTTP endpoints and
metrics."""
