"""The service's moving parts: workers that analyse queued calls, webhook delivery."""
