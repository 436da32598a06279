"""Staff accounts and what each role may do."""
