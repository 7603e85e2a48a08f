"""The `make bench` table, its targets and notes, from the results of the sections."""
