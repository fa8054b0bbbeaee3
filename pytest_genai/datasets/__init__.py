"""Datasets: the `Case` model, the file formats, and turning a dataset into one test per case.
Import the submodule you need; nothing here is imported when the plugin loads."""
