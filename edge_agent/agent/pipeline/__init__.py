"""The message pipeline: bounded queues, the validate stage and its workers, the capture writer (group
commit, then acknowledgement), and the processor slots after capture."""
