"""Report writers: JSON contract, HTML, Markdown, JUnit, metrics, the dated archive."""

from driftcheck.report.write import FORMATS, WrittenReports, parse_formats, write_reports

__all__ = ["FORMATS", "WrittenReports", "parse_formats", "write_reports"]
