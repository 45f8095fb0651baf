"""STS: GetCallerIdentity and temporary credentials (AssumeRole, GetSessionToken, GetFederationToken)."""
