"""Prompts: a versioned prompt directory, strict `{{ var }}` rendering, the prompt lock,
syrupy snapshots of rendered prompts and app outputs, and lineage in reports."""
