"""The fake of the run-artifacts store (:class:`repomind.store.artifacts.Artifacts`): a dict in memory,
with the real stores' key checks."""

from __future__ import annotations

import threading

from repomind.store.artifacts import check_key, valid_name, valid_run_id


class MemoryArtifacts:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        #: Every ``put`` as ``(run_id, name)``, in order (the trajectory is put again as it grows).
        self.puts: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def put(self, run_id: str, name: str, data: bytes) -> None:
        check_key(run_id, name)
        with self._lock:
            self.files[(run_id, name)] = bytes(data)
            self.puts.append((run_id, name))

    def get(self, run_id: str, name: str) -> bytes | None:
        if not (valid_run_id(run_id) and valid_name(name)):
            return None
        with self._lock:
            return self.files.get((run_id, name))

    def names(self, run_id: str) -> list[str]:
        with self._lock:
            return sorted(n for r, n in self.files if r == run_id)

    def delete_run(self, run_id: str) -> int:
        with self._lock:
            gone = [key for key in self.files if key[0] == run_id]
            for key in gone:
                del self.files[key]
        return len(gone)
