"""Content-addressed, immutable file store under ``settings.artifacts_dir``.

Files are named by the sha256 of their bytes (``<namespace>/<sha256><suffix>``, e.g. ``datasets/ab12….jsonl``);
no user-supplied text is ever part of a path. Writes go to a temporary file in the same folder, are fsynced and
moved into place with ``os.replace`` (readers never see half a file); writing bytes that are already stored is a
no-op (dedup). Uploads are first copied, size-capped, into ``tmp/`` and always removed afterwards.
"""

from modelmate.storage.content import ContentStore, StoredObject, StoreError, TooLarge

__all__ = ["ContentStore", "StoreError", "StoredObject", "TooLarge"]
