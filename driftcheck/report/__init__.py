"""Report writers: JSON contract, HTML, Markdown, JUnit, metrics, the dated archive."""
