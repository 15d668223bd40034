"""The gevent shell that runs hotline: call sessions, the ACD shell, the engine lifecycle."""
