"""hotline: a contact-centre engine for FreeSWITCH."""
