"""The regulators' service: accounts and jurisdictions, the audit trail, sealed months, and
the web pages staff use (`riskclass serve`)."""
