"""The web console under ``/_nimbus/console/``: a client of the AWS API, like the CLI (see app.py)."""
