"""The Batch tab: caption or question a folder, a split or a selection, and review the results."""
