"""Who spoke when (diarization) and which speaker is the salesperson (roles)."""
