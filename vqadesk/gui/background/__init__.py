"""Work off the GUI thread: the inference process's client and request queue, the split reader
child process, and thread-pool tasks."""
