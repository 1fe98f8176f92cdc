"""Identity resolution: linking, clustering, the UID registry, the golden record."""
