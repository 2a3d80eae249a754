"""What lets an operator see the pipeline run: error reporting (Sentry), Prometheus metrics, quota limits."""
