"""The Training tab: a form that starts ``training/`` routines as processes, their live curves,
the runs list, the probe, and the run folders on disk."""
