"""glibc malloc settings for the local engine: applied where glibc is, a no-op elsewhere."""

import sys

import pytest

from rftkit.local import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_settings_apply_on_glibc_and_trim_runs():
    assert memory.tune_malloc() is True
    assert memory.tune_malloc() is True  # idempotent
    memory.release_free_memory()


def test_without_glibc_nothing_is_called(monkeypatch):
    monkeypatch.setattr(memory.ctypes.util, "find_library", lambda name: None)
    memory._libc.cache_clear()
    monkeypatch.setattr(memory, "_libc", memory._libc.__wrapped__)  # uncached while patched
    assert memory.tune_malloc() is False
    memory.release_free_memory()  # and no error


def test_the_threshold_is_8_mib_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv(memory.THRESHOLD_ENV, raising=False)
    assert memory.mmap_threshold() == 8 << 20
    monkeypatch.setenv(memory.THRESHOLD_ENV, "0")  # keep glibc's dynamic threshold
    assert memory.mmap_threshold() == 0
    monkeypatch.setenv(memory.THRESHOLD_ENV, "1048576")
    assert memory.mmap_threshold() == 1 << 20
    monkeypatch.setenv(memory.THRESHOLD_ENV, "8MB")
    with pytest.raises(ValueError, match="RFTKIT_MMAP_THRESHOLD must be a whole number"):
        memory.mmap_threshold()
