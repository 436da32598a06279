"""Background work written in the transaction that causes it: jobs, the worker, emails."""

# The heartbeat table is declared beside the worker; importing it here puts it in
# the metadata whenever the outbox is used (migrations, tests, the app).
from app.outbox import heartbeat as heartbeat
