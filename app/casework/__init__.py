"""The staff side of a request: decisions, the queue, its export, figures, charts, reminders."""
