"""kill -9 durability tests of the storage backends (child processes killed mid-write)."""
