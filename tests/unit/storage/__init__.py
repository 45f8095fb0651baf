"""Unit tests of nimbus.storage: every contract against the in-memory and the embedded backends."""
