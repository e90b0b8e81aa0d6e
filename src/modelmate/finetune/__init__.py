"""Fine-tuning on the server side: base models in the catalog, training runs (API, CLI) and the ``train`` job that
runs the trainer (:mod:`modelmate.training`) in a child process group."""
