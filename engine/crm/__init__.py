"""The CRM's pure logic: the ticket lifecycle and password hashing (no I/O, no database)."""
