//! The HTML frame every mesascope page shares: one style sheet (laid out so that charts,
//! tables and code blocks never run off the right edge at common widths), escaping, and the
//! `mean [lo, hi] (n = …)` way of writing an estimate.

use crate::stats::Estimate;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `mean [lo, hi] (n = …)`, as percentages when `percent`; an interval that could not be
/// computed is written as such instead of `[NaN, NaN]`.
pub fn fmt_estimate(e: &Estimate, percent: bool) -> String {
    let (scale, unit, digits) = if percent { (100.0, "%", 1) } else { (1.0, "", 2) };
    if e.mean.is_nan() {
        return format!("not measured (n = {})", e.n);
    }
    if e.lo.is_finite() && e.hi.is_finite() {
        format!("{:.*}{unit} [{:.*}, {:.*}] (n = {})", digits, scale * e.mean, digits, scale * e.lo, digits, scale * e.hi, e.n)
    } else {
        format!("{:.*}{unit} (no interval, n = {})", digits, scale * e.mean, e.n)
    }
}

/// The shared style sheet. Wide content scrolls inside its own box (`.wide`, `pre`) and
/// charts shrink with the page, so nothing overflows the viewport.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}\
.verdict{font-size:1.5em;padding:.6em 1em;border-radius:6px;background:#eef3fa;border-left:6px solid #3465a4}\
.verdict.bad{background:#fbeeee;border-left-color:#a40000}\
table{border-collapse:collapse}td,th{padding:.25em .8em;border-bottom:1px solid #eee;text-align:left}\
.wide{max-width:100%;overflow-x:auto}\
svg{max-width:100%;height:auto}\
pre{background:#f6f6f6;padding:1em;font-size:.8em;max-width:100%;overflow-x:auto;white-space:pre-wrap;word-break:break-word}\
.flagged{color:#a40000;font-weight:bold}\
figure{display:inline-block;margin:.5em;text-align:center;font-size:.85em;max-width:100%}.na{color:#777}";

/// A self-contained page (inline style, no external files) with `title` and `body`.
pub fn frame(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// A table wrapped so that it scrolls sideways inside the page when it is wider than the page.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut h = String::from("<div class=\"wide\"><table><tr>");
    for c in header {
        h.push_str(&format!("<th>{}</th>", escape(c)));
    }
    h.push_str("</tr>");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            h.push_str(&format!("<td>{c}</td>"));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></div>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_written_with_their_interval_or_say_they_have_none() {
        let e = Estimate { mean: 0.5, lo: 0.25, hi: 0.75, n: 8 };
        assert_eq!(fmt_estimate(&e, true), "50.0% [25.0, 75.0] (n = 8)");
        assert_eq!(fmt_estimate(&e, false), "0.50 [0.25, 0.75] (n = 8)");
        assert_eq!(fmt_estimate(&Estimate::single(2.0), false), "2.00 (no interval, n = 1)");
        let page = frame("a <b>", "<p>x</p>");
        assert!(page.contains("<title>a &lt;b&gt;</title>") && page.ends_with("<p>x</p></body></html>"));
        assert!(table(&["h"], &[vec!["1".into()]]).contains("<td>1</td>"));
    }
}
