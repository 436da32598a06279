"""Background work written in the transaction that causes it: jobs, the worker, emails."""
