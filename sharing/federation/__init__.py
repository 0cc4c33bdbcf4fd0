"""Federation with peer hubs (discovery, catalogs, forwarded requests): arrives with issue 5."""
