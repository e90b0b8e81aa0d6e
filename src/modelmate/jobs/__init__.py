"""Durable background jobs: a queue in the ``jobs`` table, leases with fencing tokens, an in-process worker.

Write the Job row first, then execute. A worker claims a job (lease owner + expiry, fencing token + 1), keeps
the lease alive with heartbeats that only succeed while its token is current, and completes or fails the job
with the same token. Expired leases are reclaimed: re-queued (the next claim is attempt + 1) or failed as
"worker lost" when the attempts are spent. Handlers are registered by kind (:mod:`modelmate.jobs.registry`).
"""
