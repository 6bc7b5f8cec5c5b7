"""A byte buffer that keeps the head and the tail of a stream and counts what it dropped."""

from __future__ import annotations


class CappedBuffer:
    """Keep at most ``cap`` bytes: the first half and the last half of everything written."""

    def __init__(self, cap: int) -> None:
        self._head_cap = cap // 2
        self._tail_cap = cap - self._head_cap
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            if len(self._tail) > self._tail_cap:
                del self._tail[: len(self._tail) - self._tail_cap]

    @property
    def dropped(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    def getvalue(self) -> bytes:
        return bytes(self._head) + bytes(self._tail)

    def text(self) -> str:
        """The kept output as text, with a marker where bytes were dropped."""
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if not self.dropped:
            return head + tail
        return f"{head}\n[... {self.dropped} bytes dropped ...]\n{tail}"


def cap_text(text: str, cap: int) -> str:
    """``text`` cut to about ``cap`` characters: its head and tail, with a marker where it was cut."""
    if len(text) <= cap:
        return text
    head, tail = text[: cap // 2], text[len(text) - cap // 2 :]
    return f"{head}\n[... {len(text) - len(head) - len(tail)} characters dropped ...]\n{tail}"
