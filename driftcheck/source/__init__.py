"""Git side: opening repos, resolving revisions and moments, reading trees at a commit, rendering."""
