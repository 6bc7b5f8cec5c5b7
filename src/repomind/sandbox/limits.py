"""Resource limits applied to every sandboxed command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Limits:
    """What one sandboxed command may use.

    ``timeout_s`` is wall-clock: the command is killed when it runs out. ``output_bytes`` caps what is kept
    of each of stdout and stderr (the head and the tail are kept, the middle is dropped and counted).
    The steps after the command (the OOM probe, reading a report file, the diff) each get
    ``after_timeout_s`` and read at most ``readback_bytes``: the command can make them slow or huge.
    """

    memory_bytes: int = 2 * GIB
    cpus: float = 1.0
    pids: int = 256
    timeout_s: float = 600.0
    output_bytes: int = 1 * MIB
    tmp_bytes: int = 512 * MIB
    after_timeout_s: float = 60.0
    readback_bytes: int = 32 * MIB

    def __post_init__(self) -> None:
        if self.memory_bytes < 16 * MIB:
            raise ValueError("memory limit must be at least 16 MiB")
        if self.cpus <= 0:
            raise ValueError("cpus must be positive")
        if self.pids < 8:
            raise ValueError("pids limit must be at least 8")
        if self.timeout_s <= 0:
            raise ValueError("timeout must be positive")
        if self.output_bytes < 1024:
            raise ValueError("output cap must be at least 1 KiB")
        if self.after_timeout_s <= 0:
            raise ValueError("the timeout of the steps after the command must be positive")
        if self.readback_bytes < 1024:
            raise ValueError("the read-back cap must be at least 1 KiB")

    def confinement(self) -> dict[str, Any]:
        """The docker ``containers.create`` options that confine every sandbox container, the setup
        container included: no capabilities, no privilege gain, these memory (no swap), CPU and pids
        limits, and a stop that kills."""
        return {
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "mem_limit": self.memory_bytes,
            "memswap_limit": self.memory_bytes,
            "nano_cpus": int(self.cpus * 1e9),
            "pids_limit": self.pids,
            "stop_signal": "SIGKILL",
        }
