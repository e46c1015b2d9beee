"""The broker process: request handling, produce/fetch purgatories, replica fetchers, log tasks,
and the broker-side services it hosts (the group coordinator)."""
