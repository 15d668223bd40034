"""The FreeSWITCH Event Socket protocol, sans-IO: frames parsed and built in one place."""
