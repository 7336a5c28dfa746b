"""Speech to timed words: faster-whisper, cleaned of Whisper's known hallucinations."""
