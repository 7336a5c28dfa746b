"""The project's own models: corpus generator, tokenizer, training, evaluation."""
