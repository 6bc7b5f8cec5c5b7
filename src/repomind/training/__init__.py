"""Fine-tuning from maintainers' feedback: datasets, the training queue, QLoRA, adapter promotion."""
