"""The hub: model pages, publishing, feedback, downloads, the Hugging Face compatible endpoint, lineage."""
