"""Is the installation working? Start-up and health checks, the processes' heartbeats, Prometheus metrics.

Read-only figures and liveness; the domain packages above write what these read.
"""
