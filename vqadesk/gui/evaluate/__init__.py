"""The Evaluate tab (tab.py): run an evaluation, list the results, the Summary, Mistakes and Compare views."""
