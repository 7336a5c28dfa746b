"""Audio in and out: decoding any recording to 16 kHz float32 channels, encoding FLAC."""
